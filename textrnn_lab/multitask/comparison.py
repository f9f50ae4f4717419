"""Is one freezing mode better than another, or is the difference noise? Paired over seeds.

Run two modes with the same seeds (seed k: the same head initialisation and the
same order of batches in both), take the difference seed by seed, and compare
its mean with its standard error. A difference counts when its mean is more than
two standard errors from zero (and at least three seeds were run); otherwise it
is called noise::

    d = paired_difference([0.61, 0.63, 0.60], [0.55, 0.58, 0.56])
    d.mean, d.std, d.real      # 0.05, 0.01, True
    d.describe()               # "+5.0 +- 1.0 points over 3 seeds"
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from ..errors import CourseError

MIN_SEEDS = 3
STANDARD_ERRORS = 2.0


@dataclass(frozen=True)
class Difference:
    """``a - b`` seed by seed: mean, sample standard deviation, number of seeds."""

    mean: float
    std: float
    n: int

    @property
    def standard_error(self) -> float:
        return self.std / math.sqrt(self.n) if self.n > 1 else math.inf

    @property
    def real(self) -> bool:
        """More than two standard errors from zero, over at least three seeds."""
        return self.n >= MIN_SEEDS and abs(self.mean) > STANDARD_ERRORS * self.standard_error

    @property
    def sign(self) -> int:
        """+1 (a is higher), -1 (a is lower), 0 (noise)."""
        return 0 if not self.real else (1 if self.mean > 0 else -1)

    def describe(self, scale: float = 100.0, unit: str = "points") -> str:
        spread = f" +- {self.std * scale:.1f}" if self.n > 1 else ""
        return f"{self.mean * scale:+.1f}{spread} {unit} over {self.n} seed{'s' if self.n != 1 else ''}"

    def verdict(self, better: str = "higher", worse: str = "lower") -> str:
        if self.n < MIN_SEEDS:
            return f"too few seeds to tell ({self.n}; at least {MIN_SEEDS} are needed)"
        if not self.real:
            return "within noise"
        return better if self.mean > 0 else worse


def paired_difference(a: Sequence[float], b: Sequence[float]) -> Difference:
    """The difference ``a[k] - b[k]`` over seeds k, summarised."""
    if len(a) != len(b) or not a:
        raise CourseError(f"paired_difference needs two equally long, non-empty lists (got {len(a)} and {len(b)}).",
                          hint="run both settings with the same seeds")
    diffs = [float(x) - float(y) for x, y in zip(a, b)]
    mean = sum(diffs) / len(diffs)
    std = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1)) if len(diffs) > 1 else 0.0
    return Difference(mean=mean, std=std, n=len(diffs))
