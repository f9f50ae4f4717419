"""The self-attention classifier: its parameter count layer by layer, the padding mask, training, bad input."""
from __future__ import annotations

import pytest
import torch

from textrnn_lab.attention.classifier import (
    SelfAttentionClassifier,
    SelfAttentionClassifierConfig,
    classifier_loss,
    masked_mean,
    parameter_table,
    predict_proba,
    train_classifier,
)
from textrnn_lab.attention.textdata import CLASSES, pad_rows, sentiment_splits
from textrnn_lab.errors import CourseError

SMALL = dict(vocab_size=50, embed_dim=8, num_heads=2, key_dim=4, dense_units=6, max_length=12)


def test_question_sizes_give_395203_parameters_and_the_table_adds_up():
    config = SelfAttentionClassifierConfig(num_classes=3)  # the question's example
    rows = parameter_table(config)
    assert [r["parameters"] for r in rows] == [320_000, 66_368, 128, 8_320, 387]
    assert SelfAttentionClassifier(config).num_parameters() == sum(r["parameters"] for r in rows) == 395_203
    # the fixed binary heads: two softmax units, or one sigmoid unit
    assert SelfAttentionClassifier(SelfAttentionClassifierConfig(num_classes=2)).num_parameters() == 395_074
    assert SelfAttentionClassifier(SelfAttentionClassifierConfig(num_classes=1)).num_parameters() == 394_945


def test_keras_initialisation_by_default_and_pytorch_on_request():
    torch.manual_seed(0)
    keras_like = SelfAttentionClassifier(SelfAttentionClassifierConfig(**SMALL))
    assert float(keras_like.embed.weight.detach().abs().max()) <= 0.05
    assert float(keras_like.dense.bias.detach().abs().max()) == 0.0
    torch_like = SelfAttentionClassifier(SelfAttentionClassifierConfig(**SMALL, keras_init=False))
    assert float(torch_like.embed.weight.detach().abs().max()) > 0.5
    assert float(torch_like.dense.bias.detach().abs().max()) > 0.0


def test_masked_mean_ignores_padding():
    x = torch.tensor([[[1.0], [3.0], [100.0]]])
    assert masked_mean(x, torch.tensor([[True, True, False]])).item() == 2.0
    assert masked_mean(x, None).item() == pytest.approx(104 / 3)


def test_with_the_mask_padding_changes_nothing_without_it_it_does():
    torch.manual_seed(0)
    ids = torch.tensor([[5, 7, 9, 0, 0, 0], [3, 0, 0, 0, 0, 0]])
    longer = torch.cat([ids, torch.zeros(2, 6, dtype=torch.long)], dim=1)
    masked = SelfAttentionClassifier(SelfAttentionClassifierConfig(**SMALL)).eval()
    assert torch.allclose(masked(ids), masked(longer), atol=1e-5)
    unmasked = SelfAttentionClassifier(SelfAttentionClassifierConfig(**SMALL, use_mask=False)).eval()
    unmasked.load_state_dict(masked.state_dict())
    assert not torch.allclose(unmasked(ids), unmasked(longer), atol=1e-4)
    # no position embeddings: the order of the words changes nothing
    shuffled = torch.tensor([[9, 5, 7, 0, 0, 0], [3, 0, 0, 0, 0, 0]])
    assert torch.allclose(masked(ids), masked(shuffled), atol=1e-5)


def test_one_sigmoid_unit_uses_binary_cross_entropy():
    torch.manual_seed(1)
    model = SelfAttentionClassifier(SelfAttentionClassifierConfig(**{**SMALL, "num_classes": 1})).eval()
    ids, labels = torch.randint(1, 50, (4, 12)), torch.tensor([0, 1, 1, 0])
    loss, extras = classifier_loss(model, (ids, labels))
    logits = model(ids)[:, 0]
    assert torch.allclose(loss, torch.nn.functional.binary_cross_entropy_with_logits(logits, labels.float()))
    assert predict_proba(model, ids).shape == (4,)


def test_sentiment_data_and_a_short_training_run_beat_chance():
    torch.set_num_threads(1)
    data = sentiment_splits(vocab_size=1000, max_length=16, max_examples=4000, seed=0)
    assert data.train_ids.shape[1] == 16 and set(data.train_labels.tolist()) == {0, 1} and len(CLASSES) == 2
    assert 0.05 < data.pad_fraction < 0.5 and int(data.train_ids.max()) < 1000
    assert (data.train_ids != 0).any(dim=1).all()  # no row of padding only (Keras would average 0 / 0)
    config = SelfAttentionClassifierConfig(vocab_size=1000, embed_dim=16, num_heads=2, key_dim=8, dense_units=16,
                                           max_length=16, dropout=0.0)
    run = train_classifier(config, data, steps=150, batch_size=32, lr=5e-3, seed=0)
    assert run.test_acc > data.majority_accuracy + 0.04, (run.test_acc, data.majority_accuracy)


def test_bad_input_is_one_clear_error():
    with pytest.raises(CourseError, match="num_classes"):
        SelfAttentionClassifierConfig(num_classes=0)
    with pytest.raises(CourseError, match="vocab_size"):
        sentiment_splits(vocab_size=2)
    with pytest.raises(CourseError, match=r"\[B, L\]"):
        SelfAttentionClassifier(SelfAttentionClassifierConfig(**SMALL))(torch.zeros(3, dtype=torch.long))
    data = sentiment_splits(vocab_size=100, max_length=10, max_examples=200)
    with pytest.raises(CourseError, match="config expects"):
        train_classifier(SelfAttentionClassifierConfig(**{**SMALL, "vocab_size": 100}), data, steps=1)


def test_pad_rows_cuts_and_pads():
    data = sentiment_splits(vocab_size=100, max_length=10, max_examples=200)
    rows = pad_rows(data.vocab, ["", "a " * 30], 5)
    assert rows.shape == (2, 5) and rows[0].tolist() == [0] * 5 and (rows[1] != 0).all()
