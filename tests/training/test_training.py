"""The shared training loop."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from textrnn_lab.training.checkpoint import load_checkpoint
from textrnn_lab.runtime.seeding import seed_everything
from textrnn_lab.training.loop import History, TrainingDiverged, evaluate, fit


def regression_data(n=256, batch=32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=gen)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1
    return [(x[i:i + batch], y[i:i + batch]) for i in range(0, n, batch)]


def mse(model, batch):
    x, y = batch
    pred = model(x).squeeze(-1)
    return ((pred - y) ** 2).mean(), {"mae": (pred - y).abs().mean()}


def test_fit_learns_and_records_history():
    seed_everything(0)
    model = nn.Linear(4, 1)
    data = regression_data()
    history = fit(model, data, mse, lr=0.05, epochs=8, val_data=regression_data(seed=1), progress=False)
    assert len(history) == 8 and history["epoch"] == list(range(1, 9))
    assert history.last["val_loss"] < 0.1 * history.epochs[0]["train_loss"]
    assert {"train_loss", "train_mae", "val_loss", "val_mae", "lr", "seconds", "step"} <= set(history.last)
    assert history.best("val_loss")["val_loss"] == min(history["val_loss"])
    assert history.stopped_early is None


def test_callable_data_gets_the_epoch_number():
    seen = []

    def per_epoch(epoch):
        seen.append(epoch)
        return regression_data(seed=epoch)

    fit(nn.Linear(4, 1), per_epoch, mse, epochs=3, progress=False)
    assert seen == [1, 2, 3]


def test_gradient_clipping_bounds_the_update():
    model = nn.Linear(4, 1)
    with torch.no_grad():
        model.weight.fill_(100.0)
    before = model.weight.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    history = fit(model, regression_data()[:1], mse, optimizer=opt, epochs=1, clip_grad_norm=0.5, progress=False)
    step = (model.weight.detach() - before).norm().item()
    assert step <= 0.5 + 1e-5
    assert history.last["grad_norm"] > 0.5  # the norm recorded is the one before clipping


def test_nan_loss_stops_with_a_clear_message_and_keeps_history(tmp_path):
    calls = {"n": 0}

    def sometimes_nan(model, batch):
        calls["n"] += 1
        loss, _ = mse(model, batch)
        return loss * float("nan") if calls["n"] > 8 else loss

    ckpt = tmp_path / "run.pt"
    with pytest.raises(TrainingDiverged) as info:
        fit(nn.Linear(4, 1), regression_data(), sometimes_nan, epochs=3, checkpoint=ckpt, progress=False)
    exc = info.value
    assert "NaN" in str(exc) and "epoch 2" in str(exc) and "learning rate" in str(exc)
    assert len(exc.history) == 1 and math.isfinite(exc.history.last["train_loss"])
    assert load_checkpoint(ckpt)["epoch"] == 1  # the last good checkpoint survives


def test_checkpoint_resume_continues_where_it_stopped(tmp_path):
    ckpt = tmp_path / "run.pt"
    seed_everything(0)
    model = nn.Linear(4, 1)
    h1 = fit(model, regression_data(), mse, epochs=2, checkpoint=ckpt, extra_state={"vocab": "abc"}, progress=False)
    state = load_checkpoint(ckpt)
    assert state["epoch"] == 2 and state["extra"] == {"vocab": "abc"} and len(state["history"]["epochs"]) == 2

    fresh = nn.Linear(4, 1)
    h2 = fit(fresh, regression_data(), mse, epochs=4, checkpoint=ckpt, resume=True, progress=False)
    assert h2["epoch"] == [1, 2, 3, 4]
    assert h2.epochs[:2] == h1.epochs
    assert load_checkpoint(ckpt)["step"] == 4 * len(regression_data())


def test_budgets_stop_cleanly():
    history = fit(nn.Linear(4, 1), regression_data(), mse, epochs=10, max_steps=3, progress=False)
    assert len(history) == 1 and history.last["step"] == 3
    assert "max_steps" in history.stopped_early
    history = fit(nn.Linear(4, 1), regression_data(), mse, epochs=1000, max_seconds=0.2, progress=False)
    assert "time budget" in history.stopped_early and len(history) < 1000


def test_keyboard_interrupt_keeps_what_was_done(tmp_path):
    calls = {"n": 0}

    def interrupt_in_epoch_two(model, batch):
        calls["n"] += 1
        if calls["n"] == 10:
            raise KeyboardInterrupt
        return mse(model, batch)

    ckpt = tmp_path / "run.pt"
    history = fit(nn.Linear(4, 1), regression_data(), interrupt_in_epoch_two, epochs=5, checkpoint=ckpt,
                  progress=False)
    assert history.stopped_early.startswith("interrupted")
    assert history["epoch"] == [1, 2] and load_checkpoint(ckpt)["epoch"] == 2


def test_empty_training_data_is_a_clear_error():
    from textrnn_lab.errors import CourseError

    with pytest.raises(CourseError, match="no training batch"):
        fit(nn.Linear(4, 1), [], mse, progress=False)
    with pytest.raises(CourseError, match="empty"):
        evaluate(nn.Linear(4, 1), [], mse, device="cpu")


def test_history_round_trips_through_a_dict():
    history = History([{"epoch": 1, "train_loss": 1.0}], stopped_early="x")
    assert History.from_dict(history.to_dict()) == history
