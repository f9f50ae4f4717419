"""Training any model: the step-based loop, its settings, schedules, checkpoints, metrics and plots.

Modules, in reading order:

* :mod:`.config`: ``TrainConfig`` (budgets in steps and seconds, evaluation, clipping, mixed precision).
* :mod:`.loop`: ``train_step`` (one step, the body of the loop), ``fit``, ``evaluate``, ``History``.
* :mod:`.schedules`: ``BudgetSchedule``, warm-up then cosine decay to the end of the budget.
* :mod:`.checkpoint`: atomic ``save_checkpoint`` / ``load_checkpoint``.
* :mod:`.metrics`: ``record(chapter, **values)``, a chapter's headline figures for the run summary.
* :mod:`.plotting`: ``plot_history``, ``save_figure``.
* :mod:`.threads`: CPU thread counts chosen by measurement (machinery, not taught).

Introduced in chapter 01; every chapter that trains something uses it.
"""
from .config import TrainConfig
from .loop import History, StepResult, TrainingDiverged, evaluate, fit, train_step

__all__ = ["History", "StepResult", "TrainConfig", "TrainingDiverged", "evaluate", "fit", "train_step"]
