"""The ways of working of a recurrent network, side by side (chapter 04, section 1).

::

    rnn = build_mode("bidirectional", input_size=16, hidden_size=64)
    rows = mode_summary()      # parameters, output and state shapes, forward time per mode

Two tagging tasks measure what a mode is for (one label per position)::

    task = TaggingTask(length=20, rule="next")          # y_t = (x_t + x_{t+1}) % K: needs right-hand context
    result = train_tagger(task, "rnn", hidden_size=32, bidirectional=True, steps=300, seed=0)
    result.test_acc                                      # per-position accuracy on fresh sequences
    hidden_size_for(count_parameters(build_rnn("rnn", 8, 64)), "rnn", 8, num_layers=2)   # equal-size deep RNN
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Iterable, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CourseError
from ..layers.rnn import build_rnn, count_parameters
from ..runtime.seeding import seed_everything
from ..training.loop import evaluate, fit


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


# --------------------------------------------------------------------------- tagging tasks for the modes

#: label of each position, from the tokens ``x`` [B, T] (values ``0 .. K-1``); -100 where it is undefined
TAGGING_RULES = {
    # needs one token of right-hand context: a left-to-right reader is at chance
    "next": "y_t = (x_t + x_{t+1}) % K",
    # needs the last three tokens, all on the left: a left-to-right reader can be exact
    "window": "y_t = (x_{t-2} + x_{t-1} + x_t) % K",
}


@dataclass(frozen=True)
class TaggingTask:
    """Random sequences of ``length`` tokens in ``0 .. num_classes-1``, one label per position (see TAGGING_RULES)."""

    length: int
    rule: str = "next"
    num_classes: int = 4

    def __post_init__(self):
        if self.rule not in TAGGING_RULES:
            raise CourseError(f"unknown tagging rule {self.rule!r}.", hint=f"use one of: {', '.join(TAGGING_RULES)}")
        if self.length < 3 or self.num_classes < 2:
            raise CourseError("a tagging task needs length >= 3 and num_classes >= 2.")

    @property
    def chance(self) -> float:
        return 1.0 / self.num_classes

    def labels(self, x: torch.Tensor) -> torch.Tensor:
        """LongTensor[B, T] of labels for ``x`` [B, T]; -100 (ignored by the loss) where the rule has no value."""
        k = self.num_classes
        y = torch.full_like(x, -100)
        if self.rule == "next":
            y[:, :-1] = (x[:, :-1] + x[:, 1:]) % k
        else:
            y[:, 2:] = (x[:, :-2] + x[:, 1:-1] + x[:, 2:]) % k
        return y

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` fresh sequences: ``x`` LongTensor[n, length] and its labels ``y`` LongTensor[n, length]."""
        x = torch.randint(0, self.num_classes, (n, self.length), generator=generator)
        return x, self.labels(x)


class Tagger(nn.Module):
    """Embedding -> recurrent layers (any mode) -> linear head at every position.

    ``x`` LongTensor[B, T] -> embeddings [B, T, E] -> outputs [B, T, D*H] -> logits [B, T, num_classes].
    """

    def __init__(self, vocab_size: int, num_classes: int, cell: str = "rnn", hidden_size: int = 32,
                 embed_dim: int = 8, num_layers: int = 1, bidirectional: bool = False):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.rnn = build_rnn(cell, embed_dim, hidden_size, num_layers=num_layers, bidirectional=bidirectional)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.rnn(self.embed(x))  # [B, T, D*H]
        return self.head(outputs)              # [B, T, num_classes]


def tagging_loss(model: nn.Module, batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Cross-entropy and accuracy over the labelled positions of ``(x [B, T], y [B, T])``."""
    x, y = batch
    logits = model(x)                                          # [B, T, K]
    loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=-100)
    mask = y != -100
    acc = (logits.argmax(dim=-1) == y)[mask].float().mean()
    return loss, {"acc": acc}


def hidden_size_for(parameters: int, cell: str, input_size: int, num_layers: int = 1,
                    bidirectional: bool = False) -> int:
    """The hidden size whose recurrent layers have the parameter count closest to ``parameters``."""
    def count(h: int) -> int:
        return count_parameters(build_rnn(cell, input_size, h, num_layers=num_layers, bidirectional=bidirectional))

    best, h = 1, 1
    while True:  # the count grows with h: stop at the first size past the target
        size = count(h)
        if abs(size - parameters) < abs(count(best) - parameters):
            best = h
        if size >= parameters:
            return best
        h += 1


@dataclass
class TaggerResult:
    """One tagger run: its settings, the accuracy on fresh test sequences, and the model."""

    label: str
    test_acc: float
    parameters: int
    seconds: float
    model: nn.Module

    def row(self) -> dict[str, Any]:
        return {"run": self.label, "test_acc": round(self.test_acc, 4), "parameters": self.parameters,
                "seconds": round(self.seconds, 1)}


def train_tagger(task: TaggingTask, cell: str = "rnn", *, hidden_size: int = 32, num_layers: int = 1,
                 bidirectional: bool = False, steps: int = 300, batch_size: int = 32, lr: float = 3e-3,
                 embed_dim: int = 8, seed: int = 0, n_test: int = 500, device: str | torch.device = "cpu",
                 label: str | None = None) -> TaggerResult:
    """Train a :class:`Tagger` on fresh batches of ``task`` (AdamW, clipping at 1) and test it on new sequences."""
    seed_everything(seed)
    model = Tagger(task.num_classes, task.num_classes, cell=cell, hidden_size=hidden_size, embed_dim=embed_dim,
                   num_layers=num_layers, bidirectional=bidirectional)

    def fresh_batches():
        generator = torch.Generator().manual_seed(seed * 100_003 + 7)
        while True:
            yield task.sample(batch_size, generator)

    test_gen = torch.Generator().manual_seed(20_000_003 + seed)
    test = [task.sample(min(250, n_test), test_gen) for _ in range(max(1, n_test // 250))]
    start = time.perf_counter()
    fit(model, fresh_batches(), tagging_loss, lr=lr, max_steps=int(steps), device=device, clip_grad_norm=1.0,
        amp=False, progress=False)
    seconds = time.perf_counter() - start
    acc = evaluate(model, test, tagging_loss, device=device, amp=False).get("acc", float("nan"))
    name = label or f"{cell}, {num_layers} layer{'s' if num_layers > 1 else ''}{', bidirectional' * bidirectional}"
    return TaggerResult(label=name, test_acc=float(acc), parameters=count_parameters(model), seconds=seconds,
                        model=model)
