"""Gradients through time: how much of the loss reaches each time step of a recurrent network.

Introduced in chapter 04. A recurrent network applies the same step
``h_t = f(h_{t-1}, x_t)`` at every position, so the gradient of a loss computed
at the end of a sequence reaches step ``k`` through the product of ``T - k``
step Jacobians. These probes measure that gradient, one norm per time step::

    rnn = build_rnn("lstm", input_size=16, hidden_size=64)     # batch_first
    x = torch.randn(32, 100, 16)                                # [B, T, E]
    norms = input_gradient_norms(rnn, x)                        # [T]: ||dL/dx_t||
    norms = hidden_gradient_norms(rnn, x)                       # [T]: ||dL/dh_t||
    ratio = gradient_ratio(norms)                               # first step / last step

Shapes: ``B`` batch, ``T`` time steps, ``E`` input features, ``H`` hidden units,
``L`` layers, ``D`` directions (2 when bidirectional).
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from ..errors import CourseError

LossOnOutputs = Callable[[torch.Tensor], torch.Tensor]


def last_step_sum(outputs: torch.Tensor) -> torch.Tensor:
    """The default probe loss: ``outputs[:, -1].sum()`` (outputs: [B, T, D*H] -> scalar).

    It depends on the last time step only, so any gradient reaching an earlier
    step travelled there through the recurrence.
    """
    return outputs[:, -1].sum()


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


def memory_time_constant(bias: float) -> float:
    """``tau = -1 / ln sigmoid(b)``: the steps over which a keep gate of bias ``b`` (and nothing else) keeps 1/e.

    A gate held at ``sigmoid(b)`` multiplies the kept state, and the gradient
    flowing back along it, by that factor per step, so after ``k`` steps by
    ``exp(-k / tau)``: the log of the gradient norm falls by ``1 / tau`` per step
    back. ``-ln sigmoid(b) = ln(1 + e^-b)`` is computed without overflow for any
    ``b`` (``log1p`` keeps it exact where ``sigmoid(b)`` rounds to 1).
    """
    b = float(bias)
    neg_log_sigmoid = (-b if b < 0 else 0.0) + math.log1p(math.exp(-abs(b)))
    return math.inf if neg_log_sigmoid == 0.0 else 1.0 / neg_log_sigmoid


def log_slope(norms: torch.Tensor, skip_last: int = 0) -> float:
    """Least-squares slope of ``ln norms[t]`` per step *back* in time (negative when the gradient fades).

    ``norms`` [T] as returned by the probes (the loss at the last step);
    ``skip_last`` leaves out the last steps, where the gradient also reaches the
    output directly. Zero norms are left out.
    """
    values = torch.as_tensor(norms, dtype=torch.float64).flatten()
    steps_back = torch.arange(len(values) - 1, -1, -1, dtype=torch.float64)
    keep = values > 0
    if skip_last > 0:
        keep[len(values) - int(skip_last):] = False
    if int(keep.sum()) < 2:
        return math.nan
    k, y = steps_back[keep], values[keep].log()
    k_mean, y_mean = k.mean(), y.mean()
    return float(((k - k_mean) * (y - y_mean)).sum() / ((k - k_mean) ** 2).sum())


@torch.no_grad()
def keep_gate_values(rnn: nn.RNNBase, x: torch.Tensor) -> torch.Tensor:
    """The keep gate's values along a sequence: the LSTM's forget gate ``f_t`` or the GRU's update gate ``z_t``.

    ``rnn``: a one-layer, unidirectional, ``batch_first`` ``nn.LSTM`` / ``nn.GRU``; ``x`` [B, T, E]. Returns
    [B, T, H]: the gate as the cell computed it at every step, from its bias, the input ``x_t`` and the
    previous state ``h_{t-1}`` (what the direct path really multiplied by, rather than ``sigmoid(bias)``).
    """
    if not isinstance(rnn, (nn.LSTM, nn.GRU)) or rnn.num_layers != 1 or rnn.bidirectional or not rnn.batch_first:
        raise CourseError("keep_gate_values needs a one-layer, unidirectional, batch_first nn.LSTM or nn.GRU.")
    outputs, _ = rnn(x)                                                           # [B, T, H]
    h_prev = torch.cat([torch.zeros_like(outputs[:, :1]), outputs[:, :-1]], dim=1)  # h_{t-1}, h_{-1} = 0
    h = rnn.hidden_size
    rows = slice(h, 2 * h)  # forget (LSTM) / update (GRU): the second block in both
    pre = (x @ rnn.weight_ih_l0[rows].T + rnn.bias_ih_l0[rows]
           + h_prev @ rnn.weight_hh_l0[rows].T + rnn.bias_hh_l0[rows])            # [B, T, H]
    return torch.sigmoid(pre)
