"""Recurrent layers: the one table of cells, a builder, state handling, initialisation, parameter counts.

Introduced in chapter 01 (the character language model) and used again in 04
(gradients through time) and by every later recurrent model::

    rnn = build_rnn("gru", input_size=64, hidden_size=256)   # batch_first nn.GRU
    out, state = rnn(torch.randn(8, 100, 64))                # out [B, T, H], state [L*D, B, H]
    state = detach_state(state)                              # cut from the graph (truncated BPTT)
    set_keep_gate_bias(nn.LSTM(16, 32), 1.0)                 # forget gate starts near sigmoid(1)
    set_recurrent_radius(rnn, 1.5, seed=0)                   # every recurrent block [H, H] of radius 1.5
    count_parameters(rnn)                                    # every value, trainable or frozen

Shapes: ``B`` batch, ``T`` time steps, ``E`` input features, ``H`` hidden
units, ``L`` layers, ``D`` directions (2 when bidirectional).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import CourseError

#: the three recurrent cells, by the names the course uses
CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def cell_name(cell: str) -> str:
    """``cell`` as a key of :data:`CELLS` (case-insensitive), or a :class:`CourseError` naming the choices."""
    key = str(cell).lower()
    if key not in CELLS:
        raise CourseError(f"unknown recurrent cell {cell!r}.", hint=f"choose one of: {', '.join(CELLS)}")
    return key


def build_rnn(cell: str, input_size: int, hidden_size: int, *, num_layers: int = 1, bidirectional: bool = False,
              nonlinearity: str = "tanh", dropout: float = 0.0) -> nn.RNNBase:
    """A ``batch_first`` ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM``.

    It maps ``x: [B, T, input_size]`` to ``(outputs, state)`` with
    ``outputs: [B, T, D*hidden_size]`` and ``state: [L*D, B, hidden_size]``
    (for an LSTM a pair ``(h, c)`` of that shape). ``dropout`` applies between
    stacked layers only, so it is ignored when ``num_layers == 1``.
    """
    key = cell_name(cell)
    kwargs: dict[str, Any] = dict(num_layers=int(num_layers), bidirectional=bool(bidirectional), batch_first=True,
                                  dropout=float(dropout) if num_layers > 1 else 0.0)
    if key == "rnn":
        kwargs["nonlinearity"] = nonlinearity
    return CELLS[key](input_size, hidden_size, **kwargs)


def detach_state(state: Any) -> Any:
    """The same recurrent state cut from the graph: gradients of what follows stop here (truncated BPTT).

    Works on a tensor (RNN, GRU), a pair ``(h, c)`` (LSTM), ``None``, and any
    named tuple of those (a model's own state type keeps its type).
    """
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, tuple):
        parts = [detach_state(part) for part in state]
        return type(state)(*parts) if hasattr(state, "_fields") else tuple(parts)
    raise CourseError(f"cannot detach a recurrent state of type {type(state).__name__}.")


def state_batch_size(state: Any) -> int:
    """B of a recurrent state (``[L*D, B, H]``, a pair of those, or a named tuple whose first field is one)."""
    while isinstance(state, tuple):
        state = state[0]
    return int(state.shape[1])


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of values in ``module``'s parameters; with ``trainable_only`` only those with ``requires_grad``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


# --------------------------------------------------------------------------- initialisation


def _keep_gate_rows(rnn: nn.RNNBase) -> slice:
    """Rows of the stacked gate weights that hold the 'keep the old state' gate."""
    h = rnn.hidden_size
    if isinstance(rnn, nn.LSTM):  # rows: input, forget, cell, output
        return slice(h, 2 * h)
    if isinstance(rnn, nn.GRU):  # rows: reset, update, new; h' = (1 - z) * n + z * h
        return slice(h, 2 * h)
    raise CourseError(f"a {type(rnn).__name__} has no gate to bias.",
                      hint="set_keep_gate_bias works on nn.LSTM (forget gate) and nn.GRU (update gate).")


@torch.no_grad()
def set_keep_gate_bias(rnn: nn.RNNBase, value: float) -> nn.RNNBase:
    """Start a gated cell in "keep" mode: total bias ``value`` on the LSTM forget / GRU update gate.

    With ``value = b`` the gate starts near ``sigmoid(b)`` (b=0: 0.5, b=1: 0.73,
    b=4: 0.98), so the state, and the gradient flowing back through it, decays
    by about that factor per step instead of by one half. Applies to every layer
    and direction; returns ``rnn``.
    """
    rows = _keep_gate_rows(rnn)
    for name, param in rnn.named_parameters():
        if name.startswith("bias_ih"):
            param[rows] = float(value)
        elif name.startswith("bias_hh"):
            param[rows] = 0.0
    return rnn


#: recurrent blocks stacked in each ``weight_hh`` ([G*H, H]), in PyTorch's order
GATE_BLOCKS: dict[str, tuple[str, ...]] = {
    "rnn": ("h",), "gru": ("reset", "update", "new"), "lstm": ("input", "forget", "cell", "output"),
}


def _cell_key(rnn: nn.Module) -> str:
    for key, cls in CELLS.items():
        if isinstance(rnn, cls):
            return key
    raise CourseError(f"set_recurrent_radius needs an nn.RNN, nn.GRU or nn.LSTM, not {type(rnn).__name__}.",
                      hint="build one with build_rnn(cell, ...).")


@torch.no_grad()
def set_recurrent_radius(rnn: nn.RNNBase, radius: float, seed: int | None = None) -> nn.RNNBase:
    """Replace every recurrent block by a random matrix of spectral radius ``radius`` (RNN, GRU or LSTM).

    A plain ``nn.RNN`` has one recurrent matrix per layer and direction,
    ``weight_hh`` [H, H]. A gated cell stacks one [H, H] block per gate along
    the rows of ``weight_hh`` ([3H, H] for a GRU: reset, update, new; [4H, H]
    for an LSTM: input, forget, cell, output; see :data:`GATE_BLOCKS`); each
    block becomes its own Gaussian matrix rescaled so that its largest absolute
    eigenvalue is exactly ``radius``. For a gated cell, then, ``radius`` is the
    size of every matrix that reads ``h_{t-1}``, not of the step's whole
    Jacobian (that also depends on the gate values). Below 1 products of step
    Jacobians shrink (vanishing); well above 1 they can grow (exploding).
    Biases and input weights are untouched; returns ``rnn``.
    """
    key = _cell_key(rnn)
    blocks = len(GATE_BLOCKS[key])
    h = rnn.hidden_size
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    for name, param in rnn.named_parameters():
        if name.startswith("weight_hh"):
            for block in range(blocks):
                w = torch.randn((h, param.shape[1]), generator=gen, dtype=torch.float64)
                rho = torch.linalg.eigvals(w).abs().max()
                param[block * h:(block + 1) * h] = (w * (float(radius) / rho)).to(param.dtype)
    return rnn


def spectral_radius(matrix: torch.Tensor) -> float:
    """Largest absolute eigenvalue of a square matrix."""
    return float(torch.linalg.eigvals(matrix.detach().double().cpu()).abs().max())
