"""Chapter 02's package: reading a labelled CSV, batching, pooling, the head, metrics, fine-tuning and saving."""
from __future__ import annotations

import json

import pytest
import torch

from textrnn_lab.errors import CourseError, DataError
from textrnn_lab.layers.pretrained import load_encoder, tiny_bert
from textrnn_lab.transfer import (
    FinetuneConfig,
    LabelledTexts,
    ScratchRNNClassifier,
    accuracy,
    bucketed_batches,
    classify_texts,
    confusion_matrix,
    continue_training,
    finetune,
    format_confusion,
    freeze_encoder,
    head_logits,
    head_weights,
    logistic_probe,
    macro_f1,
    mean_pool,
    pad_batch,
    read_labelled_texts,
    save_finetuned,
    scratch_predict,
    shared_vocab,
    sorted_batches,
    stratified_sample,
    stratified_split,
    train_scratch,
    trainable_parameters,
)
from textrnn_lab.transfer.encoder_rnn import EncoderRNNConfig
from textrnn_lab.transfer.generation import SmallTextConfig


@pytest.fixture(scope="module")
def tokenizer():
    return load_encoder()[0]


def _csv(tmp_path, text: str, name: str = "data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _toy(n_per_class: int = 12) -> LabelledTexts:
    texts, labels = [], []
    for i in range(n_per_class):
        texts += [f"wonderful lovely great film number {i}", f"awful boring terrible mess {i} of a film"]
        labels += [1, 0]
    return LabelledTexts(texts, labels, ["bad", "good"])


# --------------------------------------------------------------------------- reading a CSV


def test_reads_texts_labels_and_names(tmp_path):
    path = _csv(tmp_path, "text,label\nfine film,pos\nbad film,neg\ngreat,pos\nawful,neg\n")
    data = read_labelled_texts(path)
    assert data.label_names == ["neg", "pos"] and data.labels == [1, 0, 1, 0]
    assert data.texts[0] == "fine film" and data.counts == {"neg": 2, "pos": 2}


def test_integer_labels_are_class_names(tmp_path):
    data = read_labelled_texts(_csv(tmp_path, "text,label\na,1\nb,0\nc,1\nd,0\n"))
    assert data.label_names == ["0", "1"]


@pytest.mark.parametrize("content, fragment", [
    ("text,label\na,x\nb,x\nc,x\n", "two classes"),
    ("text,label\na,x\nb,x\nc,y\n", "fewer than 2"),
    ("text,label\na,x\n,y\nc,x\nd,y\n", "empty text"),
    ("text,label\na,0.5\nb,1.25\nc,0.5\n", "decimal numbers"),
    ("review,label\na,x\nb,y\n", "no column 'text'"),
])
def test_each_bad_file_is_one_clear_error(tmp_path, content, fragment):
    with pytest.raises(DataError) as err:
        read_labelled_texts(_csv(tmp_path, content))
    assert fragment in str(err.value), str(err.value)
    assert err.value.hint


def test_missing_file_and_non_utf8(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_labelled_texts(tmp_path / "nope.csv")
    path = tmp_path / "latin.csv"
    path.write_bytes("text,label\ncaf\xe9,x\nthé,y\n".encode("latin-1"))
    with pytest.raises(DataError, match="not valid UTF-8"):
        read_labelled_texts(path)


def test_a_test_file_with_an_unknown_label(tmp_path):
    path = _csv(tmp_path, "text,label\na,x\nb,z\n")
    with pytest.raises(DataError, match="labels the training file does not have: 'z'"):
        read_labelled_texts(path, label_names=["x", "y"])


def test_stratified_split_keeps_proportions_and_both_sides():
    labels = [0] * 50 + [1] * 10 + [2] * 2
    train, test = stratified_split(labels, 0.2, seed=3)
    assert sorted(train + test) == list(range(len(labels)))
    counts = [sum(labels[i] == c for i in test) for c in range(3)]
    assert counts == [10, 2, 1]
    assert stratified_split(labels, 0.2, seed=3) == (train, test)
    assert stratified_split(labels, 0.2, seed=4) != (train, test)


def test_stratified_sample_is_exact():
    labels = [0] * 70 + [1] * 30
    for size in (1, 7, 10, 50, 99, 100):
        rows = stratified_sample(labels, size, seed=0)
        assert len(rows) == size == len(set(rows))
    for labels_case in ([0] * 2 + [1] * 98, [0, 1, 1, 2, 2, 2, 3], [3] * 5 + [0]):   # rare and saturated classes
        for size in range(1, len(labels_case) + 1):
            assert len(set(stratified_sample(labels_case, size, seed=size))) == size
    rows = stratified_sample(labels, 10, seed=0)
    assert sum(labels[i] for i in rows) == 3
    with pytest.raises(DataError):
        stratified_sample(labels, 101)


# --------------------------------------------------------------------------- batches


def test_pad_batch_pads_right_and_masks():
    ids, mask = pad_batch([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]] and mask.tolist() == [[1, 1, 1], [1, 0, 0]]


def test_bucketed_batches_cover_every_text_once_per_pass_with_little_padding():
    gen = torch.Generator().manual_seed(0)
    lengths = torch.randint(3, 60, (400,), generator=gen).tolist()
    ids = [[i + 1] * n for i, n in enumerate(lengths)]
    batches = list(bucketed_batches(ids, list(range(400)), batch_size=16, epochs=1, seed=0))
    seen = sorted(int(y) for b in batches for y in b["labels"])
    assert seen == list(range(400))
    padded = sum(b["input_ids"].numel() for b in batches)
    random_padded = sum(16 * max(lengths[i:i + 16]) for i in range(0, 400, 16))
    assert padded < 0.6 * random_padded            # buckets save padding
    for b in batches:                               # and each batch is padded to its own longest text
        assert int(b["attention_mask"].sum(1).max()) == b["input_ids"].shape[1]


def test_sorted_batches_say_where_rows_go():
    ids = [[1] * n for n in (5, 1, 3)]
    out = sorted_batches(ids, [0, 1, 2], batch_size=2)
    assert [rows for rows, _ in out] == [[1, 2], [0]]
    assert out[0][1]["labels"].tolist() == [1, 2]


# --------------------------------------------------------------------------- pooling and the head


def test_mean_pool_ignores_padding():
    hidden = torch.randn(2, 5, 4)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    pooled = mean_pool(hidden, mask)
    assert pooled.shape == (2, 4)
    assert torch.allclose(pooled[0], hidden[0, :3].mean(0)) and torch.allclose(pooled[1], hidden[1].mean(0))
    assert torch.equal(mean_pool(hidden, torch.zeros(2, 5)), torch.zeros(2, 4))


def test_head_logits_is_what_the_model_computes():
    model = tiny_bert(num_labels=3, seed=0).eval()
    ids = torch.randint(1000, 2000, (4, 7))
    mask = torch.ones_like(ids)
    mask[1, 4:] = 0
    with torch.no_grad():
        expected = model(input_ids=ids, attention_mask=mask).logits
        hidden = model.bert(input_ids=ids, attention_mask=mask).last_hidden_state
    assert torch.allclose(head_logits(hidden, *head_weights(model)), expected, atol=1e-5)


def test_freeze_encoder_leaves_the_head():
    model = tiny_bert(num_labels=2, seed=0)
    total = trainable_parameters(model)
    head = sum(p.numel() for p in model.classifier.parameters()) + sum(
        p.numel() for p in model.bert.pooler.parameters())
    assert freeze_encoder(model) == head
    for p in model.parameters():
        p.requires_grad_(True)
    embeddings = sum(p.numel() for p in model.bert.embeddings.parameters())
    assert freeze_encoder(model, embeddings_only=True) == total - embeddings


# --------------------------------------------------------------------------- metrics


def test_metrics_agree_with_sklearn():
    from sklearn.metrics import confusion_matrix as sk_confusion
    from sklearn.metrics import f1_score

    gen = torch.Generator().manual_seed(1)
    y = torch.randint(0, 4, (200,), generator=gen).tolist()
    p = torch.randint(0, 4, (200,), generator=gen).tolist()
    assert confusion_matrix(y, p, 4).tolist() == sk_confusion(y, p, labels=[0, 1, 2, 3]).tolist()
    assert macro_f1(y, p, 4) == pytest.approx(f1_score(y, p, average="macro"))
    assert accuracy(y, p) == pytest.approx(sum(a == b for a, b in zip(y, p)) / 200)
    assert "true \\ predicted" in format_confusion(confusion_matrix(y, p, 4), ["a", "b", "c", "d"])


def test_majority_answer_has_high_accuracy_low_macro_f1():
    y = [0] * 90 + [1] * 10
    assert accuracy(y, [0] * 100) == 0.9 and macro_f1(y, [0] * 100, 2) < 0.5


# --------------------------------------------------------------------------- fine-tuning, saving, classifying


def test_finetune_learns_saves_and_loads_as_transformers_does(tokenizer, tmp_path):
    from transformers import AutoModelForSequenceClassification

    data = _toy()
    model = tiny_bert(num_labels=2, seed=0)
    config = FinetuneConfig(max_steps=40, max_seconds=None, lr=3e-3, batch_size=8, threads=1, warmup_steps=2)
    result = finetune(data, config, test=data, device="cpu", progress=False, model=model, tokenizer=tokenizer)
    assert result.history.num_steps == 40
    assert result.accuracy >= 0.9, result.accuracy
    assert result.confusion.sum() == len(data) and result.test.probabilities.shape == (len(data), 2)
    out = save_finetuned(result, tmp_path / "model")
    summary = json.loads((out / "labels.json").read_text())
    assert summary["label_names"] == ["bad", "good"] and summary["accuracy"] == result.accuracy
    loaded = AutoModelForSequenceClassification.from_pretrained(out).eval()
    assert loaded.config.id2label == {0: "bad", 1: "good"}
    batch = tokenizer(data.texts[:3], padding=True, return_tensors="pt")
    with torch.no_grad():
        assert torch.allclose(loaded(**batch).logits, result.model(**batch).logits, atol=1e-5)
    labelled = classify_texts(out, [data.texts[0], data.texts[1]])
    assert [label for label, _ in labelled] == ["good", "bad"]
    assert all(0.5 <= prob <= 1.0 for _, prob in labelled)


def test_same_seed_same_run(tokenizer):
    data = _toy(4)
    config = FinetuneConfig(max_steps=3, max_seconds=None, batch_size=4, threads=1)
    runs = [finetune(data, config, test=data, device="cpu", progress=False,
                     model=tiny_bert(num_labels=2, seed=0), tokenizer=tokenizer) for _ in range(2)]
    assert torch.equal(runs[0].test.probabilities, runs[1].test.probabilities)


def test_epochs_become_steps():
    assert FinetuneConfig(epochs=2, batch_size=16).steps_for(100) == 13
    assert FinetuneConfig(epochs=2, max_steps=5).steps_for(100) == 5
    with pytest.raises(CourseError):
        FinetuneConfig(epochs=0)


def test_classify_refuses_empty_texts_and_bad_directories(tmp_path):
    with pytest.raises(CourseError, match="text 2 is empty"):
        classify_texts(tmp_path, ["fine", "  "])
    with pytest.raises(CourseError, match="labels.json"):
        classify_texts(tmp_path, ["fine"])


# --------------------------------------------------------------------------- baselines and generation


def test_logistic_probe_on_separable_features():
    x = torch.cat([torch.randn(20, 3) + 5, torch.randn(20, 3) - 5])
    y = [1] * 20 + [0] * 20
    assert logistic_probe(x, y, x, y) == 1.0


def test_scratch_classifier_trains(tokenizer):
    from textrnn_lab.transfer import tokenize

    data = _toy()
    ids = tokenize(tokenizer, data.texts)
    model = ScratchRNNClassifier(tokenizer.vocab_size, EncoderRNNConfig(cell="gru", hidden_size=16), embed_dim=8)
    train_scratch(model, ids, data.labels, max_steps=60, lr=1e-2, batch_size=8)
    assert accuracy(data.labels, scratch_predict(model, ids)) >= 0.9


def test_continue_training_lowers_the_held_out_loss():
    from textrnn_lab.lm import CharLM, CharLMConfig

    text = "the cat sat on the mat. " * 200
    vocab = shared_vocab(text, "xyz")
    assert "x" in vocab and "c" in vocab
    torch.manual_seed(0)
    model = CharLM(CharLMConfig(len(vocab), hidden_size=32, embed_dim=8))
    run = continue_training(model, vocab, text, SmallTextConfig(max_steps=30, eval_every=10, batch_size=4,
                                                                seq_len=16, lr=1e-2))
    losses = run.history.per_eval("val_loss")
    assert len(losses) == 3 and losses[-1] < losses[0]
    with pytest.raises(CourseError, match="too short"):
        continue_training(model, vocab, "the cat", SmallTextConfig())
