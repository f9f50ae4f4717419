"""A counting baseline for chapter 01: a character n-gram model with interpolated Kneser-Ney smoothing.

"How good is 1.4 nats per character?" has no answer without a baseline on the
same text, the same split and the same alphabet. This model only counts: for
each context of ``order - 1`` characters it remembers which characters followed
it and how often. Its held-out loss is what the RNN has to beat; the gap is what
learning buys over counting.

Interpolated Kneser-Ney (Chen & Goodman, 1998, section 3): with ``c(h w)`` the
count of the n-gram ``h w``, ``D`` a discount (``n1 / (n1 + 2 n2)`` from the
numbers of n-grams seen once and twice), ``N1+(h .)`` the number of different
characters seen after ``h`` and ``h'`` the context without its first character::

    P(w | h) = max(c(h w) - D, 0) / c(h)  +  D N1+(h .) / c(h) * P(w | h')

Below the highest order, ``c`` is the *continuation* count: in how many
different contexts the shorter n-gram appeared. A context never seen falls back
to the shorter one; the shortest level mixes the continuation unigram with the
uniform distribution over the vocabulary, so no character has probability 0.

Everything is counted with numpy on integer codes of the n-grams (``V ** order``
must fit in 63 bits), so fitting 4 million characters at order 5 takes seconds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import CourseError


@dataclass
class _Level:
    """Counts of the n-grams of one length k (context of k - 1 characters)."""

    grams: np.ndarray       # sorted codes of the k-grams seen
    counts: np.ndarray      # their (continuation) counts, float64
    contexts: np.ndarray    # sorted codes of their (k - 1)-character contexts
    context_totals: np.ndarray  # sum of the counts per context
    context_types: np.ndarray   # N1+(h .): different characters after each context
    discount: float


def _codes(ids: np.ndarray, k: int, base: int) -> np.ndarray:
    """The code of every k-gram of ``ids`` (positions 0 .. N - k), most significant character first."""
    n = len(ids) - k + 1
    code = np.zeros(max(n, 0), dtype=np.int64)
    for j in range(k):
        code = code * base + ids[j:j + n]
    return code


def _discount(counts: np.ndarray) -> float:
    n1 = float(np.sum(counts == 1))
    n2 = float(np.sum(counts == 2))
    if n1 == 0:
        return 0.5
    return min(max(n1 / (n1 + 2.0 * n2), 0.05), 0.95)


def _lookup(sorted_keys: np.ndarray, values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """``values`` at ``queries`` (0 where a query is not among ``sorted_keys``)."""
    if len(sorted_keys) == 0:
        return np.zeros(len(queries), dtype=np.float64)
    index = np.searchsorted(sorted_keys, queries)
    index = np.minimum(index, len(sorted_keys) - 1)
    found = sorted_keys[index] == queries
    return np.where(found, values[index], 0.0)


class KneserNeyLM:
    """A character n-gram language model with interpolated Kneser-Ney smoothing.

    ``KneserNeyLM(order=5, vocab_size=V).fit(train_ids)``, then
    ``model.mean_nll(val_ids, history=train_ids)`` is the held-out loss in nats per
    character, comparable with the RNN's on the same split. ``order`` is n (the
    model looks at ``order - 1`` characters of context).
    """

    def __init__(self, order: int = 5, vocab_size: int | None = None):
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            raise CourseError(f"order must be a whole number >= 1, not {order!r}.")
        self.order = order
        self.vocab_size = vocab_size
        self.levels: list[_Level] = []

    # ------------------------------------------------------------------ fitting

    def fit(self, ids) -> "KneserNeyLM":
        """Count the n-grams of ``ids`` (a LongTensor or an integer array of symbol ids)."""
        data = self._as_array(ids)
        if len(data) < self.order + 1:
            raise CourseError(f"an order-{self.order} n-gram model needs more than {self.order} characters "
                              f"to count, got {len(data)}.")
        vocab = int(data.max()) + 1
        self.vocab_size = max(self.vocab_size or 0, vocab)
        if self.vocab_size ** self.order >= 2 ** 62:
            raise CourseError(f"order {self.order} is too high for {self.vocab_size} symbols "
                              "(the n-gram codes must fit in 63 bits).", hint="use a lower order")
        base = self.vocab_size
        self.levels = []
        higher: np.ndarray | None = None  # unique codes of the (k + 1)-grams, for continuation counts
        for k in range(self.order, 0, -1):
            if k == self.order:
                grams, counts = np.unique(_codes(data, k, base), return_counts=True)
                counts = counts.astype(np.float64)
            else:
                # continuation count: how many different characters came before this k-gram
                grams, counts = np.unique(higher % (base ** k), return_counts=True)
                counts = counts.astype(np.float64)
            contexts_of = grams // base
            contexts, start = np.unique(contexts_of, return_index=True)
            totals = np.add.reduceat(counts, start) if len(counts) else counts
            types = np.diff(np.append(start, len(grams))).astype(np.float64)
            self.levels.insert(0, _Level(grams, counts, contexts, totals, types, _discount(counts)))
            higher = grams if k == self.order else np.unique(_codes(data, k, base))
        return self

    # ------------------------------------------------------------------ scoring

    def _probabilities(self, windows: np.ndarray) -> np.ndarray:
        """P(last symbol | the ones before) for each row of ``windows`` [N, order] (codes of symbol ids)."""
        if not self.levels:
            raise CourseError("fit the model before scoring text with it.")
        base = self.vocab_size
        n = windows.shape[0]
        target = windows[:, -1]
        unigram = self.levels[0]
        cont = _lookup(unigram.grams, unigram.counts, target)
        total = float(unigram.counts.sum())
        d = unigram.discount
        # the shortest level: discounted continuation unigram, the rest spread uniformly
        prob = np.maximum(cont - d, 0.0) / total + d * len(unigram.grams) / total / base
        for k in range(2, self.order + 1):
            level = self.levels[k - 1]
            gram = np.zeros(n, dtype=np.int64)
            for j in range(self.order - k, self.order):
                gram = gram * base + windows[:, j]
            context = gram // base
            count = _lookup(level.grams, level.counts, gram)
            c_total = _lookup(level.contexts, level.context_totals, context)
            c_types = _lookup(level.contexts, level.context_types, context)
            seen = c_total > 0
            safe = np.where(seen, c_total, 1.0)
            mixed = (np.maximum(count - level.discount, 0.0) + level.discount * c_types * prob) / safe
            prob = np.where(seen, mixed, prob)
        return prob

    def mean_nll(self, ids, history=None) -> float:
        """Mean negative log-likelihood of ``ids`` in nats per character.

        ``history``: text just before ``ids`` (the end of the training text), which gives
        the first characters their context; without it they are scored with the
        contexts that exist (a shorter one at the start).
        """
        data = self._as_array(ids)
        if len(data) == 0:
            raise CourseError("there is no text to score.")
        before = self._as_array(history)[-(self.order - 1):] if history is not None and self.order > 1 else None
        pad = self.order - 1
        if before is None or len(before) < pad:
            before = np.zeros(0, dtype=np.int64) if before is None else before
        joined = np.concatenate([before, data])
        # rows: the order-gram ending at each character of `data`; missing context -> a shorter model below
        offset = len(before)
        if data.max(initial=0) >= self.vocab_size:
            raise CourseError(f"the text has symbol ids up to {int(data.max())}, but the model knows "
                              f"{self.vocab_size} symbols.", hint="encode both texts with the same vocabulary")
        log_probs = np.empty(len(data), dtype=np.float64)
        full_start = max(pad - offset, 0)
        if full_start < len(data):
            idx = np.arange(full_start, len(data)) + offset
            windows = np.stack([joined[idx - pad + j] for j in range(self.order)], axis=1)
            log_probs[full_start:] = np.log(self._probabilities(windows))
        for i in range(min(full_start, len(data))):  # the first few characters, with what context exists
            short = KneserNeyLM.__new__(KneserNeyLM)
            available = i + offset
            short.order, short.vocab_size, short.levels = available + 1, self.vocab_size, self.levels[:available + 1]
            window = joined[None, :available + 1]
            log_probs[i] = math.log(float(short._probabilities(window)[0]))
        return float(-log_probs.mean())

    def next_probs(self, context) -> torch.Tensor:
        """The distribution over the next symbol after ``context`` (its last ``order - 1`` ids): FloatTensor[V]."""
        data = self._as_array(context)[-(self.order - 1):] if self.order > 1 else np.zeros(0, dtype=np.int64)
        if len(data) < self.order - 1:
            raise CourseError(f"next_probs needs {self.order - 1} characters of context, got {len(data)}.")
        windows = np.concatenate([np.repeat(data[None, :], self.vocab_size, axis=0),
                                  np.arange(self.vocab_size, dtype=np.int64)[:, None]], axis=1)
        return torch.from_numpy(self._probabilities(windows)).float()

    @staticmethod
    def _as_array(ids) -> np.ndarray:
        if isinstance(ids, torch.Tensor):
            ids = ids.detach().cpu().numpy()
        array = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(array) and array.min() < 0:
            raise CourseError("symbol ids must be >= 0.")
        return array
