"""Chapter 08's package: alignment, the two-headed model on a frozen base, freezing modes, loss, scores, verdicts."""
from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from textrnn_lab import multitask as mt
from textrnn_lab.errors import CourseError, HubUnavailable
from textrnn_lab.layers.pretrained import default_encoder_path, tiny_bert


@pytest.fixture(scope="module")
def tokenizer():
    from textrnn_lab.runtime.quiet import import_transformers

    return import_transformers().AutoTokenizer.from_pretrained(str(default_encoder_path()), local_files_only=True)


@pytest.fixture(scope="module")
def encoder():
    model = tiny_bert(hidden=32, layers=3, heads=2, seed=0)
    return model.eval()


def _frame(n=12):
    rows = []
    names = [("Arnold", "Schwarzenegger"), ("Peter", "Jackson"), ("Kofi", "Annan")]
    for i in range(n):
        first, last = names[i % 3]
        words = [first, last, "visited", "Mosul", "and", "loved", "it"] + ["!"] * (i % 4)
        tags = ["B-PER", "I-PER", "O", "B-LOC", "O", "O", "O"] + ["O"] * (i % 4)
        rows.append({"id": f"x-{i}", "domain": "movie" if i % 2 else "tweet", "rating": 1.0,
                     "label": "positive" if i % 3 else "negative", "text": " ".join(words), "words": words,
                     "tags": tags})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- alignment


def test_align_labels_on_words_the_tokenizer_splits(tokenizer):
    words = ["Schwarzenegger", "loves", "Mosul"]
    encoding = tokenizer(words, is_split_into_words=True)
    ids = encoding.word_ids()
    assert ids.count(0) >= 2 and ids.count(2) >= 2  # both names are split into pieces
    labels = mt.align_labels(ids, mt.tag_ids(["B-PER", "O", "B-LOC"]))
    assert len(labels) == len(ids)
    firsts = [i for i, w in enumerate(ids) if w is not None and (i == 0 or ids[i - 1] != w)]
    assert [labels[i] for i in firsts] == [mt.TAG_TO_ID["B-PER"], 0, mt.TAG_TO_ID["B-LOC"]]
    assert all(labels[i] == -100 for i in range(len(ids)) if i not in firsts)


def test_align_labels_truncated_and_padded():
    assert mt.align_labels([None, 0, 1, 1, None, None], [3, 4]) == [-100, 3, 4, -100, -100, -100]
    assert mt.align_labels([None, 0, 0, None], [2, 7]) == [-100, 2, -100, -100]  # word 1 cut off
    with pytest.raises(CourseError, match="has no tag"):
        mt.align_labels([None, 0, 1, None], [2])
    with pytest.raises(CourseError, match="not a tag"):
        mt.tag_ids(["B-PERSON"])


def test_word_predictions_read_the_first_piece_and_default_to_O():
    predicted = [0, 1, 2, 2, 0, 0]
    assert mt.word_predictions([None, 0, 0, 1, 1, None], predicted, 3) == ["B-PER", "I-PER", "O"]


def test_encode_sentences(tokenizer):
    frame = _frame()
    encoded = mt.encode_sentences(tokenizer, frame, ("negative", "positive"), max_length=12)
    n, t = encoded.input_ids.shape
    assert n == len(frame) and t <= 12 and encoded.token_labels.shape == (n, t)
    assert encoded.sentence_labels.tolist() == [int(label == "positive") for label in frame["label"]]
    kept = sum(len({w for w in ids if w is not None}) for ids in encoded.word_ids)
    assert int((encoded.token_labels != -100).sum()) == kept
    assert encoded.truncated_words == sum(len(w) for w in encoded.words) - kept > 0
    with pytest.raises(CourseError, match="not among the classes"):
        mt.encode_sentences(tokenizer, frame, ("negative",))
    with pytest.raises(CourseError, match="no sentences"):
        mt.encode_sentences(tokenizer, frame.iloc[:0], ("negative", "positive"))


# --------------------------------------------------------------------------- the model


def test_mean_pool_leaves_padding_out():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    assert torch.allclose(mt.mean_pool(hidden, torch.tensor([[1, 1, 0]])), torch.tensor([[2.0, 3.0]]))
    assert torch.equal(mt.mean_pool(hidden, torch.zeros(1, 3)), torch.zeros(1, 2))


def test_base_plus_tuned_layers_is_the_whole_encoder(tokenizer, encoder):
    encoded = mt.encode_sentences(tokenizer, _frame(), ("negative", "positive"), max_length=16)
    full = encoder(input_ids=encoded.input_ids, attention_mask=encoded.attention_mask).last_hidden_state
    for tuned in (0, 1, 3):
        base = mt.base_states(encoder, encoded.input_ids, encoded.attention_mask, layers=3 - tuned, batch_size=5)
        model = mt.MultiTaskModel.from_encoder(encoder, mt.MultiTaskConfig(hidden_size=32, tuned_layers=tuned),
                                               seed=0).eval()
        out = model.encode(base, encoded.attention_mask)
        real = encoded.attention_mask.bool()
        assert torch.allclose(out[real], full[real], atol=1e-5), tuned
    assert base.shape == (*encoded.input_ids.shape, 32)
    with pytest.raises(CourseError, match="cannot be 4"):
        mt.base_states(encoder, encoded.input_ids, encoded.attention_mask, layers=4)


def test_shapes_and_the_layers_are_copies(tokenizer, encoder):
    model = mt.MultiTaskModel.from_encoder(encoder, mt.MultiTaskConfig(hidden_size=32, tuned_layers=1), seed=0)
    assert model.encoder[0] is not encoder.encoder.layer[-1]
    sentence, token = model(torch.randn(3, 7, 32), torch.ones(3, 7, dtype=torch.long))
    assert sentence.shape == (3, 2) and token.shape == (3, 7, len(mt.TAGS))
    with pytest.raises(CourseError, match="too many"):
        mt.MultiTaskModel.from_encoder(encoder, mt.MultiTaskConfig(hidden_size=32, tuned_layers=4))
    with pytest.raises(CourseError, match="hidden size"):
        mt.MultiTaskModel.from_encoder(encoder, mt.MultiTaskConfig(tuned_layers=1))


@pytest.mark.parametrize("mode", list(mt.FREEZE_MODES))
def test_freezing_modes_set_requires_grad_per_part(encoder, mode):
    model = mt.MultiTaskModel.from_encoder(encoder, mt.MultiTaskConfig(hidden_size=32, tuned_layers=1), seed=0)
    model.freeze(mode).train()
    for part in mt.PARTS:
        flags = {p.requires_grad for p in model.part(part).parameters()}
        assert flags == {part not in mt.FREEZE_MODES[mode]}, (mode, part)
    assert model.encoder.training == ("encoder" not in mt.FREEZE_MODES[mode])
    assert model.sentence_head.training
    assert model.trainable_parameters() == sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_unknown_mode_is_a_clear_error(encoder):
    model = mt.MultiTaskModel.from_encoder(encoder, mt.MultiTaskConfig(hidden_size=32, tuned_layers=1))
    with pytest.raises(CourseError, match="unknown freezing mode") as info:
        model.freeze("heads")
    assert "nothing" in info.value.hint
    with pytest.raises(CourseError, match="unknown freezing mode"):
        mt.MultiTaskTrainConfig(freeze="all")


# --------------------------------------------------------------------------- the loss


def test_multitask_loss_is_the_weighted_sum_over_labelled_pieces():
    gen = torch.Generator().manual_seed(0)
    s, t = torch.randn(3, 2, generator=gen), torch.randn(3, 4, 9, generator=gen)
    sl, tl = torch.tensor([0, 1, 1]), torch.randint(0, 9, (3, 4), generator=gen)
    tl[:, 0] = -100
    keep = tl != -100
    token = F.cross_entropy(t[keep], tl[keep])
    expected = 0.5 * F.cross_entropy(s, sl) + 2.0 * token
    assert torch.allclose(mt.multitask_loss(s, t, sl, tl, (0.5, 2.0)), expected)
    total, sentence, token_part = mt.loss_parts(s, t, sl, tl, (0.5, 2.0))
    assert torch.allclose(token_part, token) and torch.allclose(total, expected)


def test_a_batch_without_labelled_pieces_adds_zero_not_nan():
    s = torch.zeros(2, 2, requires_grad=True)
    t = torch.zeros(2, 3, 9, requires_grad=True)
    loss = mt.multitask_loss(s, t, torch.tensor([0, 1]), torch.full((2, 3), -100))
    assert math.isclose(float(loss.detach()), math.log(2), rel_tol=1e-6)
    loss.backward()
    assert t.grad is not None and float(t.grad.abs().max()) == 0.0


# --------------------------------------------------------------------------- training and scores


@pytest.fixture(scope="module")
def tiny_data(tokenizer, encoder):
    frame = _frame(24)
    train = mt.encode_sentences(tokenizer, frame.iloc[:16], ("negative", "positive"), max_length=16)
    test = mt.encode_sentences(tokenizer, frame.iloc[16:], ("negative", "positive"), max_length=16)
    bases = [mt.base_states(encoder, e.input_ids, e.attention_mask, layers=2) for e in (train, test)]
    return train, test, bases


@pytest.mark.parametrize("mode", list(mt.FREEZE_MODES))
def test_a_frozen_part_does_not_move_and_the_others_do(encoder, tiny_data, mode):
    train, test, (train_base, test_base) = tiny_data
    config = mt.MultiTaskTrainConfig(freeze=mode, max_steps=4, batch_size=4)
    run = mt.train_multitask(encoder, train_base, train, {"in": (test_base, test)}, config,
                             mt.MultiTaskConfig(hidden_size=32, tuned_layers=1), seed=0, device="cpu")
    for part in mt.PARTS:
        if part in mt.FREEZE_MODES[mode]:
            assert run.changes[part] == 0.0, (mode, part)
        else:
            assert run.changes[part] > 0.0, (mode, part)
    assert set(run.scores["in"]) == {"sentence_acc", "entity_f1"}
    if mode == "everything":
        assert run.trainable == 0 and not run.history.steps and "no step" in run.note
    else:
        assert run.history.num_steps == 4 and run.history.steps[0]["token_loss"] > 0


def test_training_lowers_the_token_loss(encoder, tiny_data):
    train, test, (train_base, test_base) = tiny_data
    config = mt.MultiTaskTrainConfig(freeze="nothing", max_steps=40, batch_size=8, lr=5e-3, encoder_lr=1e-3)
    run = mt.train_multitask(encoder, train_base, train, {"in": (test_base, test)}, config,
                             mt.MultiTaskConfig(hidden_size=32, tuned_layers=1), seed=0, device="cpu")
    losses = run.history.per_step("token_loss")
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
    assert run.scores["in"]["entity_f1"] > 0.5  # the same two names and one place in every sentence


def test_seqeval_scores_and_baselines(tokenizer):
    truth = [["B-PER", "I-PER", "O", "B-LOC"]]
    assert mt.entity_f1(truth, truth) == 1.0
    assert mt.entity_f1(truth, [["B-PER", "O", "O", "B-LOC"]]) == 0.5  # the person's end is wrong
    encoded = mt.encode_sentences(tokenizer, _frame(), ("negative", "positive"), max_length=16)
    majority = mt.majority_baselines(encoded, encoded)
    assert majority["entity_f1"] == 0.0 and 0.5 <= majority["sentence_acc"] <= 1.0
    assert mt.lookup_baseline(encoded, encoded) == 1.0  # every word keeps one tag in this toy set


def test_paired_difference_tells_noise_from_an_effect():
    real = mt.paired_difference([0.61, 0.63, 0.60], [0.55, 0.58, 0.56])
    assert real.real and real.sign == 1 and real.verdict() == "higher"
    assert real.describe().startswith("+5.0 +- ")
    noise = mt.paired_difference([0.61, 0.55, 0.60], [0.58, 0.59, 0.57])
    assert not noise.real and noise.verdict() == "within noise"
    few = mt.paired_difference([0.9], [0.1])
    assert not few.real and "too few seeds" in few.verdict()
    with pytest.raises(CourseError, match="equally long"):
        mt.paired_difference([1.0, 2.0], [1.0])


# --------------------------------------------------------------------------- data by name, and the split


def test_split_by_domain_keeps_the_new_domain_out_of_training():
    frame = mt.load_tagged_sentences()
    train, test_in, test_out = mt.split_by_domain(frame, ["movie", "nyt", "amazon"], ["tweet"], seed=0,
                                                  max_train=500, max_test=100)
    assert len(train) == 500 and len(test_in) == len(test_out) == 100
    assert set(train["domain"]) <= {"movie", "nyt", "amazon"} and set(test_out["domain"]) == {"tweet"}
    assert not set(train["id"]) & set(test_in["id"])
    with pytest.raises(CourseError, match="both in-domain and out-of-domain"):
        mt.split_by_domain(frame, ["tweet"], ["tweet"])
    with pytest.raises(CourseError, match="no sentences of domain"):
        mt.split_by_domain(frame, ["reddit"], ["tweet"])


def test_hub_names_offline_name_the_shipped_set(monkeypatch):
    monkeypatch.setenv("TEXTRNN_LAB_ASSUME_OFFLINE", "1")
    with pytest.raises(HubUnavailable) as info:
        mt.load_tagged_sentences("ag_news")
    assert 'load_tagged_sentences("ner")' in info.value.hint
    with pytest.raises(CourseError, match="unknown tagged dataset"):
        mt.load_tagged_sentences("nothing_like_it")
