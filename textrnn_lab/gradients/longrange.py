"""A long-range task whose difficulty grows with the sequence length, and a classifier for it.

The task: the first ``num_signal`` tokens of a sequence are *signal* tokens
(ids ``0 .. num_classes-1``) and decide the label, ``y = sum(signal) % num_classes``;
every later position holds a random *distractor* token (ids ``num_classes ..
vocab_size-1``) that carries no information. A model that reads left to right
and answers after the last token must carry the first tokens across
``length - num_signal`` distractors, so the task gets harder as ``length`` grows
while the amount of information stays the same::

    task = FirstTokensTask(length=100)
    x, y = task.sample(64, seed=0)              # x: LongTensor[64, 100], y: LongTensor[64]
    model = SequenceClassifier(task.vocab_size, task.num_classes, cell="lstm")
    logits = model(x)                           # FloatTensor[64, 2]
    result = train_long_range("lstm", task, steps=600)

Every sequence has the same length, so reading the output at position ``T-1``
reads a real token (with padded batches one would read the last *real* position).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CourseError
from ..layers.rnn import build_rnn, cell_name, set_keep_gate_bias
from ..runtime.seeding import seed_everything
from ..training.loop import History, TrainingDiverged, evaluate, fit


@dataclass(frozen=True)
class FirstTokensTask:
    """Sequences of ``length`` tokens whose label is decided by the first ``num_signal`` tokens."""

    length: int
    num_classes: int = 2
    num_signal: int = 1
    num_distractors: int = 8

    def __post_init__(self):
        if self.num_classes < 2:
            raise CourseError(f"num_classes must be at least 2, not {self.num_classes}.")
        if not 1 <= self.num_signal <= self.length:
            raise CourseError(f"num_signal must be between 1 and length={self.length}, not {self.num_signal}.")
        if self.num_distractors < 1:
            raise CourseError(f"num_distractors must be at least 1, not {self.num_distractors}.")

    @property
    def vocab_size(self) -> int:
        """Signal ids ``0 .. num_classes-1`` then distractor ids."""
        return self.num_classes + self.num_distractors

    @property
    def chance(self) -> float:
        """Accuracy of a model that ignores the input (the classes are balanced)."""
        return 1.0 / self.num_classes

    def sample(self, n: int, seed: int | None = None,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` fresh sequences: ``x`` LongTensor[n, length], ``y`` LongTensor[n] (values ``0 .. num_classes-1``)."""
        if generator is None:
            generator = torch.Generator()
            if seed is not None:
                generator.manual_seed(int(seed))
            else:
                generator.seed()
        x = torch.randint(self.num_classes, self.vocab_size, (n, self.length), generator=generator)
        signal = torch.randint(0, self.num_classes, (n, self.num_signal), generator=generator)
        x[:, : self.num_signal] = signal
        y = signal.sum(dim=1) % self.num_classes
        return x, y

    def batches(self, n_batches: int, batch_size: int,
                seed: int | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """A list of ``n_batches`` batches ``(x [batch_size, length], y [batch_size])``."""
        generator = torch.Generator()
        if seed is not None:
            generator.manual_seed(int(seed))
        else:
            generator.seed()
        return [self.sample(batch_size, generator=generator) for _ in range(n_batches)]


class SequenceClassifier(nn.Module):
    """Embedding -> recurrent cell -> linear head on the last time step.

    ``x`` LongTensor[B, T] -> embeddings [B, T, E] -> outputs [B, T, H] ->
    logits FloatTensor[B, num_classes] from ``outputs[:, -1]``. ``keep_gate_bias``
    (LSTM / GRU only) starts the cell in "keep the state" mode; ``None`` keeps
    PyTorch's initialisation.
    """

    def __init__(self, vocab_size: int, num_classes: int, cell: str = "lstm", hidden_size: int = 32,
                 embed_dim: int = 16, num_layers: int = 1, keep_gate_bias: float | None = None):
        super().__init__()
        cell = cell_name(cell)
        self.cell = cell
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.rnn = build_rnn(cell, embed_dim, hidden_size, num_layers=num_layers)
        if keep_gate_bias is not None and cell != "rnn":
            set_keep_gate_bias(self.rnn, keep_gate_bias)
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.rnn(self.embed(x))  # [B, T, H]
        return self.head(outputs[:, -1])       # [B, num_classes]


def classification_loss(model: nn.Module, batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Cross-entropy and accuracy of ``model`` on ``(x [B, T], y [B])``; the ``loss_fn`` for :func:`fit`."""
    x, y = batch
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    acc = (logits.argmax(dim=-1) == y).float().mean()
    return loss, {"acc": acc}


@dataclass
class LongRangeResult:
    """One training run: the cell, the sequence length, test accuracy, the history and the model."""

    cell: str
    length: int
    test_acc: float
    seconds: float
    history: History
    model: nn.Module
    diverged: bool = False

    def row(self) -> dict[str, Any]:
        return {"cell": self.cell, "length": self.length, "test_acc": round(self.test_acc, 4),
                "seconds": round(self.seconds, 1), "diverged": self.diverged}


def train_long_range(cell: str, task: FirstTokensTask, *, steps: int = 600, batch_size: int = 64,
                     lr: float = 3e-3, hidden_size: int = 32, embed_dim: int = 16,
                     keep_gate_bias: float | None = 4.0, clip_grad_norm: float | None = 1.0,
                     n_test: int = 1000, eval_every: int = 50, seed: int = 0,
                     device: str | torch.device = "cpu", max_seconds: float | None = None) -> LongRangeResult:
    """Train a :class:`SequenceClassifier` with ``cell`` on fresh batches of ``task``; test on ``n_test`` new ones.

    Training uses the shared :func:`~textrnn_lab.training.loop.fit` (AdamW, global-norm
    clipping) for ``steps`` optimizer steps, every batch new (the task has no
    fixed training set, so the model cannot memorise one); the history has a
    row per step and a mean every ``eval_every`` steps. A run whose loss becomes
    NaN is reported with ``diverged=True`` (accuracy on the test set of the model
    as it was). Mixed precision stays off: these models are tiny, and the results
    should not depend on the device.
    """
    seed_everything(seed)
    model = SequenceClassifier(task.vocab_size, task.num_classes, cell=cell, hidden_size=hidden_size,
                               embed_dim=embed_dim, keep_gate_bias=keep_gate_bias)

    def fresh_batches():
        generator = torch.Generator().manual_seed(seed * 100_003 + 1)
        while True:
            yield task.sample(batch_size, generator=generator)

    test = task.batches(max(1, n_test // 250), min(250, n_test), seed=10_000_019 + seed)
    start = time.perf_counter()
    diverged = False
    try:
        history = fit(model, fresh_batches(), classification_loss, lr=lr, max_steps=int(steps),
                      max_seconds=max_seconds, eval_every=eval_every, device=device, clip_grad_norm=clip_grad_norm,
                      amp=False, progress=False)
    except TrainingDiverged as exc:
        history, diverged = exc.history, True
    seconds = time.perf_counter() - start
    test_acc = evaluate(model, test, classification_loss, device=device, amp=False).get("acc", float("nan"))
    return LongRangeResult(cell=cell, length=task.length, test_acc=float(test_acc), seconds=seconds,
                           history=history, model=model, diverged=diverged)
