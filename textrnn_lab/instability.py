"""Unstable training of an RNN language model, and its remedies, one run each.

The scenario: a character-level RNN language model trains well on short
windows of text, but as the training sequences get longer the loss jumps, the
gradient norm spikes by orders of magnitude, and training ends in NaN. Each run
here is a tiny char-LM trained with plain SGD (which, unlike Adam, applies a
huge gradient as a huge step) and records the loss and the global gradient norm
of *every* step::

    corpus = CharCorpus(text)                             # ids: LongTensor[N]
    run = train_char_lm(corpus, seq_len=256, recurrent_radius=1.5)
    run.diverged, run.losses, run.grad_norms              # per step
    run = train_char_lm(corpus, seq_len=256, recurrent_radius=1.5, clip_grad_norm=1.0)

Remedies available as arguments: ``clip_grad_norm`` (global-norm clipping),
``lr`` (a smaller step), ``recurrent_radius=None`` (PyTorch's small
initialisation), ``cell="lstm"`` (a gated cell) and ``truncate`` (truncated
back-propagation through time: the state is carried forward but the gradient
stops every ``truncate`` steps).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .errors import CourseError
from .gradients import build_rnn, set_recurrent_radius
from .seeding import seed_everything
from .training import TrainingDiverged, fit


class CharCorpus:
    """A text as a LongTensor of character ids, with random training windows.

    ``windows(batch_size, seq_len, generator)`` returns ``(x, y)``, both
    LongTensor[batch_size, seq_len], where ``y`` is ``x`` shifted by one character.
    """

    def __init__(self, text: str):
        if len(text) < 2:
            raise CourseError("the text is too short to train a language model on.")
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}
        self.ids = torch.tensor([self.index[c] for c in text], dtype=torch.long)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def __len__(self) -> int:
        return int(self.ids.numel())

    def windows(self, batch_size: int, seq_len: int, generator: torch.Generator | None = None):
        if seq_len + 1 > len(self):
            raise CourseError(f"seq_len={seq_len} is longer than the text ({len(self)} characters).",
                              hint="use a shorter seq_len or a longer text.")
        starts = torch.randint(0, len(self) - seq_len - 1, (batch_size,), generator=generator)
        offsets = torch.arange(seq_len + 1)
        chunk = self.ids[starts[:, None] + offsets]  # [B, seq_len + 1]
        return chunk[:, :-1], chunk[:, 1:]


class TinyCharLM(nn.Module):
    """Embedding -> RNN / LSTM / GRU -> linear: ``x`` LongTensor[B, T] -> logits FloatTensor[B, T, V].

    With ``truncate=k`` the sequence is processed in chunks of ``k`` steps and
    the state passed between chunks is detached: information still flows
    forward through all ``T`` steps, gradients flow back at most ``k`` steps.
    """

    def __init__(self, vocab_size: int, cell: str = "rnn", hidden_size: int = 128, embed_size: int = 32,
                 truncate: int | None = None):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.rnn = build_rnn(cell, embed_size, hidden_size)
        self.head = nn.Linear(hidden_size, vocab_size)
        self.truncate = int(truncate) if truncate else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.embed(x)  # [B, T, E]
        if self.truncate is None:
            outputs, _ = self.rnn(e)
        else:
            state, chunks = None, []
            for start in range(0, e.shape[1], self.truncate):
                out, state = self.rnn(e[:, start:start + self.truncate], state)
                chunks.append(out)
                state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
            outputs = torch.cat(chunks, dim=1)
        return self.head(outputs)  # [B, T, V]


def lm_loss(model: nn.Module, batch) -> torch.Tensor:
    """Mean next-character cross-entropy (nats) of ``model`` on ``(x, y)``, both [B, T]."""
    x, y = batch
    logits = model(x)
    return F.cross_entropy(logits.flatten(0, 1), y.flatten())


@dataclass
class LMRun:
    """One run: settings, per-step losses and gradient norms (before clipping), and the outcome."""

    label: str
    seq_len: int
    losses: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)
    diverged: bool = False
    diverged_at: int | None = None
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


def train_char_lm(corpus: CharCorpus, *, seq_len: int, steps: int = 200, batch_size: int = 32,
                  lr: float = 1.0, cell: str = "rnn", hidden_size: int = 128, embed_size: int = 32,
                  recurrent_radius: float | None = 1.5, clip_grad_norm: float | None = None,
                  truncate: int | None = None, seed: int = 0, device: str | torch.device = "cpu",
                  label: str | None = None) -> LMRun:
    """Train a :class:`TinyCharLM` with SGD for ``steps`` steps on random windows of ``seq_len`` characters.

    ``recurrent_radius`` (plain RNN only) re-initialises the recurrent matrix
    with that spectral radius, as a network whose weights have grown during
    training would have; ``None`` keeps PyTorch's initialisation. The gradient
    norm of every step is recorded; without ``clip_grad_norm`` it is measured
    but not limited. A NaN loss ends the run with ``diverged=True``. Mixed
    precision stays off, so that where a run diverges does not depend on the device.
    """
    seed_everything(seed)
    model = TinyCharLM(corpus.vocab_size, cell=cell, hidden_size=hidden_size, embed_size=embed_size,
                       truncate=truncate)
    if recurrent_radius is not None and cell == "rnn":
        set_recurrent_radius(model.rnn, recurrent_radius, seed=seed)
    generator = torch.Generator().manual_seed(seed + 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    run = LMRun(label=label or f"{cell}, T={seq_len}", seq_len=seq_len)

    def one_batch(epoch: int):  # one "epoch" = one step, so the history is per step
        return [corpus.windows(batch_size, seq_len, generator)]

    start = time.perf_counter()
    try:
        # max_norm = inf measures the global norm without changing the gradients
        history = fit(model, one_batch, lm_loss, optimizer=optimizer, epochs=steps, device=device,
                      clip_grad_norm=clip_grad_norm if clip_grad_norm is not None else math.inf,
                      amp=False, progress=False)
    except TrainingDiverged as exc:
        history = exc.history
        run.diverged = True
        run.diverged_at = len(history) + 1
    run.seconds = time.perf_counter() - start
    run.losses = [float(v) for v in history["train_loss"]]
    run.grad_norms = [float(v) for v in history["grad_norm"]]
    return run
