"""The training loop every chapter shares.

``fit`` trains any ``nn.Module`` given a function that turns a batch into a
loss. It shows a tqdm progress bar, keeps a per-epoch :class:`History`, clips
gradients by global norm, uses mixed precision on CUDA, writes a resumable
checkpoint atomically after every epoch, stops early with a clear message when
the loss becomes NaN or infinite, and stops cleanly on a time or step budget or
on Ctrl-C (the checkpoint and the history so far are kept).

The batch-to-loss function is the only model-specific part::

    def loss_fn(model, batch):             # batch as yielded by train_data, on the device
        x, y = batch                       # x: LongTensor[B, T], y: LongTensor[B, T]
        logits = model(x)                  # FloatTensor[B, T, V]
        return F.cross_entropy(logits.flatten(0, 1), y.flatten())

It may also return ``(loss, {"acc": ...})``: extra values are averaged per
epoch into the history.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import torch
from torch import nn

from .checkpoint import load_checkpoint, save_checkpoint
from .device import get_device
from .errors import CourseError

LossFn = Callable[[nn.Module, Any], "torch.Tensor | tuple[torch.Tensor, Mapping[str, Any]]"]


class TrainingDiverged(CourseError):
    """The loss became NaN or infinite. ``history`` holds every finished epoch."""

    def __init__(self, message: str, hint: str, history: "History"):
        super().__init__(message, hint)
        self.history = history


@dataclass
class History:
    """Per-epoch records: a list of dicts with ``epoch``, ``train_loss``, ``val_loss`` ..."""

    epochs: list[dict[str, Any]] = field(default_factory=list)
    stopped_early: str | None = None  # why training stopped before the last epoch, if it did

    def __len__(self) -> int:
        return len(self.epochs)

    def __getitem__(self, key: str) -> list[Any]:
        return [row.get(key) for row in self.epochs]

    @property
    def last(self) -> dict[str, Any]:
        return self.epochs[-1] if self.epochs else {}

    def best(self, key: str = "val_loss", mode: str = "min") -> dict[str, Any]:
        rows = [r for r in self.epochs if r.get(key) is not None]
        if not rows:
            return {}
        return (min if mode == "min" else max)(rows, key=lambda r: r[key])

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": list(self.epochs), "stopped_early": self.stopped_early}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "History":
        return cls(epochs=list(data.get("epochs", [])), stopped_early=data.get("stopped_early"))


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


def _batch_size(batch: Any) -> int:
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.ndim else 1
    if isinstance(batch, Mapping):
        for value in batch.values():
            return _batch_size(value)
    if isinstance(batch, (list, tuple)) and batch:
        return _batch_size(batch[0])
    return 1


def _split(out) -> tuple[torch.Tensor, Mapping[str, Any]]:
    if isinstance(out, tuple):
        return out[0], (out[1] if len(out) > 1 else {})
    return out, {}


def autocast_context(device: torch.device, amp: bool | str = "auto"):
    """Mixed precision on CUDA (bfloat16 where supported, else float16); a no-op elsewhere."""
    if device.type != "cuda" or amp is False:
        return contextlib.nullcontext(), None
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    ctx = torch.autocast(device_type="cuda", dtype=dtype)
    return ctx, dtype


@torch.no_grad()
def evaluate(model: nn.Module, data: Iterable, loss_fn: LossFn, device: str | torch.device = "auto",
             amp: bool | str = "auto", max_batches: int | None = None) -> dict[str, float]:
    """Mean loss (and mean extra values) over ``data``, weighted by batch size, in eval mode."""
    device = get_device(device) if not isinstance(device, torch.device) else device
    was_training = model.training
    model.eval()
    ctx, _ = autocast_context(device, amp)
    totals: dict[str, float] = {}
    weight = 0
    try:
        for i, batch in enumerate(data):
            if max_batches is not None and i >= max_batches:
                break
            batch = to_device(batch, device)
            with ctx:
                loss, extra = _split(loss_fn(model, batch))
            n = _batch_size(batch)
            totals["loss"] = totals.get("loss", 0.0) + loss.detach().float() * n
            for key, value in extra.items():
                totals[key] = totals.get(key, 0.0) + torch.as_tensor(value).detach().float() * n
            weight += n
    finally:
        model.train(was_training)
    if weight == 0:
        raise CourseError("evaluation data is empty: no batch to evaluate.",
                          hint="check the validation split (is the dataset too small for one batch?)")
    return {k: float(v) / weight for k, v in totals.items()}


def _progress(total: int | None, desc: str, enabled: bool):
    """A tqdm bar (a widget in notebooks, text in a terminal); a silent stand-in when disabled."""
    if enabled:
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, leave=False, dynamic_ncols=True,
                mininterval=0.5, unit="batch")


def fit(
    model: nn.Module,
    train_data: Iterable | Callable[[int], Iterable],
    loss_fn: LossFn,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 1e-3,
    epochs: int = 1,
    val_data: Iterable | None = None,
    device: str | torch.device = "auto",
    clip_grad_norm: float | None = None,
    amp: bool | str = "auto",
    scheduler: Any = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    extra_state: Mapping[str, Any] | None = None,
    max_steps: int | None = None,
    max_seconds: float | None = None,
    on_epoch_end: Callable[[int, dict, nn.Module], Mapping[str, Any] | None] | None = None,
    progress: bool = True,
    log_every: int = 25,
) -> History:
    """Train ``model`` and return its :class:`History`.

    Args:
        train_data: an iterable of batches (re-iterated every epoch, e.g. a
            ``DataLoader``), or a function ``epoch -> iterable`` for data that
            changes per epoch (fresh random windows).
        loss_fn: ``loss_fn(model, batch) -> loss`` or ``(loss, extras)``; the
            batch arrives on ``device``.
        optimizer: defaults to ``AdamW(model.parameters(), lr=lr)``.
        clip_grad_norm: clip the global gradient norm to this value.
        amp: mixed precision on CUDA when ``"auto"``/``True``; ignored on CPU/MPS.
        scheduler: stepped once per optimizer step if given.
        checkpoint: path of a checkpoint written atomically after every epoch
            (and when stopping early); with ``resume=True`` training continues
            from it if it exists.
        extra_state: saved in the checkpoint under ``"extra"`` (vocabulary,
            hyper-parameters ...).
        max_steps / max_seconds: budgets; training stops cleanly when reached.
        on_epoch_end: ``f(epoch, row, model)``; may return values to add to the row.

    Raises:
        TrainingDiverged: the loss became NaN/inf; ``exc.history`` keeps the
            finished epochs and the last checkpoint is untouched.
    """
    device = get_device(device) if not isinstance(device, torch.device) else device
    model.to(device)
    if optimizer is None:
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    ctx, amp_dtype = autocast_context(device, amp)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
    history = History()
    start_epoch, step = 1, 0
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
        start_epoch, step = int(state["epoch"]) + 1, int(state.get("step", 0))

    def save(epoch: int) -> None:
        if checkpoint is None:
            return
        save_checkpoint(checkpoint, {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "scheduler": scheduler.state_dict() if scheduler is not None and hasattr(scheduler, "state_dict") else None,
            "epoch": epoch,
            "step": step,
            "history": history.to_dict(),
            "extra": dict(extra_state or {}),
        })

    def diverged(epoch: int, at_step: int) -> TrainingDiverged:
        where = f" (last good checkpoint: {checkpoint})" if checkpoint is not None and checkpoint.is_file() else ""
        return TrainingDiverged(
            f"training stopped: the loss became NaN or infinite at epoch {epoch}, step {at_step}{where}.",
            hint="lower the learning rate, clip gradients (clip_grad_norm=1.0), or check the inputs for NaN; "
                 "the history of the finished epochs is in exc.history.",
            history=history,
        )

    t_start = time.perf_counter()
    check_every = 1 if device.type == "cpu" else max(1, log_every)
    for epoch in range(start_epoch, epochs + 1):
        model.train()
        data = train_data(epoch) if callable(train_data) else train_data
        try:
            total = len(data)  # type: ignore[arg-type]
        except TypeError:
            total = None
        bar = _progress(total, f"epoch {epoch}/{epochs}", progress)
        t_epoch = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        extra_sums: dict[str, torch.Tensor] = {}
        grad_norm_sum = torch.zeros((), device=device)
        n_batches, n_weight = 0, 0
        stop_reason = None
        try:
            for batch in data:
                batch = to_device(batch, device, non_blocking=True)
                with ctx:
                    loss, extra = _split(loss_fn(model, batch))
                optimizer.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.unscale_(optimizer)
                else:
                    loss.backward()
                if clip_grad_norm is not None:
                    grad_norm_sum += torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm).detach().float()
                if scaler is not None:
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                step += 1
                n_batches += 1
                n = _batch_size(batch)
                n_weight += n
                loss_sum += loss.detach().float() * n
                for key, value in extra.items():
                    value = torch.as_tensor(value).detach().float()
                    extra_sums[key] = extra_sums.get(key, 0.0) + value * n
                if n_batches % check_every == 0:
                    current = float(loss.detach())
                    if not math.isfinite(current):
                        raise diverged(epoch, step)
                if n_batches % log_every == 0 or total is not None and n_batches == total:
                    bar.set_postfix(loss=f"{float(loss_sum) / max(n_weight, 1):.4f}", refresh=False)
                bar.update(1)
                if max_steps is not None and step >= max_steps:
                    stop_reason = f"reached max_steps={max_steps}"
                    break
                if max_seconds is not None and time.perf_counter() - t_start >= max_seconds:
                    stop_reason = f"reached the time budget of {max_seconds:.0f} s"
                    break
        except KeyboardInterrupt:
            stop_reason = "interrupted (Ctrl-C)"
        finally:
            bar.close()
        if n_batches == 0:
            if stop_reason is None:
                raise CourseError(f"epoch {epoch} had no training batch.",
                                  hint="the training data is empty or smaller than one batch.")
            history.stopped_early = stop_reason
            break
        train_loss = float(loss_sum) / n_weight
        if not math.isfinite(train_loss):
            raise diverged(epoch, step)
        row: dict[str, Any] = {"epoch": epoch, "step": step, "train_loss": train_loss}
        for key, value in extra_sums.items():
            row[f"train_{key}"] = float(value) / n_weight
        if clip_grad_norm is not None:
            row["grad_norm"] = float(grad_norm_sum) / n_batches  # mean norm before clipping
        if val_data is not None and stop_reason != "interrupted (Ctrl-C)":
            for key, value in evaluate(model, val_data, loss_fn, device, amp).items():
                row[f"val_{key}"] = value
        row["lr"] = optimizer.param_groups[0]["lr"]
        row["seconds"] = time.perf_counter() - t_epoch
        if on_epoch_end is not None:
            more = on_epoch_end(epoch, row, model)
            if more:
                row.update(more)
        history.epochs.append(row)
        save(epoch)
        if progress:
            shown = ", ".join(f"{k}={v:.4f}" for k, v in row.items()
                              if k.endswith(("loss", "acc", "bpc")) and isinstance(v, float))
            print(f"epoch {epoch}: {shown} ({row['seconds']:.1f} s)")
        if stop_reason is not None:
            history.stopped_early = stop_reason
            break
    return history
