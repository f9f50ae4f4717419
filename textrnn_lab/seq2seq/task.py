"""The chapter's task: numbers written in English words -> their digits.

``"three hundred and five thousand forty-two"`` -> ``"305042"``. Why this task:

* it is a real sequence-to-sequence problem: the output is a sequence of its own
  length (not one label), it is *not* aligned with the input word by word (the
  word "thousand" writes no digit, but fixes how many follow; a missing "tens"
  word writes a ``0``), and the model must count;
* its difficulty grows with length in a controlled way: a ``d``-digit number
  takes about ``1.5 d`` words, and we can ask for any ``d``, so accuracy against
  length is measured on fresh data for every length;
* the vocabulary is real English (the number words as written, hyphens and the
  British "and" included), the data are unlimited and exact, and a small GRU
  learns it on a CPU in minutes.

Usage::

    task = NumberWordsTask(Seq2SeqTaskConfig(max_digits=9))
    sources, targets = task.sample(4, rng)                  # lists of str
    batch = task.batch(sources, targets)                    # a Seq2SeqBatch of LongTensors
    test = task.test_set(per_length=200)                    # {digits: (sources, targets)}, held out of training

Shapes: ``B`` batch, ``S`` source tokens (words), ``T`` target tokens (digits and ``<eos>``).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Iterator, NamedTuple, Sequence

import numpy as np
import torch

from ..errors import CourseError
from .vocab import TokenVocab

ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
        "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
SCALES = ("", "thousand", "million", "billion", "trillion")
MAX_DIGITS = 3 * len(SCALES)


@dataclass
class Seq2SeqTaskConfig:
    """Which numbers the task draws.

    ``min_digits`` .. ``max_digits``: the number of digits, drawn uniformly (so
    long numbers are as common as short ones, whatever their count);
    ``and_prob``: how often the British "and" after "hundred" (and before a
    last group under a hundred) is written; ``seed``: the held-out test set's seed.
    """

    min_digits: int = 1
    max_digits: int = 9
    and_prob: float = 0.3
    seed: int = 0

    def __post_init__(self):
        if not (isinstance(self.min_digits, int) and isinstance(self.max_digits, int)
                and 1 <= self.min_digits <= self.max_digits <= MAX_DIGITS):
            raise CourseError(f"digits must satisfy 1 <= min_digits <= max_digits <= {MAX_DIGITS}, "
                              f"not {self.min_digits!r}..{self.max_digits!r}.")
        if not 0.0 <= float(self.and_prob) <= 1.0:
            raise CourseError(f"and_prob is a probability in [0, 1], not {self.and_prob!r}.")

    def to_dict(self) -> dict:
        return asdict(self)


def _below_thousand(n: int, use_and: bool) -> list[str]:
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [ONES[hundreds], "hundred"]
        if rest and use_and:
            words.append("and")
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(TENS[tens] + (f"-{ONES[ones]}" if ones else ""))
    elif rest:
        words.append(ONES[rest])
    return words


def number_to_words(n: int, rng: np.random.Generator | None = None, and_prob: float = 0.0) -> str:
    """``n`` (0 <= n < 10**15) in English words: ``305042`` -> ``"three hundred five thousand forty-two"``.

    With ``rng`` and ``and_prob > 0`` each "and" (British style: "three hundred
    and five") is written with that probability.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= int(n) < 10 ** MAX_DIGITS:
        raise CourseError(f"number_to_words takes a whole number in [0, 10**{MAX_DIGITS}), not {n!r}.")
    n = int(n)
    if n == 0:
        return "zero"

    def coin() -> bool:
        return bool(rng is not None and and_prob > 0 and rng.random() < and_prob)

    groups: list[int] = []
    while n:
        n, group = divmod(n, 1000)
        groups.append(group)
    words: list[str] = []
    for scale in range(len(groups) - 1, -1, -1):
        group = groups[scale]
        if not group:
            continue
        if scale == 0 and words and group < 100 and coin():  # "one thousand and five"
            words.append("and")
        words += _below_thousand(group, coin())
        if scale:
            words.append(SCALES[scale])
    return " ".join(words)


def source_tokens(text: str) -> list[str]:
    """The words of a number written out, hyphens split: ``"forty-two"`` -> ``["forty", "two"]``."""
    return re.findall(r"[a-z]+", text.lower())


def target_tokens(text: str) -> list[str]:
    """The digits of a number, one token each: ``"305"`` -> ``["3", "0", "5"]``."""
    return list(text)


def source_vocab() -> TokenVocab:
    """Every word a number up to 10**15 is written with (a closed, real vocabulary: 33 words)."""
    return TokenVocab([w for w in ONES + TENS + SCALES if w] + ["hundred", "and"])


def target_vocab() -> TokenVocab:
    """The ten digits."""
    return TokenVocab([str(d) for d in range(10)])


class Seq2SeqBatch(NamedTuple):
    """One padded batch. ``src_mask`` / ``tgt_mask`` are True at real positions, False at padding.

    ``tgt_in`` is what the decoder reads under teacher forcing (``<bos>`` then the
    target), ``tgt_out`` what it must write (the target then ``<eos>``): the same
    sequence shifted by one.
    """

    src: torch.Tensor          # [B, S] long, padded with pad_id
    src_lengths: torch.Tensor  # [B] long, real tokens per source
    src_mask: torch.Tensor     # [B, S] bool
    tgt_in: torch.Tensor       # [B, T] long: <bos> y_1 .. y_n, padded
    tgt_out: torch.Tensor      # [B, T] long: y_1 .. y_n <eos>, padded
    tgt_mask: torch.Tensor     # [B, T] bool


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Lists of ids -> ``(ids [B, max_len], lengths [B])``, padded at the end with ``pad_id``."""
    if not sequences:
        raise CourseError("cannot pad an empty list of sequences.")
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)  # [B]
    out = torch.full((len(sequences), int(lengths.max())), pad_id, dtype=torch.long)  # [B, max_len]
    for i, seq in enumerate(sequences):
        out[i, :len(seq)] = torch.as_tensor(list(seq), dtype=torch.long)
    return out, lengths


def make_batch(sources: Sequence[str], targets: Sequence[str], src_vocab: TokenVocab,
               tgt_vocab: TokenVocab) -> Seq2SeqBatch:
    """Strings -> a :class:`Seq2SeqBatch` (sources split into words, targets into digits)."""
    if len(sources) != len(targets) or not sources:
        raise CourseError(f"a batch needs as many targets as sources (and at least one): "
                          f"got {len(sources)} sources and {len(targets)} targets.")
    src_ids = [src_vocab.encode(source_tokens(s)) for s in sources]
    if any(not ids for ids in src_ids):
        raise CourseError("an empty source has nothing to encode.", hint="every source needs at least one word.")
    src, src_lengths = pad_batch(src_ids, src_vocab.pad_id)                                # [B, S], [B]
    tgt_in, _ = pad_batch([tgt_vocab.encode(target_tokens(t), bos=True) for t in targets], tgt_vocab.pad_id)
    tgt_out, tgt_lengths = pad_batch([tgt_vocab.encode(target_tokens(t), eos=True) for t in targets],
                                     tgt_vocab.pad_id)                                     # [B, T], [B]
    positions = torch.arange(src.shape[1])
    tgt_positions = torch.arange(tgt_out.shape[1])
    return Seq2SeqBatch(src, src_lengths, positions[None, :] < src_lengths[:, None],
                        tgt_in, tgt_out, tgt_positions[None, :] < tgt_lengths[:, None])


class NumberWordsTask:
    """Numbers in words -> digits: samples, batches, and a test set held out of training."""

    def __init__(self, config: Seq2SeqTaskConfig | None = None):
        self.config = config or Seq2SeqTaskConfig()
        self.src_vocab = source_vocab()
        self.tgt_vocab = target_vocab()
        self._held_out: set[int] = set()
        self._test: dict[int, dict[int, tuple[list[str], list[str]]]] = {}  # per_length -> test set

    def __repr__(self) -> str:
        c = self.config
        return f"NumberWordsTask({c.min_digits}..{c.max_digits} digits, and_prob={c.and_prob})"

    @property
    def lengths(self) -> list[int]:
        return list(range(self.config.min_digits, self.config.max_digits + 1))

    def _draw(self, digits: int, rng: np.random.Generator) -> int:
        low = 10 ** (digits - 1) if digits > 1 else 0
        return int(rng.integers(low, 10 ** digits))

    def numbers(self, n: int, rng: np.random.Generator, digits: int | None = None,
                exclude_held_out: bool = True) -> list[int]:
        """``n`` numbers, their digit count uniform over the task's range (or exactly ``digits``).

        Numbers of the test set are redrawn when ``exclude_held_out`` (where a
        length has too few numbers to hold any out, nothing is held out at that length).
        """
        out: list[int] = []
        for _ in range(int(n)):
            d = digits if digits is not None else int(rng.integers(self.config.min_digits,
                                                                    self.config.max_digits + 1))
            x = self._draw(d, rng)
            while exclude_held_out and x in self._held_out:
                x = self._draw(d, rng)
            out.append(x)
        return out

    def pairs(self, numbers: Sequence[int], rng: np.random.Generator) -> tuple[list[str], list[str]]:
        """Numbers -> (sources in words, targets in digits)."""
        return ([number_to_words(x, rng, self.config.and_prob) for x in numbers], [str(x) for x in numbers])

    def sample(self, n: int, rng: np.random.Generator, digits: int | None = None) -> tuple[list[str], list[str]]:
        """``n`` training pairs (never one of the test set's numbers, where any are held out)."""
        return self.pairs(self.numbers(n, rng, digits), rng)

    def batch(self, sources: Sequence[str], targets: Sequence[str]) -> Seq2SeqBatch:
        return make_batch(sources, targets, self.src_vocab, self.tgt_vocab)

    def batches(self, batch_size: int, seed: int = 0) -> Iterator[Seq2SeqBatch]:
        """An endless stream of fresh training batches (give ``fit`` a step budget)."""
        rng = np.random.default_rng(seed)
        while True:
            yield self.batch(*self.sample(batch_size, rng))

    def test_set(self, per_length: int = 200) -> dict[int, tuple[list[str], list[str]]]:
        """``{digits: (sources, targets)}``, ``per_length`` pairs per length, the same for one config seed.

        Its numbers are held out of :meth:`sample` from now on. Call it before training.
        """
        if per_length in self._test:
            return dict(self._test[per_length])
        rng = np.random.default_rng(self.config.seed + 7919)
        out: dict[int, tuple[list[str], list[str]]] = {}
        for d in self.lengths:
            nums = self.numbers(per_length, rng, digits=d, exclude_held_out=False)
            count = 9 * 10 ** (d - 1) if d > 1 else 10
            if count >= 20 * per_length:  # enough numbers of this length to hold some out
                self._held_out.update(nums)
            out[d] = self.pairs(nums, rng)
        self._test[per_length] = out
        return dict(out)

    def validation_batches(self, per_length: int = 50, batch_size: int = 256, seed: int = 1) -> list[Seq2SeqBatch]:
        """A fixed list of batches over all lengths, for ``fit``'s ``val_data`` (drawn like training data)."""
        rng = np.random.default_rng(seed)
        sources, targets = [], []
        for d in self.lengths:
            s, t = self.sample(per_length, rng, digits=d)
            sources += s
            targets += t
        return [self.batch(sources[i:i + batch_size], targets[i:i + batch_size])
                for i in range(0, len(sources), batch_size)]
