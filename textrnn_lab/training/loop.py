"""The training loop every chapter shares, counted in steps and seconds.

A *step* is one batch: forward, loss, backward, (clip), update. That is all
of :func:`train_step`, the body of the loop. :func:`fit` repeats it until a
budget runs out (``max_steps``, ``max_seconds``, or the data), evaluates every
``eval_every`` steps (or at ``evals`` points spread over the budget), and
around that keeps a :class:`History` (one row per step, one per evaluation),
shows a progress bar, uses mixed precision on CUDA, stops with a clear message
when the loss becomes NaN or infinite, writes an atomic, resumable checkpoint
at every evaluation, and stops cleanly on Ctrl-C (keeping what was done).

The batch-to-loss function is the only model-specific part::

    def loss_fn(model, batch):             # batch as the data yields it, moved to the device
        x, y = batch                       # x: LongTensor[B, T], y: LongTensor[B, T]
        logits = model(x)                  # FloatTensor[B, T, V]
        return F.cross_entropy(logits.flatten(0, 1), y.flatten())

    history = fit(model, batches, loss_fn, max_steps=500, eval_every=100, val_data=val_batches)
    history.per_eval("val_loss")           # one value per evaluation
    history.per_step("loss")               # one value per step

``loss_fn`` may also return ``(loss, {"acc": ...})``: the extra values are
kept per step and averaged between evaluations.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple

import torch
from torch import nn

from ..errors import CourseError
from ..runtime.device import get_device
from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig

LossFn = Callable[[nn.Module, Any], "torch.Tensor | tuple[torch.Tensor, Mapping[str, Any]]"]
StepCallback = Callable[[dict, nn.Module], "Mapping[str, Any] | None"]


class TrainingDiverged(CourseError):
    """The loss became NaN or infinite. ``history`` holds every finished step and evaluation."""

    def __init__(self, message: str, hint: str, history: "History"):
        super().__init__(message, hint)
        self.history = history


@dataclass
class History:
    """What :func:`fit` measured: ``steps`` (a dict per step) and ``evals`` (a dict per evaluation).

    A step row has ``step``, ``loss``, ``lr``, ``seconds`` (since training
    began), ``grad_norm`` (before clipping, when clipping) and the loss
    function's extra values. An evaluation row has ``step``, ``seconds``,
    ``train_loss`` (the mean over the steps since the previous evaluation),
    ``val_loss`` and ``val_<extra>`` (with validation data), ``lr`` and whatever
    ``on_eval`` added.
    """

    steps: list[dict[str, Any]] = field(default_factory=list)
    evals: list[dict[str, Any]] = field(default_factory=list)
    stopped_early: str | None = None  # why training stopped before its budget, if it did

    def per_step(self, key: str) -> list[Any]:
        """The value of ``key`` at every step (``None`` where a row lacks it)."""
        return [row.get(key) for row in self.steps]

    def per_eval(self, key: str) -> list[Any]:
        """The value of ``key`` at every evaluation (``None`` where a row lacks it)."""
        return [row.get(key) for row in self.evals]

    @property
    def last(self) -> dict[str, Any]:
        """The last evaluation row (``{}`` before the first)."""
        return self.evals[-1] if self.evals else {}

    @property
    def num_steps(self) -> int:
        return int(self.steps[-1]["step"]) if self.steps else 0

    def best(self, key: str = "val_loss", mode: str = "min") -> dict[str, Any]:
        rows = [r for r in self.evals if r.get(key) is not None]
        if not rows:
            return {}
        return (min if mode == "min" else max)(rows, key=lambda r: r[key])

    def to_dict(self) -> dict[str, Any]:
        return {"steps": list(self.steps), "evals": list(self.evals), "stopped_early": self.stopped_early}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "History":
        return cls(steps=list(data.get("steps", [])), evals=list(data.get("evals", [])),
                   stopped_early=data.get("stopped_early"))


def to_device(batch: Any, device: torch.device, non_blocking: bool = False) -> Any:
    """Move every tensor in a (nested) tuple / list / dict batch to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device, non_blocking) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        moved = [to_device(v, device, non_blocking) for v in batch]
        return type(batch)(*moved) if hasattr(batch, "_fields") else type(batch)(moved)
    return batch


def batch_size_of(batch: Any) -> int:
    """The number of examples in a batch: the first dimension of its first tensor."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.ndim else 1
    if isinstance(batch, Mapping):
        for value in batch.values():
            return batch_size_of(value)
    if isinstance(batch, (list, tuple)) and batch:
        return batch_size_of(batch[0])
    return 1


def split_loss(out) -> tuple[torch.Tensor, Mapping[str, Any]]:
    """``loss`` or ``(loss, extras)`` as returned by a loss function -> ``(loss, extras)``."""
    if isinstance(out, tuple):
        return out[0], (out[1] if len(out) > 1 else {})
    return out, {}


def autocast_context(device: torch.device, amp: bool | str = "auto"):
    """Mixed precision on CUDA (bfloat16 where supported, else float16); a no-op elsewhere.

    Returns ``(context, dtype)``; ``dtype`` is ``None`` when no mixed precision is used.
    """
    if device.type != "cuda" or amp is False:
        return contextlib.nullcontext(), None
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast(device_type="cuda", dtype=dtype), dtype


class StepResult(NamedTuple):
    """What one :func:`train_step` did: the loss (detached), the extra values, the gradient norm before clipping."""

    loss: torch.Tensor
    extras: Mapping[str, Any]
    grad_norm: torch.Tensor | None


def train_step(model: nn.Module, batch: Any, loss_fn: LossFn, optimizer: torch.optim.Optimizer, *,
               clip_grad_norm: float | None = None, scaler: "torch.amp.GradScaler | None" = None,
               autocast=None) -> StepResult:
    """One optimizer step on one batch: forward, loss, backward, clip, update.

    ``autocast``: a context for the forward pass (mixed precision; see :func:`autocast_context`).
    """
    with autocast or contextlib.nullcontext():
        loss, extras = split_loss(loss_fn(model, batch))
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:               # float16 on CUDA: scale the loss so small gradients survive
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
    else:
        loss.backward()
    grad_norm = None
    if clip_grad_norm is not None:       # one factor for all gradients: the direction is kept
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm).detach()
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    return StepResult(loss.detach(), extras, grad_norm)


@torch.no_grad()
def evaluate(model: nn.Module, data: Iterable, loss_fn: LossFn, device: str | torch.device = "auto",
             amp: bool | str = "auto", max_batches: int | None = None) -> dict[str, float]:
    """Mean loss (and mean extra values) over ``data``, weighted by batch size, in eval mode."""
    device = get_device(device) if not isinstance(device, torch.device) else device
    was_training = model.training
    model.eval()
    ctx, _ = autocast_context(device, amp)
    totals: dict[str, Any] = {}
    weight = 0
    try:
        for i, batch in enumerate(data):
            if max_batches is not None and i >= max_batches:
                break
            batch = to_device(batch, device)
            with ctx:
                loss, extras = split_loss(loss_fn(model, batch))
            n = batch_size_of(batch)
            totals["loss"] = totals.get("loss", 0.0) + loss.detach().float() * n
            for key, value in extras.items():
                totals[key] = totals.get(key, 0.0) + torch.as_tensor(value).detach().float() * n
            weight += n
    finally:
        model.train(was_training)
    if weight == 0:
        raise CourseError("evaluation data is empty: no batch to evaluate.",
                          hint="check the validation split (is the dataset too small for one batch?)")
    return {k: float(v) / weight for k, v in totals.items()}


def _progress_bar(total: int | None, enabled: bool):
    """A tqdm bar (a widget in notebooks, text in a terminal); a silent stand-in when disabled."""
    if enabled:
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm

    return tqdm(total=total, desc="training", disable=not enabled, leave=False, dynamic_ncols=True,
                mininterval=0.5, unit="step")


def _endless(data: Iterable) -> Iterator:
    """The batches of ``data``, pass after pass; an iterator (which cannot restart) is used once."""
    if iter(data) is data:  # a generator or another one-shot iterator
        yield from data
        return
    while True:
        empty = True
        for batch in data:
            empty = False
            yield batch
        if empty:
            return


class _EvalClock:
    """When the next evaluation is due: every ``eval_every`` steps, or at ``evals`` points over the budget."""

    def __init__(self, config: TrainConfig, step: int, seconds: float):
        self.config = config
        self.done = int(config.progress(step, seconds) * config.evals) if config.evals else 0
        self.next_step = step + config.eval_every if config.eval_every else None

    def due(self, step: int, seconds: float) -> bool:
        if self.next_step is not None and step >= self.next_step:
            self.next_step = step + self.config.eval_every
            return True
        if self.config.evals:
            reached = int(self.config.progress(step, seconds) * self.config.evals + 1e-9)
            if reached > self.done and reached < self.config.evals:  # the last point is the final evaluation
                self.done = reached
                return True
        return False


def fit(
    model: nn.Module,
    train_data: Iterable,
    loss_fn: LossFn,
    config: TrainConfig | None = None,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    val_data: Iterable | None = None,
    device: str | torch.device = "auto",
    checkpoint: str | Path | None = None,
    resume: bool = False,
    extra_state: Mapping[str, Any] | None = None,
    on_step: StepCallback | None = None,
    on_eval: StepCallback | None = None,
    progress: bool = True,
    log_every: int = 25,
    **settings: Any,
) -> History:
    """Train ``model`` on ``train_data`` and return its :class:`History`.

    Args:
        train_data: batches: a re-iterable collection (a list, a ``DataLoader``),
            started again whenever it runs out while budget remains, or an
            iterator / generator, used once (it may be endless).
        loss_fn: ``loss_fn(model, batch) -> loss`` or ``(loss, extras)``; the
            batch arrives on ``device``.
        config: a :class:`TrainConfig`; keyword ``settings`` (``max_steps=200``,
            ``eval_every=50`` ...) override its fields.
        optimizer: defaults to ``AdamW(model.parameters(), lr, weight_decay)``.
        scheduler: its ``step()`` is called after every optimizer step.
        checkpoint: a file written atomically at every evaluation (and on an
            early stop); with ``resume=True`` training continues from it.
        extra_state: saved in the checkpoint under ``"extra"``.
        on_step: ``f(row, model)`` after every step; ``on_eval``: ``f(row, model)``
            after every evaluation. Either may return values to add to the row.
            (With ``on_step`` every step's loss is read at once, which on a GPU
            waits for it; without, values are read every ``log_every`` steps.)

    Raises:
        TrainingDiverged: the loss became NaN/inf; ``exc.history`` keeps what was
            measured and the last checkpoint is untouched.
    """
    config = replace(config, **settings) if config is not None else TrainConfig(**settings)
    device = get_device(device) if not isinstance(device, torch.device) else device
    model.to(device)
    if optimizer is None:
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    autocast, amp_dtype = autocast_context(device, config.amp)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
    history = History()
    step, seconds_before = 0, 0.0
    checkpoint = Path(checkpoint) if checkpoint is not None else None

    if resume and checkpoint is not None and checkpoint.is_file():
        state = load_checkpoint(checkpoint, map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        if scheduler is not None and state.get("scheduler"):
            scheduler.load_state_dict(state["scheduler"])
        history = History.from_dict(state.get("history", {}))
        history.stopped_early = None
        step, seconds_before = int(state.get("step", 0)), float(state.get("seconds", 0.0))

    started = time.perf_counter()

    def elapsed() -> float:
        return seconds_before + time.perf_counter() - started

    def save() -> None:
        if checkpoint is None:
            return
        save_checkpoint(checkpoint, {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "scheduler": scheduler.state_dict() if scheduler is not None and hasattr(scheduler, "state_dict") else None,
            "step": step,
            "seconds": elapsed(),
            "history": history.to_dict(),
            "config": config.to_dict(),
            "extra": dict(extra_state or {}),
        })

    def diverged() -> TrainingDiverged:
        where = f" (last good checkpoint: {checkpoint})" if checkpoint is not None and checkpoint.is_file() else ""
        return TrainingDiverged(
            f"training stopped: the loss became NaN or infinite at step {step}{where}.",
            hint="lower the learning rate, clip gradients (clip_grad_norm=1.0), or check the inputs for NaN; "
                 "what was measured until then is in exc.history.",
            history=history)

    # Step values stay on the device until they are written into the history (every `sync_every`
    # steps): reading a CUDA tensor waits for the GPU, so doing it every step would stall it.
    sync_every = 1 if device.type == "cpu" else max(1, log_every)
    pending: list[tuple[dict[str, Any], torch.Tensor, torch.Tensor | None, Mapping[str, Any]]] = []
    since_eval: list[dict[str, Any]] = []

    def flush() -> None:
        for row, loss, grad_norm, extras in pending:
            row["loss"] = float(loss)
            if grad_norm is not None:
                row["grad_norm"] = float(grad_norm)
            for key, value in extras.items():
                row[key] = float(torch.as_tensor(value).detach().float())
        bad = any(not math.isfinite(row["loss"]) for row, *_ in pending)
        pending.clear()
        if bad:
            raise diverged()

    def run_eval(interrupted: bool = False) -> None:
        flush()
        row: dict[str, Any] = {"step": step, "seconds": elapsed()}
        if since_eval:
            row["train_loss"] = sum(r["loss"] for r in since_eval) / len(since_eval)
            for key in since_eval[-1]:
                if key not in ("step", "loss", "lr", "seconds", "grad_norm"):
                    values = [r[key] for r in since_eval if key in r]
                    row[f"train_{key}"] = sum(values) / len(values)
        if val_data is not None and not interrupted:
            for key, value in evaluate(model, val_data, loss_fn, device, config.amp).items():
                row[f"val_{key}"] = value
        row["lr"] = optimizer.param_groups[0]["lr"]
        if on_eval is not None:
            row.update(on_eval(row, model) or {})
        history.evals.append(row)
        since_eval.clear()
        save()
        if progress:
            shown = ", ".join(f"{k}={v:.4f}" for k, v in row.items()
                              if k.endswith(("loss", "acc", "bpc")) and isinstance(v, float))
            print(f"step {step}: {shown} ({row['seconds']:.1f} s)")

    def budget_spent() -> bool:
        return ((config.max_steps is not None and step >= config.max_steps)
                or (config.max_seconds is not None and elapsed() >= config.max_seconds))

    has_budget = config.max_steps is not None or config.max_seconds is not None
    total = config.max_steps
    if not has_budget:
        try:
            total = len(train_data)  # type: ignore[arg-type]
        except TypeError:
            total = None
    bar = _progress_bar(total, progress)
    clock = _EvalClock(config, step, elapsed())
    batches = _endless(train_data) if has_budget else iter(train_data)
    end = object()
    stop_reason = None
    steps_this_run = 0
    model.train()
    try:
        while not budget_spent():
            batch = next(batches, end)
            if batch is end:
                if steps_this_run == 0:
                    raise CourseError("the training data has no batch.",
                                      hint="the dataset is empty or smaller than one batch.")
                if has_budget:
                    stop_reason = "the training data ran out before the budget"
                break
            batch = to_device(batch, device, non_blocking=True)
            result = train_step(model, batch, loss_fn, optimizer, clip_grad_norm=config.clip_grad_norm,
                                scaler=scaler, autocast=autocast)
            if scheduler is not None:
                scheduler.step()
            step += 1
            steps_this_run += 1
            row: dict[str, Any] = {"step": step, "lr": optimizer.param_groups[0]["lr"], "seconds": elapsed()}
            history.steps.append(row)
            since_eval.append(row)
            pending.append((row, result.loss, result.grad_norm, result.extras))
            if len(pending) >= sync_every or on_step is not None:
                flush()
            if on_step is not None:
                row.update(on_step(row, model) or {})
            if step % log_every == 0 or step == total:
                flush()
                bar.set_postfix(loss=f"{row['loss']:.4f}", refresh=False)
            bar.update(1)
            if clock.due(step, elapsed()) and not budget_spent():  # the final evaluation comes after the loop
                run_eval()
    except KeyboardInterrupt:
        stop_reason = "interrupted (Ctrl-C)"
    finally:
        bar.close()
    if stop_reason is None and config.max_seconds is not None and elapsed() >= config.max_seconds:
        if config.max_steps is None or step < config.max_steps:
            stop_reason = f"reached the time budget of {config.max_seconds:g} s"
    history.stopped_early = stop_reason
    if since_eval or not history.evals:  # unless the last evaluation was at this very step
        run_eval(interrupted=stop_reason == "interrupted (Ctrl-C)")
    else:
        save()
    return history
