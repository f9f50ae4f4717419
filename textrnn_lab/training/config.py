"""Training settings as a dataclass, and how much of a budget is spent (no torch needed to read them).

:class:`TrainConfig` is what :func:`~textrnn_lab.training.loop.fit` reads;
each chapter that trains something extends it with its own fields (chapter 01:
:class:`~textrnn_lab.lm.config.CharLMTrainConfig`). Checkpoints store it with
``asdict``, and command lines take their defaults from its fields.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from ..errors import CourseError


def budget_progress(step: int, seconds: float, max_steps: int | None, max_seconds: float | None) -> float:
    """How much of a budget is spent, in [0, 1]: the larger of ``step / max_steps`` and ``seconds / max_seconds``.

    A budget left as ``None`` does not count; with neither, 0.
    """
    parts = []
    if max_steps:
        parts.append(step / max_steps)
    if max_seconds:
        parts.append(seconds / max_seconds)
    return min(1.0, max(parts)) if parts else 0.0


@dataclass
class TrainConfig:
    """How long and how to train; every chapter's own training config extends this one.

    Budgets: ``max_steps`` and/or ``max_seconds`` (whichever runs out first);
    with neither, one pass over the data. Evaluation: every ``eval_every``
    steps, or ``evals`` times spread evenly over the budget (by steps or by
    time, whichever is the budget), and always once at the end.
    ``clip_grad_norm``: clip the global gradient norm to this value
    (``math.inf`` measures the norm without changing the gradients).
    ``lr`` and ``weight_decay`` make the default optimizer (AdamW).
    ``amp``: mixed precision on CUDA when ``"auto"`` or ``True``; never elsewhere.
    """

    max_steps: int | None = None
    max_seconds: float | None = None
    eval_every: int | None = None
    evals: int | None = None
    lr: float = 1e-3
    weight_decay: float = 0.0
    clip_grad_norm: float | None = None
    amp: bool | str = "auto"

    def __post_init__(self):
        for name in ("max_steps", "eval_every", "evals"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise CourseError(f"{name} must be a whole number >= 1 or None, not {value!r}.")
        if self.max_seconds is not None and not float(self.max_seconds) > 0:
            raise CourseError(f"max_seconds must be a number > 0 or None, not {self.max_seconds!r}.")
        if self.eval_every is not None and self.evals is not None:
            raise CourseError("give eval_every (steps) or evals (points over the budget), not both.")
        if self.evals is not None and self.max_steps is None and self.max_seconds is None:
            raise CourseError("evals spreads evaluations over a budget: give max_steps or max_seconds too.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]):
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def progress(self, step: int, seconds: float) -> float:
        """How much of the budget is spent, in [0, 1]: the larger of the step and the time fractions."""
        return budget_progress(step, seconds, self.max_steps, self.max_seconds)
