"""One time step of a GRU and of an LSTM, written with tensor operations in PyTorch's convention.

::

    gru = nn.GRU(input_size=E, hidden_size=H, batch_first=True)
    h = gru_step(x_t, h, gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0)   # [B, H]
    h, c = lstm_step(x_t, (h, c), lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0)

These are what ``nn.GRU`` and ``nn.LSTM`` compute at every step (their fused
kernels give the same numbers); chapter 01 writes the GRU step as an exercise
and checks it against ``nn.GRU`` with the same weights. The weights are laid
out as PyTorch lays them out: the gates' rows stacked in one matrix,
``weight_ih`` ``[G*H, E]``, ``weight_hh`` ``[G*H, H]``, biases ``[G*H]``, with
G = 3 gates for a GRU in the order (r, z, n) and G = 4 for an LSTM in the
order (i, f, g, o).

GRU (sigma the logistic function, * element-wise)::

    r = sigma(W_ir x + b_ir + W_hr h + b_hr)          reset gate
    z = sigma(W_iz x + b_iz + W_hz h + b_hz)          update gate (the share of the old state kept)
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))     candidate: the reset scales the recurrent term
    h' = (1 - z) * n + z * h

LSTM::

    i = sigma(W_ii x + b_ii + W_hi h + b_hi)          input gate
    f = sigma(W_if x + b_if + W_hf h + b_hf)          forget (keep) gate
    g = tanh(W_ig x + b_ig + W_hg h + b_hg)           candidate cell content
    o = sigma(W_io x + b_io + W_ho h + b_ho)          output gate
    c' = f * c + i * g
    h' = o * tanh(c')

Shapes: B rows in a batch, E input features, H hidden units.
"""
from __future__ import annotations

import torch

from ..errors import CourseError


def _check_layout(name: str, weight_ih: torch.Tensor, weight_hh: torch.Tensor, gates: int, x: torch.Tensor,
                  h: torch.Tensor) -> int:
    H = h.shape[-1]
    if weight_ih.shape != (gates * H, x.shape[-1]) or weight_hh.shape != (gates * H, H):
        raise CourseError(f"{name}: expected weight_ih [{gates}H, E] and weight_hh [{gates}H, H] for x "
                          f"{tuple(x.shape)} and h {tuple(h.shape)}, got {tuple(weight_ih.shape)} and "
                          f"{tuple(weight_hh.shape)}.")
    return H


def gru_step(x: torch.Tensor, h: torch.Tensor, weight_ih: torch.Tensor, weight_hh: torch.Tensor,
             bias_ih: torch.Tensor, bias_hh: torch.Tensor) -> torch.Tensor:
    """x: [B, E], h: [B, H], weights [3H, E] and [3H, H], biases [3H] -> the next state [B, H]."""
    H = _check_layout("gru_step", weight_ih, weight_hh, 3, x, h)
    gi = x @ weight_ih.T + bias_ih                 # [B, 3H] the input's part of every gate
    gh = h @ weight_hh.T + bias_hh                 # [B, 3H] the previous state's part
    r = torch.sigmoid(gi[:, :H] + gh[:, :H])       # [B, H]
    z = torch.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
    n = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
    return (1 - z) * n + z * h


def lstm_step(x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor], weight_ih: torch.Tensor,
              weight_hh: torch.Tensor, bias_ih: torch.Tensor, bias_hh: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """x: [B, E], state (h, c): [B, H] each, weights [4H, E] and [4H, H], biases [4H] -> (h', c')."""
    h, c = state
    H = _check_layout("lstm_step", weight_ih, weight_hh, 4, x, h)
    gates = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh   # [B, 4H]
    i = torch.sigmoid(gates[:, :H])
    f = torch.sigmoid(gates[:, H:2 * H])
    g = torch.tanh(gates[:, 2 * H:3 * H])
    o = torch.sigmoid(gates[:, 3 * H:])
    c = f * c + i * g                              # [B, H] the cell: the only path multiplied by f alone
    return o * torch.tanh(c), c
