"""How well a character language model predicts held-out text, in nats, bits per character and perplexity.

::

    score = evaluate_charlm(model, val_ids)   # reads the text as streams, the state carried over
    print(score)                               # 1.4210 nats/char = 2.050 bits/char, perplexity 4.14 (...)
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .batching import StreamBatches
from .model import CharLM

LN2 = math.log(2.0)


def bits_per_char(nats: float) -> float:
    """Mean negative log-likelihood in nats per character -> bits per character (divide by ln 2)."""
    return float(nats) / LN2


def perplexity(nats: float) -> float:
    """Mean negative log-likelihood in nats per character -> perplexity, ``exp(nats)``."""
    return math.exp(float(nats))


@dataclass(frozen=True)
class CharLMScore:
    """A language model's loss on a text, in the three usual units."""

    nats: float        # mean negative log-likelihood per character, natural log (= cross-entropy loss)
    bpc: float         # the same in bits per character
    perplexity: float  # exp(nats): how many equally likely characters the model hesitates between
    chars: int         # how many characters were predicted

    @classmethod
    def from_nats(cls, nats: float, chars: int) -> "CharLMScore":
        return cls(float(nats), bits_per_char(nats), perplexity(nats), int(chars))

    def __str__(self) -> str:
        return (f"{self.nats:.4f} nats/char = {self.bpc:.3f} bits/char, perplexity {self.perplexity:.2f} "
                f"({self.chars:,} characters)")


@torch.no_grad()
def evaluate_charlm(model: CharLM, ids: torch.Tensor, batch_size: int = 32, seq_len: int = 256,
                    device: str | torch.device | None = None) -> CharLMScore:
    """The mean loss of ``model`` on every character of ``ids`` (but the first of each stream).

    The text is read as contiguous streams with the state carried over, as the
    model reads text when it generates. Returns a :class:`CharLMScore`.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    state = None
    try:
        for x, y, reset in StreamBatches(ids, batch_size, seq_len, drop_last=False):
            x, y = x.to(device), y.to(device)
            logits, state = model(x, None if reset else state)
            total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1),
                                           reduction="sum"))
            count += y.numel()
    finally:
        model.train(was_training)
    return CharLMScore.from_nats(total / count, count)


@torch.no_grad()
def estimate_eval_seconds(model: CharLM, ids: torch.Tensor, batch_size: int, seq_len: int, device) -> float:
    """How long :func:`evaluate_charlm` will take on ``ids``: one batch timed, times the number of batches."""
    batches = StreamBatches(ids, batch_size, seq_len, drop_last=False)
    x = next(iter(batches))[0].to(device)
    was_training = model.training
    model.eval()
    seconds = float("inf")
    for _ in range(2):  # the first call also pays for warming up
        start = time.perf_counter()
        model(x)
        seconds = min(seconds, time.perf_counter() - start)
    model.train(was_training)
    return seconds * len(batches)
