"""Unstable training of a character language model, and its remedies, one run each (chapter 04).

The scenario: a character-level RNN language model trains well on short
windows of text, but as the training windows get longer the loss jumps, the
gradient norm spikes by orders of magnitude, and training ends in NaN. Each run
is chapter 01's :class:`~textrnn_lab.lm.model.CharLM` (small, no attention)
trained with plain SGD (which, unlike Adam, applies a huge gradient as a huge
step) on random windows of the text, recording the loss and the global
gradient norm of *every* step::

    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)                               # LongTensor[N]
    small = small_lm_config(len(vocab))                    # a plain RNN, 128 hidden units
    run = train_char_lm(ids, small, seq_len=256, recurrent_radius=1.5)
    run.diverged, run.losses, run.grad_norms               # per step
    run = train_char_lm(ids, small, seq_len=256, recurrent_radius=1.5, clip_grad_norm=1.0)

Remedies available as arguments: ``clip_grad_norm`` (global-norm clipping),
``lr`` (a smaller step), ``recurrent_radius=None`` (PyTorch's small
initialisation), ``replace(small, cell="lstm")`` (a gated cell) and ``truncate``
(truncated back-propagation through time: the state is carried forward but the
gradient stops every ``truncate`` steps).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch

from ..layers.rnn import set_recurrent_radius
from ..lm.batching import random_windows
from ..lm.loss import TBPTTLoss
from ..lm.model import CharLM, CharLMConfig
from ..runtime.seeding import seed_everything
from ..training.loop import TrainingDiverged, fit


def small_lm_config(vocab_size: int, cell: str = "rnn", hidden_size: int = 128, embed_dim: int = 32) -> CharLMConfig:
    """The chapter's small language model: one recurrent layer, no attention, no dropout."""
    return CharLMConfig(vocab_size, cell=cell, hidden_size=hidden_size, embed_dim=embed_dim)


def build_lm(config: CharLMConfig, recurrent_radius: float | None = None, seed: int = 0) -> CharLM:
    """A freshly initialised :class:`CharLM`; ``recurrent_radius`` rescales its recurrent matrices (any cell).

    The radius stands for a network whose weights have grown during training
    (see :func:`~textrnn_lab.layers.rnn.set_recurrent_radius`: for a GRU or an
    LSTM every gate's [H, H] recurrent block gets that radius, so that the cells
    compared start equally large); ``None`` keeps PyTorch's initialisation (a
    radius of about 0.6 for 128 hidden units). Note that :class:`CharLM` starts
    an LSTM's forget-gate bias at 1, not at PyTorch's 0.
    """
    seed_everything(seed)
    model = CharLM(config)
    if recurrent_radius is not None:
        set_recurrent_radius(model.rnn, recurrent_radius, seed=seed)
    return model


def window_batch(ids: torch.Tensor, batch_size: int, seq_len: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch of ``batch_size`` random windows, ``(x, y)``, LongTensor[B, T] each, y shifted by one."""
    generator = torch.Generator().manual_seed(seed)
    return next(random_windows(ids, batch_size, seq_len, 1, generator))


@dataclass
class LMRun:
    """One run: settings, per-step losses and gradient norms (before clipping), and the outcome."""

    label: str
    seq_len: int
    losses: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)
    diverged: bool = False
    diverged_at: int | None = None   # the first step whose loss was NaN or infinite
    seconds: float = 0.0

    @property
    def final_loss(self) -> float:
        """Mean loss of the last 20 steps (NaN when the run diverged)."""
        if self.diverged or not self.losses:
            return math.nan
        tail = self.losses[-20:]
        return sum(tail) / len(tail)

    @property
    def max_grad_norm(self) -> float:
        finite = [g for g in self.grad_norms if math.isfinite(g)]
        return max(finite) if finite else math.nan

    def row(self) -> dict:
        return {"run": self.label, "seq_len": self.seq_len,
                "final_loss": round(self.final_loss, 3) if math.isfinite(self.final_loss) else "NaN",
                "max_grad_norm": float(f"{self.max_grad_norm:.3g}"),
                "diverged_at_step": self.diverged_at, "seconds": round(self.seconds, 1)}


def train_char_lm(ids: torch.Tensor, config: CharLMConfig, *, seq_len: int, steps: int = 200,
                  batch_size: int = 32, lr: float = 1.0, recurrent_radius: float | None = 1.5,
                  clip_grad_norm: float | None = None, truncate: int | None = None, seed: int = 0,
                  device: str | torch.device = "cpu", label: str | None = None) -> LMRun:
    """Train :func:`build_lm` ``(config, recurrent_radius)`` with SGD for ``steps`` steps on random windows.

    Every step reads ``batch_size`` fresh windows of ``seq_len`` characters of
    ``ids``, each from a zero state. The gradient norm of every step is
    recorded; without ``clip_grad_norm`` it is measured but not limited. A NaN
    loss ends the run with ``diverged=True``. Mixed precision stays off, so that
    where a run diverges does not depend on the device.
    """
    model = build_lm(config, recurrent_radius, seed)
    generator = torch.Generator().manual_seed(seed + 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    run = LMRun(label=label or f"{config.cell}, T={seq_len}", seq_len=seq_len)
    start = time.perf_counter()
    try:
        # clip_grad_norm = inf measures the global norm without changing the gradients
        history = fit(model, random_windows(ids, batch_size, seq_len, steps, generator), TBPTTLoss(truncate),
                      optimizer=optimizer, max_steps=steps, device=device, amp=False, progress=False,
                      clip_grad_norm=clip_grad_norm if clip_grad_norm is not None else math.inf)
    except TrainingDiverged as exc:
        history = exc.history
        run.diverged = True
    run.seconds = time.perf_counter() - start
    run.losses = [float(v) for v in history.per_step("loss")]
    run.grad_norms = [float(v) for v in history.per_step("grad_norm")]
    if run.diverged:
        run.diverged_at = next(i for i, v in enumerate(run.losses, start=1) if not math.isfinite(v))
    return run
