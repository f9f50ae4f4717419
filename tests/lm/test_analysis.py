"""attention_by_distance and unknown_symbol_damage measure what they say, on models built to show it."""
from __future__ import annotations

import pytest
import torch

from textrnn_lab.errors import CourseError
from textrnn_lab.lm import CharLM, CharLMConfig
from textrnn_lab.lm.analysis import attention_by_distance, unknown_symbol_damage


def _attention_model(window=5, seed=0):
    torch.manual_seed(seed)
    return CharLM(CharLMConfig(12, hidden_size=8, embed_dim=4, attention=True, attn_window=window, attn_dim=4))


@torch.no_grad()
def test_attention_by_distance_is_a_distribution_over_the_window():
    model = _attention_model()
    ids = torch.randint(0, 12, (400,))
    by_distance = attention_by_distance(model, ids, batch_size=3, seq_len=7)
    assert by_distance.shape == (5,)
    assert float(by_distance.sum()) == pytest.approx(1.0, abs=1e-5)


@torch.no_grad()
def test_attention_by_distance_finds_attention_forced_onto_the_own_position():
    model = _attention_model()
    # queries and keys that make each state score itself far above its neighbours
    model.attention.query.weight.zero_()
    model.attention.key.weight.zero_()
    state_weight = torch.eye(4, 8) * 40.0
    model.attention.query.weight.copy_(state_weight)
    model.attention.key.weight.copy_(state_weight)
    model.rnn.weight_hh_l0.zero_()     # the state depends on the current character only
    model.embed.weight.copy_(torch.eye(12, 4) * 3 - 1)
    ids = torch.tensor([0, 1, 2, 3] * 60)  # neighbours always differ
    by_distance = attention_by_distance(model, ids, batch_size=2, seq_len=9)
    assert float(by_distance[0]) > float(by_distance[1:].max())


def test_attention_by_distance_needs_attention():
    model = CharLM(CharLMConfig(12, hidden_size=8, embed_dim=4))
    with pytest.raises(CourseError, match="attention=True"):
        attention_by_distance(model, torch.randint(0, 12, (100,)))


@torch.no_grad()
def test_unknown_symbol_damage_is_zero_when_the_replacement_changes_nothing():
    torch.manual_seed(0)
    model = CharLM(CharLMConfig(10, hidden_size=8, embed_dim=4))
    ids = torch.randint(1, 10, (500,))
    # an unknown embedding equal to the one of id 3, and a text of 3s: replacing changes no input
    model.embed.weight[0] = model.embed.weight[3]
    same = unknown_symbol_damage(model, torch.full((500,), 3), unk_id=0, windows=16, context=8, horizon=4)
    assert same.extra_per_offset.abs().max() < 1e-5
    # a wild unknown embedding changes the predictions after it, and only after it
    model.embed.weight[0] = 50.0
    hurt = unknown_symbol_damage(model, ids, unk_id=0, windows=64, context=8, horizon=4)
    assert hurt.extra_per_offset.shape == (4,) and hurt.windows == 64
    assert hurt.extra_first != 0.0 and hurt.clean_nats > 0


def test_unknown_symbol_damage_replacement_ids_and_short_text():
    torch.manual_seed(0)
    model = CharLM(CharLMConfig(10, hidden_size=8, embed_dim=4))
    ids = torch.randint(1, 10, (300,))
    typo = unknown_symbol_damage(model, ids, unk_id=0, windows=8, context=4, horizon=3,
                                 replacement=torch.randint(1, 10, (8,)))
    assert typo.extra_per_offset.shape == (3,)
    with pytest.raises(CourseError, match="shorter"):
        unknown_symbol_damage(model, ids[:10], unk_id=0, context=8, horizon=4)
