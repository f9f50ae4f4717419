"""Frozen encoder token states -> RNN -> linear (textrnn_lab.transfer.encoder_rnn).

The padding bug is the point: ``outputs[:, -1, :]`` of a right-padded batch is a
padding position for every shorter row. These tests show it (the "final"
readout returns the state after the padding, and it changes with the padding),
and show that the fix (the last real position, or packed sequences) gives each
text the state it has when run alone. A tiny random BERT stands in for MiniLM
where only shapes and wiring matter; the packaged MiniLM tokenizer feeds it.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from textrnn_lab.errors import CourseError
from textrnn_lab.layers.pretrained import default_encoder_path, tiny_bert
from textrnn_lab.transfer.encoder_rnn import (
    READOUTS,
    EncoderRNNClassifier,
    EncoderRNNConfig,
    EncoderRNNTrainConfig,
    RNNHead,
    TokenStates,
    encode_token_states,
    first_real_index,
    last_padded_position,
    last_real_index,
    last_real_position,
    lengths_from_mask,
    predict_proba,
    right_pad,
    train_rnn_head,
)


def right_padded(lengths, steps=None):
    steps = steps or max(lengths)
    return torch.tensor([[1] * n + [0] * (steps - n) for n in lengths])


@pytest.fixture(scope="module")
def tokenizer():
    from textrnn_lab.runtime.quiet import import_transformers

    return import_transformers().AutoTokenizer.from_pretrained(str(default_encoder_path()), local_files_only=True)


@pytest.fixture(scope="module")
def encoder():
    return tiny_bert(hidden=16, layers=1, heads=2, seed=0).eval()


# --------------------------------------------------------------------------- reading the RNN


@pytest.mark.parametrize("dtype", [torch.long, torch.bool, torch.float32])
def test_last_real_position_reads_each_rows_last_real_token(dtype):
    outputs = torch.randn(3, 5, 4)  # [B, T, H]
    mask = right_padded([5, 2, 1]).to(dtype)
    got = last_real_position(outputs, mask)
    assert got.shape == (3, 4)
    for b, t in enumerate([4, 1, 0]):
        assert torch.equal(got[b], outputs[b, t])
    assert lengths_from_mask(mask).tolist() == [5, 2, 1]


def test_last_and_first_real_index_with_left_padding():
    mask = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1], [0, 0, 0, 1]])
    assert last_real_index(mask).tolist() == [3, 3, 3]
    assert first_real_index(mask).tolist() == [2, 0, 3]
    assert first_real_index(right_padded([3, 1])).tolist() == [0, 0]


def test_the_bug_reads_a_padding_state_and_the_fix_reads_what_the_text_alone_gives():
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 6, batch_first=True)
    short, long_ = torch.randn(1, 2, 3), torch.randn(1, 6, 3)
    batch = torch.cat([torch.cat([short, torch.zeros(1, 4, 3)], dim=1), long_])  # right-padded [2, 6, 3]
    mask = right_padded([2, 6])
    outputs, _ = lstm(batch)                                                     # [2, 6, 6]
    alone, _ = lstm(short)                                                       # [1, 2, 6]
    buggy = last_padded_position(outputs)
    assert mask[0, -1] == 0                                       # position T-1 of the short row is padding ...
    assert torch.equal(buggy[0], outputs[0, 5])                   # ... and the bug returns its state,
    assert not torch.allclose(buggy[0], alone[0, -1], atol=1e-3)  # which is not the short text's state
    fixed = last_real_position(outputs, mask)
    assert torch.allclose(fixed[0], alone[0, -1], atol=1e-6)
    assert torch.equal(fixed[1], buggy[1])                        # for the longest row the two agree


@pytest.mark.parametrize("cell,bidirectional,layers", [("lstm", False, 1), ("gru", False, 2), ("lstm", True, 1),
                                                        ("rnn", True, 2)])
def test_packed_sequences_and_the_last_real_position_agree(cell, bidirectional, layers):
    torch.manual_seed(1)
    head = RNNHead(EncoderRNNConfig(cell=cell, hidden_size=5, bidirectional=bidirectional, num_layers=layers,
                                    dropout=0.0), 4).eval()
    states, mask = torch.randn(4, 7, 4), right_padded([7, 3, 1, 5])
    last = head.summary(states, mask, "last")
    packed = head.summary(states, mask, "packed")
    assert last.shape == packed.shape == (4, 5 * (2 if bidirectional else 1))
    assert torch.allclose(last, packed, atol=1e-5)
    final = head.summary(states, mask, "final")[:, :5]  # the forward half (a backward pass ends at position 0)
    assert torch.allclose(final[0], last[0, :5], atol=1e-5)   # the longest row: T-1 is real
    assert not torch.allclose(final[2], last[2, :5], atol=1e-4)


def test_a_bidirectional_rnn_over_padding_is_wrong_everywhere_so_last_packs():
    torch.manual_seed(2)
    head = RNNHead(EncoderRNNConfig(hidden_size=3, bidirectional=True, dropout=0.0), 2).eval()
    short = torch.randn(1, 2, 2)
    padded = torch.cat([short, torch.zeros(1, 3, 2)], dim=1)           # [1, 5, 2], 3 padding positions
    outputs, _ = head.rnn(padded)                                      # [1, 5, 6]
    alone, _ = head.rnn(short)                                         # [1, 2, 6]
    assert not torch.allclose(outputs[0, 0, 3:], alone[0, 0, 3:], atol=1e-4)  # the backward pass read padding
    summary = head.summary(padded, right_padded([2], 5), "last")
    assert torch.allclose(summary[0], torch.cat([alone[0, 1, :3], alone[0, 0, 3:]]), atol=1e-6)


def test_bad_masks_are_one_clear_error():
    with pytest.raises(CourseError, match="no real token"):
        last_real_index(torch.tensor([[1, 1], [0, 0]]))
    with pytest.raises(CourseError, match=r"\[B, T\]"):
        last_real_position(torch.randn(2, 3, 4), torch.ones(2, 4))
    with pytest.raises(CourseError, match=r"\[B, T, H\]"):
        last_real_position(torch.randn(2, 3), torch.ones(2, 3))


def test_config_is_checked():
    for bad in (dict(readout="middle"), dict(cell="transformer"), dict(num_classes=1), dict(hidden_size=0),
                dict(dropout=1.5)):
        with pytest.raises(CourseError):
            EncoderRNNConfig(**bad)
    assert set(READOUTS) == {"last", "packed", "final"}
    assert EncoderRNNConfig(cell="GRU").to_dict()["cell"] == "gru"


# --------------------------------------------------------------------------- the cache


def toy_cache(lengths, dim=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(lengths)
    offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)])
    return TokenStates(torch.randn(int(lengths.sum()), dim, generator=gen), offsets)


def test_token_states_batch_pads_on_the_right_and_subset_keeps_the_order():
    cache = toy_cache([2, 4, 1])
    assert len(cache) == 3 and cache.embed_dim == 3 and cache.lengths.tolist() == [2, 4, 1]
    states, mask = cache.batch([2, 0], pad_to=5)
    assert states.shape == (2, 5, 3) and mask.tolist() == [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0]]
    assert torch.equal(states[1, :2], cache.text(0)) and float(states[1, 2:].abs().sum()) == 0.0
    sub = cache.subset([1, 2])
    assert sub.lengths.tolist() == [4, 1] and torch.equal(sub.text(0), cache.text(1))
    with pytest.raises(CourseError):
        cache.batch([])


def test_encode_token_states_keeps_real_tokens_only_and_padding_does_not_change_them(tokenizer, encoder):
    texts = ["a fine film", "dull, far too long and never funny at all", "ok"]
    cache = encode_token_states(texts, tokenizer, encoder, batch_size=3, dtype=torch.float32)
    lengths = [len(tokenizer(t)["input_ids"]) for t in texts]
    assert cache.lengths.tolist() == lengths and cache.embed_dim == 16
    for i, text in enumerate(texts):
        alone = encode_token_states([text], tokenizer, encoder, dtype=torch.float32)
        assert torch.allclose(cache.text(i), alone.text(0), atol=1e-5)
    assert encode_token_states(texts, tokenizer, encoder).flat.dtype == torch.float16
    with pytest.raises(CourseError, match="empty"):
        encode_token_states(["fine", "  "], tokenizer, encoder)


def test_with_the_fix_a_prediction_does_not_depend_on_the_padding_and_with_the_bug_it_does():
    torch.manual_seed(0)
    cache = toy_cache([3, 9, 5, 2], dim=4)
    head = RNNHead(EncoderRNNConfig(hidden_size=8, dropout=0.0), 4)
    tight = predict_proba(head, cache, batch_size=1)
    for pad_to in (12, 30):
        assert torch.allclose(predict_proba(head, cache, pad_to=pad_to), tight, atol=1e-6)
        buggy = predict_proba(head, cache, batch_size=1, pad_to=pad_to, readout="final")
        assert not torch.allclose(buggy, tight, atol=1e-4)
    assert torch.allclose(predict_proba(head, cache, batch_size=1, readout="final"), tight, atol=1e-6)


def test_train_rnn_head_learns_a_label_carried_by_the_first_token():
    torch.manual_seed(0)
    n = 96
    cache = toy_cache([int(x) for x in torch.randint(2, 9, (n,))], dim=4, seed=3)
    labels = []
    for i in range(n):  # the label is the sign of feature 0 of the FIRST token: the RNN has to carry it
        labels.append(int(cache.text(i)[0, 0] > 0))
    head = RNNHead(EncoderRNNConfig(hidden_size=16, dropout=0.0), 4)
    history = train_rnn_head(head, cache, labels, EncoderRNNTrainConfig(max_steps=80, lr=1e-2, batch_size=16))
    assert len(history.steps) == 80
    accuracy = float((predict_proba(head, cache).argmax(1) == torch.tensor(labels)).float().mean())
    assert accuracy > 0.85
    with pytest.raises(CourseError, match="labels"):
        train_rnn_head(head, cache, labels[:-1], max_steps=1)
    with pytest.raises(CourseError, match="classes"):
        train_rnn_head(head, cache, [2] * n, max_steps=1)


# --------------------------------------------------------------------------- the whole model


def test_classifier_keeps_the_encoder_frozen_and_matches_the_cached_path(tokenizer, encoder):
    torch.manual_seed(0)
    model = EncoderRNNClassifier(EncoderRNNConfig(hidden_size=8, dropout=0.0), tokenizer, encoder)
    assert all(not p.requires_grad for p in model.encoder.parameters())
    model.train()
    assert model.head.training and not model.encoder.training
    texts = ["a fine film", "dull, far too long and never funny at all"]
    batch = model.tokenize(texts)
    logits = model(batch["input_ids"], batch["attention_mask"])                # [B, C]
    assert logits.shape == (2, 2)
    logits.sum().backward()
    assert model.head.classifier.weight.grad is not None
    cache = encode_token_states(texts, tokenizer, encoder, dtype=torch.float32)
    model.eval()
    assert torch.allclose(model.predict_proba(texts), predict_proba(model.head, cache), atol=1e-5)
    alone = model.predict_proba(texts[:1])
    assert torch.allclose(model.predict_proba(texts[:1], pad_to=40), alone, atol=1e-5)
    assert not torch.allclose(model.predict_proba(texts[:1], pad_to=40, readout="final"), alone, atol=1e-4)


def test_classifier_arguments_are_checked(tokenizer, encoder):
    with pytest.raises(CourseError, match="both"):
        EncoderRNNClassifier(EncoderRNNConfig(), tokenizer, None)
    with pytest.raises(CourseError, match="size"):
        EncoderRNNClassifier(EncoderRNNConfig(), tokenizer, encoder, head=RNNHead(EncoderRNNConfig(), 384))
    head = RNNHead(EncoderRNNConfig(), 16)
    with pytest.raises(CourseError, match=r"\[B, T, 16\]"):
        head(torch.randn(2, 3, 8), torch.ones(2, 3))


def test_right_pad_puts_each_sequence_first_and_zeros_after():
    a, b = torch.ones(3, 2, dtype=torch.float64), torch.full((1, 2), 2.0, dtype=torch.float64)
    states, mask = right_pad([a, b], pad_to=4)
    assert states.shape == (2, 4, 2) and states.dtype == torch.float64
    assert mask.tolist() == [[1, 1, 1, 0], [1, 0, 0, 0]] and mask.dtype == torch.long
    assert torch.equal(states[0, :3], a) and torch.equal(states[1, 0], b[0]) and float(states[1, 1:].abs().sum()) == 0
    assert right_pad([a, b])[0].shape == (2, 3, 2)
    with pytest.raises(CourseError):
        right_pad([])
    with pytest.raises(CourseError, match="same E"):
        right_pad([torch.ones(2, 3), torch.ones(2, 4)])
