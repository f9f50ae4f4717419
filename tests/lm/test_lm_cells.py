"""gru_step and lstm_step, unrolled over a sequence, give what nn.GRU and nn.LSTM give with the same weights."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from textrnn_lab.errors import CourseError
from textrnn_lab.lm.cells import gru_step, lstm_step


def _weights(rnn):
    return rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0


@torch.no_grad()
def test_gru_step_unrolled_matches_nn_gru():
    torch.manual_seed(0)
    gru = nn.GRU(5, 7, batch_first=True)
    x, h0 = torch.randn(3, 11, 5), torch.randn(1, 3, 7)
    expected, h_last = gru(x, h0)
    h = h0[0]
    for t in range(x.shape[1]):
        h = gru_step(x[:, t], h, *_weights(gru))
        torch.testing.assert_close(h, expected[:, t])
    torch.testing.assert_close(h, h_last[0])


@torch.no_grad()
def test_gru_step_update_gate_convention_is_pytorchs():
    """z near 1 keeps the old state (PyTorch), not the candidate (the other convention)."""
    H, E = 4, 3
    w_ih, w_hh = torch.zeros(3 * H, E), torch.zeros(3 * H, H)
    b_ih, b_hh = torch.zeros(3 * H), torch.zeros(3 * H)
    b_ih[H:2 * H] = 20.0  # update gate saturated at 1
    b_ih[2 * H:] = 3.0    # a candidate far from the state
    h = torch.full((2, H), -0.5)
    torch.testing.assert_close(gru_step(torch.randn(2, E), h, w_ih, w_hh, b_ih, b_hh), h)


@torch.no_grad()
def test_gru_step_applies_the_reset_after_the_recurrent_matrix():
    """n = tanh(W_in x + b_in + r * (W_hn h + b_hn)): with r = 0 the recurrent bias b_hn drops out too."""
    H, E = 2, 2
    w_ih, w_hh = torch.zeros(3 * H, E), torch.zeros(3 * H, H)
    b_ih, b_hh = torch.zeros(3 * H), torch.zeros(3 * H)
    b_ih[:H] = -30.0       # reset gate 0
    b_ih[H:2 * H] = -30.0  # update gate 0: h' = n
    b_hh[2 * H:] = 5.0     # a recurrent bias that the reset must cancel
    out = gru_step(torch.zeros(1, E), torch.ones(1, H), w_ih, w_hh, b_ih, b_hh)
    torch.testing.assert_close(out, torch.zeros(1, H), atol=1e-6, rtol=0)


@torch.no_grad()
def test_lstm_step_unrolled_matches_nn_lstm():
    torch.manual_seed(1)
    lstm = nn.LSTM(4, 6, batch_first=True)
    x = torch.randn(2, 9, 4)
    h0, c0 = torch.randn(1, 2, 6), torch.randn(1, 2, 6)
    expected, (h_last, c_last) = lstm(x, (h0, c0))
    h, c = h0[0], c0[0]
    for t in range(x.shape[1]):
        h, c = lstm_step(x[:, t], (h, c), *_weights(lstm))
        torch.testing.assert_close(h, expected[:, t])
    torch.testing.assert_close(c, c_last[0])


def test_wrong_layout_is_a_clear_error():
    gru = nn.GRU(5, 7)
    with pytest.raises(CourseError, match="weight_ih"):
        gru_step(torch.randn(3, 4), torch.randn(3, 7), *_weights(gru))
    with pytest.raises(CourseError, match="4H"):
        lstm_step(torch.randn(3, 5), (torch.randn(3, 7), torch.randn(3, 7)), *_weights(gru))
