"""One step of a GRU and of an LSTM written out, in PyTorch's convention (chapter 04, section 2).

The equations behind ``nn.GRU`` and ``nn.LSTM``, with the same weights, so that a
step computed here equals a step of the module (tested against both)::

    gru = nn.GRU(E, H, batch_first=True)
    h1 = gru_step(x[:, 0], h0, gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0)
    lstm = nn.LSTM(E, H, batch_first=True)
    h1, c1 = lstm_step(x[:, 0], (h0, c0), lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0)

Shapes: ``B`` batch, ``E`` input features, ``H`` hidden units. ``weight_ih`` is
[G*H, E], ``weight_hh`` [G*H, H], the biases [G*H], with the gates stacked along
the rows in PyTorch's order (GRU, G=3: reset, update, new; LSTM, G=4: input,
forget, cell, output).
"""
from __future__ import annotations

import torch


def gru_step(x: torch.Tensor, h: torch.Tensor, weight_ih: torch.Tensor, weight_hh: torch.Tensor,
             bias_ih: torch.Tensor, bias_hh: torch.Tensor) -> torch.Tensor:
    """One GRU step, ``x [B, E], h [B, H] -> h_new [B, H]``::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)          reset gate
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)          update ("keep") gate
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))       candidate; the reset acts on the recurrent term
        h_new = (1 - z) * n + z * h
    """
    gi = x @ weight_ih.T + bias_ih          # [B, 3H]
    gh = h @ weight_hh.T + bias_hh          # [B, 3H]
    i_r, i_z, i_n = gi.chunk(3, dim=-1)     # [B, H] each
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return (1 - z) * n + z * h


def lstm_step(x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor], weight_ih: torch.Tensor,
              weight_hh: torch.Tensor, bias_ih: torch.Tensor,
              bias_hh: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step, ``x [B, E], (h, c) [B, H] each -> (h_new, c_new)``::

        i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)          input gate
        f = sigmoid(W_if x + b_if + W_hf h + b_hf)          forget ("keep") gate
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)             candidate
        o = sigmoid(W_io x + b_io + W_ho h + b_ho)          output gate
        c_new = f * c + i * g
        h_new = o * tanh(c_new)
    """
    h, c = state
    gates = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh   # [B, 4H]
    i, f, g, o = gates.chunk(4, dim=-1)                               # [B, H] each
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_new = torch.sigmoid(o) * torch.tanh(c_new)
    return h_new, c_new
