"""The ways of working of a recurrent network, side by side (chapter 04, section 1).

::

    rnn = build_mode("bidirectional", input_size=16, hidden_size=64)
    rows = mode_summary()      # parameters, output and state shapes, forward time per mode
"""
from __future__ import annotations

import math
import time
from typing import Iterable, NamedTuple

import torch
from torch import nn

from ..errors import CourseError
from ..layers.rnn import build_rnn, count_parameters


class RNNMode(NamedTuple):
    """One way of using a recurrent layer: its cell, depth, direction, and what it is for."""

    cell: str
    num_layers: int
    bidirectional: bool
    good_for: str


#: the "ways of working" of an RNN, by name
MODES: dict[str, RNNMode] = {
    "standard": RNNMode("rnn", 1, False,
                        "one tanh layer read left to right; streaming input, short contexts, a baseline"),
    "bidirectional": RNNMode("rnn", 1, True,
                             "a left-to-right and a right-to-left pass, outputs concatenated; tagging and "
                             "classifying a text that is complete before it is read (never for generating it)"),
    "deep": RNNMode("rnn", 2, False,
                    "layers stacked, each reading the sequence of the layer below; richer features per step, "
                    "but no shorter path through time"),
    "lstm": RNNMode("lstm", 1, False,
                    "a gated cell state updated by addition; long-range dependencies, language models, tagging"),
    "gru": RNNMode("gru", 1, False,
                   "a gated cell with 3 weight blocks instead of the LSTM's 4; the same uses, fewer parameters"),
}


def build_mode(mode: str, input_size: int, hidden_size: int) -> nn.RNNBase:
    """The ``batch_first`` module for one of :data:`MODES` (see :func:`~textrnn_lab.layers.rnn.build_rnn`)."""
    key = str(mode).lower()
    if key not in MODES:
        raise CourseError(f"unknown RNN mode {mode!r}.", hint=f"use one of: {', '.join(MODES)}")
    spec = MODES[key]
    return build_rnn(spec.cell, input_size, hidden_size, num_layers=spec.num_layers, bidirectional=spec.bidirectional)


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
        rnn = build_mode(mode, input_size, hidden_size)
        outputs, state = rnn(x)
        best = math.inf
        for _ in range(max(1, repeats)):
            start = time.perf_counter()
            rnn(x)
            best = min(best, time.perf_counter() - start)
        h = state[0] if isinstance(state, tuple) else state
        rows.append({
            "mode": mode,
            "cell": MODES[mode].cell,
            "parameters": count_parameters(rnn),
            "outputs": tuple(outputs.shape),
            "state": tuple(h.shape) if not isinstance(state, tuple) else f"2 x {tuple(h.shape)}",
            "forward_ms": round(best * 1000, 2),
            "good_for": MODES[mode].good_for,
        })
    return rows
