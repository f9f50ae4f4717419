"""Chapter 06's package: the numbers task, the encoder-decoder, decoding, training by length."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from textrnn_lab.errors import CourseError
from textrnn_lab.seq2seq import (
    NumberWordsTask,
    Seq2Seq,
    Seq2SeqConfig,
    Seq2SeqTaskConfig,
    TokenVocab,
    beam_search,
    default_model_config,
    evaluate_by_length,
    greedy_decode,
    number_to_words,
    prune_beams,
    register_attention,
    sequence_loss,
    source_tokens,
    teacher_forced_accuracy,
    train_seq2seq,
)
from textrnn_lab.seq2seq import model as model_module

# --------------------------------------------------------------------------- task


@pytest.mark.parametrize("n, words", [
    (0, "zero"), (7, "seven"), (13, "thirteen"), (40, "forty"), (42, "forty-two"), (100, "one hundred"),
    (305, "three hundred five"), (1000, "one thousand"), (1_000_001, "one million one"),
    (305_042, "three hundred five thousand forty-two"),
    (999_999_999, "nine hundred ninety-nine million nine hundred ninety-nine thousand nine hundred ninety-nine"),
])
def test_number_to_words(n, words):
    assert number_to_words(n) == words


def test_british_and_is_optional_and_only_where_english_puts_it():
    rng = np.random.default_rng(0)
    assert number_to_words(305, rng, and_prob=1.0) == "three hundred and five"
    assert number_to_words(1005, rng, and_prob=1.0) == "one thousand and five"
    assert number_to_words(300, rng, and_prob=1.0) == "three hundred"


def test_number_to_words_rejects_bad_numbers():
    for bad in (-1, 10 ** 15, 1.5, True):
        with pytest.raises(CourseError):
            number_to_words(bad)


def test_words_can_be_parsed_back():
    """Every word of a written number is in the source vocabulary (no <unk> ever)."""
    task = NumberWordsTask(Seq2SeqTaskConfig(max_digits=12, and_prob=0.5))
    sources, targets = task.sample(300, np.random.default_rng(1))
    for s, t in zip(sources, targets):
        assert task.src_vocab.unk_id not in task.src_vocab.encode(source_tokens(s))
        assert t.isdigit() and (t == "0" or not t.startswith("0"))


def test_lengths_are_uniform_and_within_range():
    task = NumberWordsTask(Seq2SeqTaskConfig(min_digits=2, max_digits=5))
    _, targets = task.sample(2000, np.random.default_rng(0))
    counts = np.bincount([len(t) for t in targets], minlength=6)
    assert counts[:2].sum() == 0 and all(400 < c < 600 for c in counts[2:])


def test_test_set_is_reproducible_and_held_out_of_training():
    task = NumberWordsTask(Seq2SeqTaskConfig(max_digits=6))
    test = task.test_set(50)
    assert test == NumberWordsTask(Seq2SeqTaskConfig(max_digits=6)).test_set(50)
    held = {int(t) for d, (_, ts) in test.items() if d >= 5 for t in ts}
    _, train = task.sample(5000, np.random.default_rng(0), digits=5)
    assert held and not held & {int(t) for t in train}


def test_batch_shapes_shift_and_masks():
    task = NumberWordsTask()
    batch = task.batch(["forty-two", "three hundred and five thousand"], ["42", "305000"])
    assert batch.src.shape == (2, 5) and batch.src_lengths.tolist() == [2, 5]
    assert batch.src_mask.tolist() == [[True, True, False, False, False], [True] * 5]
    v = task.tgt_vocab
    assert batch.tgt_in[0].tolist()[:3] == [v.bos_id, v.stoi["4"], v.stoi["2"]]
    assert batch.tgt_out[0].tolist()[:3] == [v.stoi["4"], v.stoi["2"], v.eos_id]
    assert batch.tgt_mask.sum(1).tolist() == [3, 7]
    assert (batch.tgt_out[~batch.tgt_mask] == v.pad_id).all()
    assert batch.tgt_in[1, 1:].tolist() == batch.tgt_out[1, :-1].tolist()  # the same digits, shifted by one


def test_bad_task_inputs_are_clear_errors():
    with pytest.raises(CourseError, match="digits"):
        Seq2SeqTaskConfig(min_digits=4, max_digits=3)
    with pytest.raises(CourseError, match="as many targets"):
        NumberWordsTask().batch(["one"], [])
    with pytest.raises(CourseError, match="empty source"):
        NumberWordsTask().batch(["!!"], ["1"])


def test_token_vocab_specials_and_roundtrip():
    v = TokenVocab(["a", "b", "a", "<pad>"])
    assert (v.pad_id, v.bos_id, v.eos_id, v.unk_id) == (0, 1, 2, 3) and len(v) == 6
    assert v.encode(["b", "zz"], bos=True, eos=True) == [1, 5, 3, 2]
    assert v.decode([1, 4, 5, 2, 4]) == ["a", "b"]
    assert TokenVocab.from_dict(v.to_dict()) == v
    with pytest.raises(CourseError):
        TokenVocab.from_dict({"format": "nope"})


# --------------------------------------------------------------------------- model


def _model(seed=0, **overrides):
    torch.manual_seed(seed)
    task = NumberWordsTask(Seq2SeqTaskConfig(max_digits=6))
    return task, Seq2Seq(default_model_config(task, embed_dim=8, hidden_size=16, **overrides))


def _batch(task, n=6, seed=0):
    return task.batch(*task.sample(n, np.random.default_rng(seed)))


def test_encoder_reads_the_last_real_token_not_padding():
    task, model = _model()
    one = task.batch(["forty-two"], ["42"])
    padded = task.batch(["forty-two", "three hundred and five thousand"], ["42", "305000"])
    out1, state1 = model.encoder(one.src, one.src_lengths)
    out2, state2 = model.encoder(padded.src, padded.src_lengths)
    assert out2.shape == (2, 5, 16) and state2.shape == (1, 2, 16)
    torch.testing.assert_close(state2[:, 0], state1[:, 0])
    assert (out2[0, 2:] == 0).all()


def test_teacher_forced_fast_path_equals_stepping():
    task, model = _model(num_layers=2)
    batch = _batch(task)
    enc, state, mask = model.encode(batch.src, batch.src_lengths)
    fast, _ = model.decoder(batch.tgt_in, state, enc, mask)           # one GRU call over all steps
    steps = []
    for t in range(batch.tgt_in.shape[1]):
        logits, state, weights = model.decoder.step(batch.tgt_in[:, t], state, enc, mask)
        assert weights is None
        steps.append(logits)
    torch.testing.assert_close(fast, torch.stack(steps, 1), rtol=1e-5, atol=1e-6)


def test_free_running_feeds_back_the_argmax():
    task, model = _model()
    batch = _batch(task)
    logits = model(batch.src, batch.src_lengths, batch.tgt_in, teacher_forcing_ratio=0.0)
    fed = torch.cat([batch.tgt_in[:, :1], logits.argmax(-1)[:, :-1]], dim=1)
    again = model(batch.src, batch.src_lengths, fed)                 # teacher forcing on its own predictions
    torch.testing.assert_close(logits, again, rtol=1e-5, atol=1e-6)
    with pytest.raises(CourseError, match="teacher_forcing_ratio"):
        model(batch.src, batch.src_lengths, batch.tgt_in, teacher_forcing_ratio=1.5)


class _MeanAttention(nn.Module):
    """A stand-in attention: uniform weights over the real source positions."""

    def forward(self, query, keys, mask):
        w = mask.float() / mask.float().sum(1, keepdim=True)           # [B, S]
        return torch.einsum("bs,bsh->bh", w, keys), w


def test_an_attention_module_plugs_in_through_the_contract():
    task = NumberWordsTask(Seq2SeqTaskConfig(max_digits=6))
    config = default_model_config(task, embed_dim=8, hidden_size=16)
    model = Seq2Seq(config, attention=_MeanAttention())
    batch = _batch(task)
    logits, weights = model(batch.src, batch.src_lengths, batch.tgt_in, return_attention=True)
    assert logits.shape[:2] == batch.tgt_in.shape and weights.shape == (*batch.tgt_in.shape, batch.src.shape[1])
    assert (weights[~batch.src_mask[:, None, :].expand_as(weights)] == 0).all()
    result = greedy_decode(model, batch.src, batch.src_lengths, max_len=5)
    assert len(result.attention) == 6 and result.attention[0].shape[1] == int(batch.src_lengths[0])
    beams = beam_search(model, batch.src, batch.src_lengths, beam_size=3, max_len=5)
    assert beams.attention is not None and len(beams.tokens) == 6


def test_attention_by_name_needs_registration():
    task = NumberWordsTask()
    with pytest.raises(CourseError, match="no attention registered"):
        Seq2Seq(default_model_config(task, attention="mean-test"))
    register_attention("mean-test", lambda config: _MeanAttention())
    try:
        assert Seq2Seq(default_model_config(task, attention="mean-test")).has_attention
    finally:
        model_module.ATTENTION.pop("mean-test")


def test_bad_model_config_is_a_clear_error():
    with pytest.raises(CourseError, match="hidden_size"):
        Seq2SeqConfig(10, 10, hidden_size=0)
    with pytest.raises(CourseError, match="ids of the target"):
        Seq2SeqConfig(10, 2)


def test_sequence_loss_ignores_padding():
    logits = torch.randn(2, 3, 5)
    target = torch.tensor([[1, 2, 0], [3, 0, 0]])
    mask = target != 0
    loss, extras = sequence_loss(logits, target, mask)
    want = torch.nn.functional.cross_entropy(logits[mask], target[mask])
    torch.testing.assert_close(loss, want)
    garbage = logits.clone()
    garbage[~mask] = 100.0
    torch.testing.assert_close(sequence_loss(garbage, target, mask)[0], want)


# --------------------------------------------------------------------------- decoding


def test_prune_beams_keeps_the_best_extensions():
    scores = torch.tensor([[-1.0, -2.0]])
    log_probs = torch.log(torch.tensor([[[0.1, 0.6, 0.3], [0.8, 0.1, 0.1]]]))
    new, parents, tokens = prune_beams(scores, log_probs, 2)
    # totals: beam 0: -3.30, -1.51, -2.20; beam 1: -2.22, -4.30, -4.30
    assert parents.tolist() == [[0, 0]] and tokens.tolist() == [[1, 2]]
    torch.testing.assert_close(new, (scores[0, 0] + log_probs[0, 0, [1, 2]])[None])
    new, parents, tokens = prune_beams(scores, log_probs, 3)
    assert parents.tolist() == [[0, 0, 1]] and tokens.tolist() == [[1, 2, 0]]


def test_beam_of_one_is_greedy_and_wider_beams_score_at_least_as_well():
    task, model = _model(seed=3)
    batch = _batch(task, n=8)
    greedy = greedy_decode(model, batch.src, batch.src_lengths, max_len=8)
    one = beam_search(model, batch.src, batch.src_lengths, beam_size=1, max_len=8)
    assert greedy.tokens == one.tokens
    np.testing.assert_allclose(greedy.scores, one.scores, rtol=1e-5)
    wide = beam_search(model, batch.src, batch.src_lengths, beam_size=6, max_len=8)
    finished = [i for i, t in enumerate(greedy.tokens) if len(t) < 8]
    for i in finished:  # a finished greedy sequence is one of the candidates a beam compares
        assert wide.scores[i] >= greedy.scores[i] - 1e-5


def test_beam_search_finds_what_greedy_misses():
    """A two-step toy decoder where the greedy first token leads to a poor continuation."""

    class Toy(nn.Module):
        config = Seq2SeqConfig(3, 5)

        def encode(self, src, lengths):
            return torch.zeros(src.shape[0], 1, 1), torch.zeros(1, src.shape[0], 1), torch.ones(src.shape[0], 1,
                                                                                               dtype=torch.bool)

        class decoder:  # noqa: N801 - stands in for a Decoder
            @staticmethod
            def step(y, state, enc, mask):
                table = {1: [0.0, 0.0, 0.0, 0.55, 0.45], 3: [0.0, 0.0, 0.5, 0.25, 0.25],
                         4: [0.0, 0.0, 0.95, 0.05, 0.0], 2: [0.0, 0.0, 1.0, 0.0, 0.0]}
                probs = torch.tensor([table[int(i)] for i in y]) + 1e-9
                return probs.log(), state, None

    toy = Toy()
    src, lengths = torch.ones(1, 1, dtype=torch.long), torch.ones(1, dtype=torch.long)
    assert greedy_decode(toy, src, lengths, max_len=4).tokens == [[3]]
    assert beam_search(toy, src, lengths, beam_size=2, max_len=4).tokens == [[4]]


def test_decoding_bad_arguments():
    task, model = _model()
    batch = _batch(task)
    with pytest.raises(CourseError, match="max_len"):
        greedy_decode(model, batch.src, batch.src_lengths, max_len=0)
    with pytest.raises(CourseError, match="beam_size"):
        beam_search(model, batch.src, batch.src_lengths, beam_size=0)


# --------------------------------------------------------------------------- training


def test_a_short_run_learns_short_numbers_and_reports_by_length():
    task = NumberWordsTask(Seq2SeqTaskConfig(max_digits=2, and_prob=0.0))
    test = task.test_set(40)
    run = train_seq2seq(task, max_steps=150, batch_size=32,
                        model_config=default_model_config(task, embed_dim=16, hidden_size=32))
    assert run.history.num_steps == 150 and not run.model.training
    rows = evaluate_by_length(run.model, test, task)
    assert [r["digits"] for r in rows] == [1, 2]
    assert rows[0]["exact"] > 0.8 and rows[1]["token_acc"] > 0.5


def test_teacher_forced_accuracy_counts_real_tokens_only():
    task, model = _model(seed=1)
    sources, targets = task.sample(10, np.random.default_rng(2))
    acc = teacher_forced_accuracy(model, task, sources, targets)
    batch = task.batch(sources, targets)
    with torch.no_grad():
        pred = model(batch.src, batch.src_lengths, batch.tgt_in).argmax(-1)
    want = float(((pred == batch.tgt_out) & batch.tgt_mask).sum()) / float(batch.tgt_mask.sum())
    assert acc == pytest.approx(want)
    rows = evaluate_by_length(model, {3: task.sample(5, np.random.default_rng(0), digits=3)}, task,
                              teacher_forced=True)
    assert set(rows[0]) >= {"digits", "n", "exact", "token_acc", "forced_token_acc", "source_words"}


def test_train_config_rejects_bad_settings():
    from textrnn_lab.seq2seq import Seq2SeqTrainConfig

    with pytest.raises(CourseError, match="teacher_forcing_ratio"):
        Seq2SeqTrainConfig(teacher_forcing_ratio=2.0)
    with pytest.raises(CourseError, match="threads"):
        Seq2SeqTrainConfig(threads=0)
