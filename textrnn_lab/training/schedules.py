"""Learning-rate schedules that end with the training budget, whether it is counted in steps or seconds.

Introduced in chapter 01, where a model trains for three minutes::

    optimizer = torch.optim.AdamW(model.parameters(), lr=6e-3)
    schedule = BudgetSchedule(optimizer, max_seconds=180, warmup_steps=50)
    fit(model, batches, loss_fn, optimizer=optimizer, scheduler=schedule, max_seconds=180)
"""
from __future__ import annotations

import math
import time
from typing import Any, Mapping

import torch

from ..errors import CourseError
from .config import budget_progress


class BudgetSchedule:
    """Learning rate with a linear warm-up, then a cosine decay that ends with the budget.

    The budget is a number of steps, a number of seconds, or both (whichever
    runs out first): progress is ``max(step / max_steps, elapsed / max_seconds)``,
    so a time-limited run still anneals its learning rate to
    ``final_fraction`` of the peak just as the time runs out. ``step()`` is
    called once per optimizer step (``fit`` does it).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, *, max_steps: int | None = None,
                 max_seconds: float | None = None, warmup_steps: int = 50, final_fraction: float = 0.05):
        if max_steps is None and max_seconds is None:
            raise CourseError("BudgetSchedule needs max_steps or max_seconds.")
        self.optimizer = optimizer
        self.max_steps, self.max_seconds = max_steps, max_seconds
        self.warmup_steps, self.final_fraction = max(0, int(warmup_steps)), float(final_fraction)
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.steps = 0
        self.elapsed_before = 0.0   # seconds spent in earlier runs (when resumed)
        self._started: float | None = None
        self._apply()

    def elapsed(self) -> float:
        running = time.perf_counter() - self._started if self._started is not None else 0.0
        return self.elapsed_before + running

    def progress(self) -> float:
        return budget_progress(self.steps, self.elapsed(), self.max_steps, self.max_seconds)

    def factor(self) -> float:
        if self.steps < self.warmup_steps:
            return (self.steps + 1) / self.warmup_steps
        cosine = 0.5 * (1.0 + math.cos(math.pi * self.progress()))
        return self.final_fraction + (1.0 - self.final_fraction) * cosine

    def _apply(self) -> None:
        f = self.factor()
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * f

    def step(self) -> None:
        if self._started is None:
            self._started = time.perf_counter()
        self.steps += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "elapsed": self.elapsed(), "base_lrs": self.base_lrs}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.steps = int(state["steps"])
        self.elapsed_before = float(state["elapsed"])
        self.base_lrs = list(state["base_lrs"])
        self._started = None
        self._apply()
