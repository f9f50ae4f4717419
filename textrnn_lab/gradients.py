"""Gradients through time: the RNN modes, per-time-step gradient probes, global-norm clipping.

A recurrent network applies the same step ``h_t = f(h_{t-1}, x_t)`` at every
position, so the gradient of a loss computed at the end of a sequence reaches
step ``k`` through the product of ``T - k`` step Jacobians. This module
measures that gradient, one norm per time step::

    rnn = build_rnn("lstm", input_size=16, hidden_size=64)     # batch_first
    x = torch.randn(32, 100, 16)                                # [B, T, E]
    norms = input_gradient_norms(rnn, x)                        # [T]: ||dL/dx_t||
    norms = hidden_gradient_norms(rnn, x)                       # [T]: ||dL/dh_t||
    ratio = float(norms[0] / norms[-1])                         # first step / last step

and gives the reference for clipping every gradient by one *global* norm
(:func:`clip_grad_norm`, the same rule as ``torch.nn.utils.clip_grad_norm_``).

Shapes: ``B`` batch, ``T`` time steps, ``E`` input features, ``H`` hidden units,
``L`` layers, ``D`` directions (2 when bidirectional).
"""
from __future__ import annotations

import math
import time
from typing import Callable, Iterable

import torch
from torch import nn

from .errors import CourseError

#: the three recurrent cells, by the names the course uses
CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

#: the "ways of working" of an RNN: name -> (cell, layers, bidirectional, what it is for)
MODES: dict[str, tuple[str, int, bool, str]] = {
    "standard": ("rnn", 1, False,
                 "one tanh layer read left to right; streaming input, short contexts, a baseline"),
    "bidirectional": ("rnn", 1, True,
                      "a left-to-right and a right-to-left pass, outputs concatenated; tagging and "
                      "classifying a text that is complete before it is read (never for generating it)"),
    "deep": ("rnn", 2, False,
             "layers stacked, each reading the sequence of the layer below; richer features per step, "
             "but no shorter path through time"),
    "lstm": ("lstm", 1, False,
             "a gated cell state updated by addition; long-range dependencies, language models, tagging"),
    "gru": ("gru", 1, False,
            "a gated cell with 3 weight blocks instead of the LSTM's 4; the same uses, fewer parameters"),
}

LossOnOutputs = Callable[[torch.Tensor], torch.Tensor]


def last_step_sum(outputs: torch.Tensor) -> torch.Tensor:
    """The default probe loss: ``outputs[:, -1].sum()`` (outputs: [B, T, D*H] -> scalar).

    It depends on the last time step only, so any gradient reaching an earlier
    step travelled there through the recurrence.
    """
    return outputs[:, -1].sum()


def _cell_name(cell: str) -> str:
    key = str(cell).lower()
    if key not in CELLS:
        raise CourseError(f"unknown recurrent cell {cell!r}.", hint=f"use one of: {', '.join(CELLS)}")
    return key


def build_rnn(mode: str, input_size: int, hidden_size: int, *, num_layers: int | None = None,
              bidirectional: bool | None = None, nonlinearity: str = "tanh", dropout: float = 0.0) -> nn.RNNBase:
    """One of the RNN modes as a ``batch_first`` PyTorch module.

    ``mode`` is a key of :data:`MODES` ("standard", "bidirectional", "deep",
    "lstm", "gru") or a cell name of :data:`CELLS` ("rnn", "lstm", "gru");
    ``num_layers`` and ``bidirectional`` override the mode's defaults.
    The module maps ``x: [B, T, input_size]`` to ``(outputs, state)`` with
    ``outputs: [B, T, D*hidden_size]`` and ``state: [L*D, B, hidden_size]``
    (for an LSTM a pair ``(h, c)`` of that shape).
    """
    key = str(mode).lower()
    if key in MODES:
        cell, layers, both, _ = MODES[key]
    elif key in CELLS:
        cell, layers, both = key, 1, False
    else:
        raise CourseError(f"unknown RNN mode {mode!r}.",
                          hint=f"use one of: {', '.join(list(MODES) + ['rnn'])}")
    layers = int(num_layers) if num_layers is not None else layers
    both = bool(bidirectional) if bidirectional is not None else both
    kwargs = dict(num_layers=layers, bidirectional=both, batch_first=True,
                  dropout=dropout if layers > 1 else 0.0)
    if cell == "rnn":
        kwargs["nonlinearity"] = nonlinearity
    return CELLS[cell](input_size, hidden_size, **kwargs)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable values in ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@torch.no_grad()
def mode_summary(input_size: int = 16, hidden_size: int = 64, seq_len: int = 100, batch_size: int = 32,
                 modes: Iterable[str] = tuple(MODES), repeats: int = 3, seed: int = 0) -> list[dict]:
    """One row per mode: parameters, output and state shapes, milliseconds per forward pass.

    The forward time is the best of ``repeats`` passes over a random batch
    ``[batch_size, seq_len, input_size]`` on the CPU.
    """
    rows = []
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_size, seq_len, input_size, generator=gen)
    for mode in modes:
        rnn = build_rnn(mode, input_size, hidden_size)
        outputs, state = rnn(x)
        best = math.inf
        for _ in range(max(1, repeats)):
            start = time.perf_counter()
            rnn(x)
            best = min(best, time.perf_counter() - start)
        h = state[0] if isinstance(state, tuple) else state
        rows.append({
            "mode": mode,
            "cell": MODES[mode][0] if mode in MODES else mode,
            "parameters": count_parameters(rnn),
            "outputs": tuple(outputs.shape),
            "state": tuple(h.shape) if not isinstance(state, tuple) else f"2 x {tuple(h.shape)}",
            "forward_ms": round(best * 1000, 2),
            "good_for": MODES[mode][3] if mode in MODES else "",
        })
    return rows


# --------------------------------------------------------------------------- initialisation


def _gate_slice(rnn: nn.RNNBase) -> slice:
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
    rows = _gate_slice(rnn)
    for name, param in rnn.named_parameters():
        if name.startswith("bias_ih"):
            param[rows] = float(value)
        elif name.startswith("bias_hh"):
            param[rows] = 0.0
    return rnn


@torch.no_grad()
def set_recurrent_radius(rnn: nn.RNN, radius: float, seed: int | None = None) -> nn.RNN:
    """Replace every recurrent matrix of a plain ``nn.RNN`` by a random one with spectral radius ``radius``.

    Each ``weight_hh`` ([H, H]) becomes a Gaussian matrix rescaled so that its
    largest absolute eigenvalue is exactly ``radius``. Below 1 the product of
    step Jacobians shrinks (vanishing); well above 1 it can grow (exploding).
    """
    if not isinstance(rnn, nn.RNN):
        raise CourseError(f"set_recurrent_radius needs a plain nn.RNN, not {type(rnn).__name__}.",
                          hint="gated cells stack several recurrent blocks; scale a plain RNN instead.")
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    for name, param in rnn.named_parameters():
        if name.startswith("weight_hh"):
            w = torch.randn(param.shape, generator=gen, dtype=torch.float64)
            rho = torch.linalg.eigvals(w).abs().max()
            param.copy_((w * (float(radius) / rho)).to(param.dtype))
    return rnn


def spectral_radius(matrix: torch.Tensor) -> float:
    """Largest absolute eigenvalue of a square matrix."""
    return float(torch.linalg.eigvals(matrix.detach().double().cpu()).abs().max())


# --------------------------------------------------------------------------- probes


def input_gradient_norms(rnn: nn.Module, x: torch.Tensor, loss_fn: LossOnOutputs = last_step_sum) -> torch.Tensor:
    """``||dL/dx_t||`` for every time step ``t``: how much the loss hears of each input.

    Args:
        rnn: a ``batch_first`` module returning ``(outputs, state)``, such as
            ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` (any number of layers or directions).
        x: FloatTensor[B, T, E], the inputs (not modified).
        loss_fn: ``outputs [B, T, D*H] -> scalar``; default :func:`last_step_sum`.

    Returns:
        FloatTensor[T] (detached): the L2 norm of ``dL/dx[:, t, :]`` taken over
        the batch and the features together. The module's parameter gradients are
        left untouched.
    """
    x = x.detach().clone().requires_grad_(True)
    outputs, _ = rnn(x)
    loss = loss_fn(outputs)
    (grad,) = torch.autograd.grad(loss, x)
    return grad.pow(2).sum(dim=(0, 2)).sqrt()


def hidden_gradient_norms(rnn: nn.RNNBase, x: torch.Tensor, loss_fn: LossOnOutputs = last_step_sum,
                          return_loss: bool = False):
    """``||dL/dh_t||`` for every time step ``t``: the gradient at each hidden state.

    The module is run one step at a time with its own weights, so the hidden
    state after every step is a node of the graph whose gradient can be read.
    ``h_t`` is the top layer's hidden state (for an LSTM ``h``, not the cell
    state ``c``); its gradient counts every path from ``h_t`` to the loss.

    Args:
        rnn: a unidirectional, ``batch_first`` ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``.
        x: FloatTensor[B, T, E].
        loss_fn: ``outputs [B, T, H] -> scalar``; default :func:`last_step_sum`.

    Returns:
        FloatTensor[T] (detached), the L2 norm over batch and hidden units
        (float64 when ``x`` and the module are float64: over hundreds of steps the
        smallest norms fall below what float32 can hold, about 1e-38); with
        ``return_loss=True`` the pair ``(norms, loss)``.
    """
    if not isinstance(rnn, nn.RNNBase) or not rnn.batch_first:
        raise CourseError("hidden_gradient_norms needs a batch_first nn.RNN, nn.LSTM or nn.GRU.",
                          hint="build one with build_rnn(...), or use input_gradient_norms for any module.")
    if rnn.bidirectional:
        raise CourseError("a bidirectional RNN cannot be run one step at a time (its backward pass "
                          "needs the whole sequence).",
                          hint="probe it with input_gradient_norms instead.")
    x = x.detach()
    state = None
    tops, outputs = [], []
    for t in range(x.shape[1]):
        out, state = rnn(x[:, t:t + 1], state)
        h = state[0] if isinstance(state, tuple) else state  # [L, B, H]
        tops.append(h)
        outputs.append(out)
    loss = loss_fn(torch.cat(outputs, dim=1))
    # h_t is used twice: as the step's output (read by the loss) and as the state
    # (read by the next step); its gradient is the sum of both.
    grads = torch.autograd.grad(loss, tops + outputs, allow_unused=True)
    steps = x.shape[1]
    norms = torch.empty(steps, dtype=torch.float64 if x.dtype == torch.float64 else torch.float32)
    for t in range(steps):
        g_state, g_out = grads[t], grads[steps + t]
        total = g_state[-1] if g_state is not None else torch.zeros_like(tops[t][-1])
        if g_out is not None:
            total = total + g_out[:, 0]
        norms[t] = total.detach().to(norms.dtype).norm().cpu()
    return (norms, loss.detach()) if return_loss else norms


def gradient_ratio(norms: torch.Tensor) -> float:
    """``norms[0] / norms[-1]``: below 1 the signal fades going back in time, above 1 it grows."""
    first, last = float(norms[0]), float(norms[-1])
    if last == 0.0:
        return math.inf if first > 0 else math.nan
    return first / last


# --------------------------------------------------------------------------- clipping


def global_grad_norm(parameters: Iterable[torch.Tensor] | torch.Tensor) -> torch.Tensor:
    """The L2 norm of all gradients together, ``sqrt(sum_p ||p.grad||^2)`` (parameters without a gradient count 0)."""
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    return torch.sqrt(sum(g.detach().float().pow(2).sum() for g in grads))


def clip_grad_norm(parameters: Iterable[torch.Tensor] | torch.Tensor, max_norm: float,
                   eps: float = 1e-6) -> torch.Tensor:
    """Scale every gradient by one factor so that their global norm is at most ``max_norm``.

    The factor is ``min(1, max_norm / (total + eps))`` with ``total`` the global
    norm (:func:`global_grad_norm`), the same rule as
    ``torch.nn.utils.clip_grad_norm_``. The direction of the whole gradient is
    kept; only its length changes. Gradients are modified in place; returns
    ``total``, the norm *before* clipping.
    """
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    parameters = [p for p in parameters if p.grad is not None]
    total = global_grad_norm(parameters)
    factor = torch.clamp(float(max_norm) / (total + eps), max=1.0)
    for p in parameters:
        p.grad.detach().mul_(factor.to(p.grad.device, p.grad.dtype))
    return total
