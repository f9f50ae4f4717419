"""The shared recurrent foundation: one table of cells, the builder, state handling, parameter counts."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from textrnn_lab.errors import CourseError
from textrnn_lab.layers.rnn import (
    CELLS,
    GATE_BLOCKS,
    build_rnn,
    cell_name,
    count_parameters,
    detach_state,
    set_keep_gate_bias,
    set_recurrent_radius,
    spectral_radius,
    state_batch_size,
)
from textrnn_lab.lm import CharLM, CharLMConfig, CharLMState


def test_one_table_of_cells_and_a_clear_error_for_others():
    assert list(CELLS) == ["rnn", "gru", "lstm"]
    assert cell_name("LSTM") == "lstm"
    with pytest.raises(CourseError, match="rnn, gru, lstm"):
        cell_name("transformer")


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_build_rnn_is_batch_first_with_the_asked_shape(cell):
    rnn = build_rnn(cell, 5, 7, num_layers=2, bidirectional=True, dropout=0.1)
    assert isinstance(rnn, CELLS[cell]) and rnn.batch_first and rnn.dropout == 0.1
    out, state = rnn(torch.randn(3, 4, 5))
    h = state[0] if cell == "lstm" else state
    assert out.shape == (3, 4, 14) and h.shape == (4, 3, 7) and state_batch_size(state) == 3
    assert build_rnn(cell, 5, 7, dropout=0.5).dropout == 0.0  # one layer: no dropout between layers


def test_detach_state_keeps_the_structure_and_cuts_the_graph():
    h = torch.randn(1, 2, 3, requires_grad=True) * 2
    c = torch.randn(1, 2, 3, requires_grad=True) * 2
    assert detach_state(None) is None
    assert not detach_state(h).requires_grad
    pair = detach_state((h, c))
    assert type(pair) is tuple and not any(t.requires_grad for t in pair)
    state = detach_state(CharLMState((h, c), memory=h[0]))
    assert isinstance(state, CharLMState) and not state.rnn[0].requires_grad and not state.memory.requires_grad
    assert torch.equal(state.rnn[1], c.detach()) and state_batch_size(state) == 2
    with pytest.raises(CourseError):
        detach_state([h])


def test_count_parameters_counts_all_or_only_the_trainable():
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))  # 15 + 8 values
    assert count_parameters(model) == 23
    for p in model[0].parameters():
        p.requires_grad_(False)  # a frozen layer, as in chapter 08
    assert count_parameters(model) == 23 and count_parameters(model, trainable_only=True) == 8


def test_char_lm_uses_the_shared_builder_and_gate_init():
    model = CharLM(CharLMConfig(11, cell="lstm", hidden_size=6, embed_dim=4, num_layers=2, dropout=0.2))
    assert isinstance(model.rnn, nn.LSTM) and model.rnn.batch_first and model.rnn.dropout == 0.2
    reference = set_keep_gate_bias(nn.LSTM(4, 6, num_layers=2), 1.0)
    for name, param in model.rnn.named_parameters():
        if name.startswith("bias"):
            assert torch.equal(param[6:12], getattr(reference, name)[6:12]), name
    assert model.num_parameters() == count_parameters(model)


@pytest.mark.parametrize("cell, blocks", [("rnn", 1), ("gru", 3), ("lstm", 4)])
def test_set_recurrent_radius_gives_every_gate_block_the_radius(cell, blocks):
    rnn = build_rnn(cell, 3, 6, num_layers=2, bidirectional=True)
    before = {k: v.detach().clone() for k, v in rnn.named_parameters()}
    assert set_recurrent_radius(rnn, 1.5, seed=0) is rnn
    for name, param in rnn.named_parameters():
        if name.startswith("weight_hh"):
            parts = param.detach().split(6)
            assert len(parts) == blocks == len(GATE_BLOCKS[cell])
            for block in parts:
                assert spectral_radius(block) == pytest.approx(1.5, rel=1e-5)
        else:  # input weights and biases untouched
            assert torch.equal(param, before[name])
    again = set_recurrent_radius(build_rnn(cell, 3, 6, num_layers=2, bidirectional=True), 1.5, seed=0)
    assert torch.equal(again.weight_hh_l1_reverse, rnn.weight_hh_l1_reverse)  # the seed decides the matrices


def test_set_recurrent_radius_refuses_what_is_not_a_recurrent_layer():
    with pytest.raises(CourseError):
        set_recurrent_radius(nn.Linear(3, 3), 1.0)
