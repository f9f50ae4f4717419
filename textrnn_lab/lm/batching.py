"""Batches for a character language model: windows, streams for truncated BPTT, the train/validation split.

**Batching.** A long text is cut into B contiguous *streams* (the text is split
into B equal parts), and each batch is the next T characters of every stream.
The hidden state at the end of one batch is the start state of the next
(detached, so gradients flow back at most T steps: *truncated* back-propagation
through time). Every character is used once per pass, and the model learns to
use context longer than T, which is what it needs when it generates hundreds
of characters. What the carried state does *not* do is train memory longer
than T: position j of a chunk gets gradient from at most j steps back, so no
weight update ever rewards remembering something for more than T characters;
longer memory can only arise as a side effect. (Randomised truncation, which
draws T per batch, spreads the cut points so no position is always at a
boundary.) The alternative, independent random windows starting from a zero
state (:func:`random_windows`), is simpler, but the model then sees at most T
characters of context even in the forward pass and spends the first
characters of every window predicting with almost none.

**The unknown symbol.** :func:`with_unknown_inputs` replaces a small share of
the *input* characters by the unknown id (the targets stay as they are), so
that the unknown symbol's embedding is trained like any other: the model learns
to carry on sensibly after a character it cannot read.

Shapes: N characters in the text, B streams (the batch), T characters per window.
"""
from __future__ import annotations

from typing import Iterable, Iterator

import torch

from ..errors import CourseError


def train_val_split(ids: torch.Tensor, val_fraction: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """ids: LongTensor[N] -> (train [N - n], val [n]) with n = round(N * val_fraction).

    The held-out part is the *end* of the text, one contiguous piece: random
    windows would overlap training windows and leak text into the validation set.
    """
    if not 0.0 < val_fraction < 1.0:
        raise CourseError(f"val_fraction must be between 0 and 1, not {val_fraction!r}.")
    n_val = int(round(len(ids) * val_fraction))
    if n_val < 2 or len(ids) - n_val < 2:
        raise CourseError(f"a text of {len(ids)} characters is too short to split into training and validation.",
                          hint="use a longer text.")
    return ids[: len(ids) - n_val], ids[len(ids) - n_val:]


def input_target_pairs(ids: torch.Tensor, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """ids: LongTensor[N] -> (x, y), both LongTensor[n, seq_len] with n = (N - 1) // seq_len.

    Window i is ``x[i] = ids[i*T : (i+1)*T]`` and its target is the same window
    shifted by one character, ``y[i] = ids[i*T + 1 : (i+1)*T + 1]``: at every
    position the model is asked for the character that comes next.
    """
    n = (len(ids) - 1) // seq_len
    x = ids[: n * seq_len].reshape(n, seq_len)
    y = ids[1: n * seq_len + 1].reshape(n, seq_len)
    return x, y


def random_windows(ids: torch.Tensor, batch_size: int, seq_len: int, num_batches: int,
                   generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The alternative to streams: ``num_batches`` batches of independent windows at random places.

    Yields (x, y), LongTensor[B, T] each, y shifted by one. No state carries over.
    """
    if len(ids) < seq_len + 1:
        raise CourseError(f"the text ({len(ids)} characters) is shorter than one window of {seq_len + 1}.")
    offsets = torch.arange(seq_len)
    for _ in range(num_batches):
        starts = torch.randint(0, len(ids) - seq_len, (batch_size,), generator=generator)
        index = starts[:, None] + offsets[None, :]   # [B, T]
        yield ids[index], ids[index + 1]


class StreamBatches:
    """One pass over ``ids`` as B contiguous streams, T characters at a time (for truncated BPTT).

    The text (after skipping ``offset`` characters) is split into B equal
    streams of n characters; batch k is ``(x, y, reset)`` with ``x = streams[:,
    kT:(k+1)T]`` (``LongTensor[B, T]``), ``y`` the same shifted by one character,
    and ``reset`` True for the first batch only (start from a zero state).
    With ``drop_last`` a shorter final chunk is left out. If the text is too
    short for ``batch_size`` streams of ``seq_len`` characters, fewer streams
    are used (``self.batch_size`` says how many).
    """

    def __init__(self, ids: torch.Tensor, batch_size: int, seq_len: int, offset: int = 0, drop_last: bool = True):
        usable = len(ids) - 1 - offset
        if usable < 1:
            raise CourseError(f"the text ({len(ids)} characters) is too short for even one training pair.")
        B = max(1, min(batch_size, usable // seq_len))
        n = usable // B
        self.batch_size, self.seq_len, self.stream_len, self.drop_last = B, seq_len, n, drop_last
        self.x = ids[offset: offset + B * n].reshape(B, n)          # [B, n]
        self.y = ids[offset + 1: offset + 1 + B * n].reshape(B, n)  # [B, n]

    def __len__(self) -> int:
        full, rest = divmod(self.stream_len, self.seq_len)
        return full + (1 if rest and not self.drop_last else 0)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, bool]]:
        for k in range(len(self)):
            s = k * self.seq_len
            yield self.x[:, s: s + self.seq_len], self.y[:, s: s + self.seq_len], k == 0

    @property
    def chars(self) -> int:
        """Characters predicted in one pass."""
        if self.drop_last:
            return self.batch_size * (self.stream_len // self.seq_len) * self.seq_len
        return self.batch_size * self.stream_len



def with_unknown_inputs(batches: Iterable[tuple[torch.Tensor, torch.Tensor, bool]], rate: float, unk_id: int = 0,
                        seed: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor, bool]]:
    """``batches`` with each input id replaced by ``unk_id`` with probability ``rate`` (targets unchanged)."""
    generator = torch.Generator().manual_seed(seed + 7919)
    for x, y, reset in batches:
        if rate > 0:
            hit = torch.rand(x.shape, generator=generator) < rate  # [B, T]
            x = torch.where(hit, torch.full_like(x, unk_id), x)
        yield x, y, reset


class TBPTTStream:
    """Endless training batches for truncated BPTT: pass after pass of :class:`StreamBatches` over ``ids``.

    Each pass after the first starts at a random offset below ``seq_len``, so
    the chunk boundaries move from pass to pass; the first batch of every pass
    says ``reset`` (start from a zero state). ``fit`` takes as many batches as
    its budget allows::

        stream = TBPTTStream(train_ids, batch_size=32, seq_len=64, seed=0)
        fit(model, stream, TBPTTLoss(), max_seconds=180)
    """

    def __init__(self, ids: torch.Tensor, batch_size: int, seq_len: int, seed: int = 0):
        first = StreamBatches(ids, batch_size, seq_len)  # raises now if the text is too short
        if len(first) == 0:
            raise CourseError(f"the training text ({len(ids)} characters) is shorter than one window of "
                              f"{seq_len + 1} characters.", hint="use a longer text or a shorter sequence length.")
        self.ids, self.seq_len = ids, seq_len
        self.batch_size = first.batch_size  # fewer streams than asked for when the text is short
        self.steps_per_pass = len(first)
        self.seed = seed

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, bool]]:
        generator = torch.Generator().manual_seed(self.seed)
        passes = 0
        while True:
            offset = int(torch.randint(0, self.seq_len, (1,), generator=generator)) if passes else 0
            passes += 1
            batches = StreamBatches(self.ids, self.batch_size, self.seq_len, offset=offset)
            if len(batches) == 0:  # an offset left too little text: start at 0
                batches = StreamBatches(self.ids, self.batch_size, self.seq_len)
            yield from batches
