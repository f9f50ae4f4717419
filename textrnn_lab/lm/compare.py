"""Comparing two settings honestly: the same runs over several seeds, the difference with its spread.

::

    runs = train_seeds(text, CharLMConfig(len(vocab), cell="gru"), CharLMTrainConfig(max_steps=400), seeds=(0, 1, 2))
    diff = paired_difference([r.val.nats for r in rnn_runs], [r.val.nats for r in gru_runs], "RNN", "GRU")
    print(diff.verdict())   # "GRU beat RNN by 0.120 ± 0.010 nats/char over 3 seeds" or "... within noise"

A difference is called one only when it is measured over at least 3 seeds,
every seed agrees on its sign, and the mean is more than twice its standard
error; anything else is reported as within noise.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, replace
from typing import Sequence

from .config import CharLMConfig, CharLMTrainConfig
from .train import TrainedCharLM, train_charlm

MIN_SEEDS = 3


def mean_spread(values: Sequence[float], digits: int = 3) -> str:
    """'mean ± sample standard deviation (n)' of ``values``."""
    values = [float(v) for v in values]
    spread = statistics.stdev(values) if len(values) > 1 else float("nan")
    return f"{statistics.fmean(values):.{digits}f} ± {spread:.{digits}f}"


@dataclass(frozen=True)
class PairedDifference:
    """``a - b`` seed by seed (the same seed gives both settings the same start and data order)."""

    name_a: str
    name_b: str
    diffs: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.diffs)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.diffs)

    @property
    def std(self) -> float:
        return statistics.stdev(self.diffs) if self.n > 1 else float("nan")

    @property
    def clear(self) -> bool:
        """At least 3 seeds, all of one sign, and a mean beyond twice its standard error."""
        if self.n < MIN_SEEDS:
            return False
        same_sign = all(d > 0 for d in self.diffs) or all(d < 0 for d in self.diffs)
        return same_sign and abs(self.mean) > 2 * self.std / math.sqrt(self.n)

    def verdict(self, unit: str = "nats/char", lower_is_better: bool = True, digits: int = 3) -> str:
        """One sentence from the numbers: who won and by how much, or 'within noise'."""
        spread = f"{abs(self.mean):.{digits}f} ± {self.std:.{digits}f} {unit} over {self.n} seeds"
        if not self.clear:
            reason = (f"fewer than {MIN_SEEDS} seeds" if self.n < MIN_SEEDS
                      else "the seeds disagree in sign, or the mean is within twice its standard error")
            return (f"{self.name_a} vs {self.name_b}: a difference of {self.mean:+.{digits}f} ± {self.std:.{digits}f} "
                    f"{unit} over {self.n} seeds is within noise ({reason})")
        a_better = (self.mean < 0) == lower_is_better
        better, worse = (self.name_a, self.name_b) if a_better else (self.name_b, self.name_a)
        return f"{better} beat {worse} by {spread} (every seed agrees)"


def paired_difference(a: Sequence[float], b: Sequence[float], name_a: str = "a", name_b: str = "b"
                      ) -> PairedDifference:
    """The seed-by-seed difference ``a[i] - b[i]`` of two settings run with the same seeds."""
    if len(a) != len(b) or not a:
        raise ValueError(f"paired values need the same, non-zero number of seeds, got {len(a)} and {len(b)}")
    return PairedDifference(name_a, name_b, tuple(float(x) - float(y) for x, y in zip(a, b)))


def train_seeds(text: str, model_config: CharLMConfig, config: CharLMTrainConfig, seeds: Sequence[int],
                **kwargs) -> list[TrainedCharLM]:
    """:func:`train_charlm` once per seed (initial weights, data order and unknown-input draws all follow it)."""
    return [train_charlm(text, model_config, replace(config, seed=int(seed)), **kwargs) for seed in seeds]
