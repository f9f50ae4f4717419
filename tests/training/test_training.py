"""The shared training loop: steps, budgets, evaluations, callbacks, checkpoints, divergence."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from textrnn_lab.errors import CourseError
from textrnn_lab.runtime.seeding import seed_everything
from textrnn_lab.training import TrainConfig, evaluate, fit, train_step
from textrnn_lab.training.checkpoint import load_checkpoint
from textrnn_lab.training.config import budget_progress
from textrnn_lab.training.loop import History, TrainingDiverged


def regression_data(n=256, batch=32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=gen)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1
    return [(x[i:i + batch], y[i:i + batch]) for i in range(0, n, batch)]  # 8 batches


def mse(model, batch):
    x, y = batch
    pred = model(x).squeeze(-1)
    return ((pred - y) ** 2).mean(), {"mae": (pred - y).abs().mean()}


def test_fit_learns_and_records_every_step_and_every_evaluation():
    seed_everything(0)
    model = nn.Linear(4, 1)
    history = fit(model, regression_data(), mse, lr=0.05, max_steps=64, eval_every=8,
                  val_data=regression_data(seed=1), progress=False)
    assert history.per_step("step") == list(range(1, 65)) and history.num_steps == 64
    assert history.per_eval("step") == list(range(8, 72, 8))
    assert history.last["val_loss"] < 0.1 * history.evals[0]["train_loss"]
    assert {"train_loss", "train_mae", "val_loss", "val_mae", "lr", "seconds", "step"} <= set(history.last)
    assert {"loss", "mae", "lr", "seconds", "step"} <= set(history.steps[0])
    # an evaluation's train_loss is the mean of the step losses since the previous one
    assert history.evals[1]["train_loss"] == pytest.approx(sum(history.per_step("loss")[8:16]) / 8)
    assert history.best("val_loss")["val_loss"] == min(history.per_eval("val_loss"))
    assert history.stopped_early is None


def test_collections_restart_iterators_are_used_once_and_no_budget_is_one_pass():
    data = regression_data()
    assert fit(nn.Linear(4, 1), data, mse, max_steps=20, progress=False).num_steps == 20  # 2.5 passes
    assert fit(nn.Linear(4, 1), data, mse, progress=False).num_steps == len(data)           # one pass
    once = fit(nn.Linear(4, 1), iter(data[:5]), mse, max_steps=20, progress=False)
    assert once.num_steps == 5 and "ran out" in once.stopped_early


def test_evals_are_spread_over_the_budget():
    history = fit(nn.Linear(4, 1), regression_data(), mse, max_steps=10, evals=5, progress=False)
    assert history.per_eval("step") == [2, 4, 6, 8, 10]
    timed = fit(nn.Linear(4, 1), regression_data(), mse, max_seconds=0.3, evals=3, progress=False)
    assert 1 <= len(timed.evals) <= 3 and timed.evals[-1]["step"] == timed.num_steps


def test_callbacks_see_every_step_and_evaluation_and_may_add_values():
    seen_steps, seen_evals = [], []

    def on_step(row, model):
        seen_steps.append(row["step"])
        return {"weight_norm": float(model.weight.detach().norm())}

    def on_eval(row, model):
        seen_evals.append(row["step"])
        return {"doubled": 2 * row["train_loss"]}

    history = fit(nn.Linear(4, 1), regression_data(), mse, max_steps=6, eval_every=3, on_step=on_step,
                  on_eval=on_eval, progress=False)
    assert seen_steps == [1, 2, 3, 4, 5, 6] and seen_evals == [3, 6]
    assert all("weight_norm" in row for row in history.steps)
    assert history.last["doubled"] == pytest.approx(2 * history.last["train_loss"])


def test_train_step_is_one_plain_optimizer_step():
    batch = regression_data()[0]
    seed_everything(0)
    a = nn.Linear(4, 1)
    b = nn.Linear(4, 1)
    b.load_state_dict(a.state_dict())
    result = train_step(a, batch, mse, torch.optim.SGD(a.parameters(), lr=0.1))
    loss, _ = mse(b, batch)                      # the same step, written out
    loss.backward()
    with torch.no_grad():
        for p in b.parameters():
            p -= 0.1 * p.grad
    assert float(result.loss) == pytest.approx(float(loss.detach()))
    assert result.grad_norm is None and set(result.extras) == {"mae"}
    assert all(torch.allclose(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_gradient_clipping_bounds_the_update():
    model = nn.Linear(4, 1)
    with torch.no_grad():
        model.weight.fill_(100.0)
    before = model.weight.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    history = fit(model, regression_data()[:1], mse, optimizer=opt, max_steps=1, clip_grad_norm=0.5, progress=False)
    step = (model.weight.detach() - before).norm().item()
    assert step <= 0.5 + 1e-5
    assert history.steps[0]["grad_norm"] > 0.5  # the norm recorded is the one before clipping


def test_nan_loss_stops_with_a_clear_message_and_keeps_history(tmp_path):
    calls = {"n": 0}

    def sometimes_nan(model, batch):
        calls["n"] += 1
        loss, _ = mse(model, batch)
        return loss * float("nan") if calls["n"] > 8 else loss

    ckpt = tmp_path / "run.pt"
    with pytest.raises(TrainingDiverged) as info:
        fit(nn.Linear(4, 1), regression_data(), sometimes_nan, max_steps=30, eval_every=4, checkpoint=ckpt,
            progress=False)
    exc = info.value
    assert "NaN" in str(exc) and "step 9" in str(exc) and "learning rate" in str(exc)
    losses = exc.history.per_step("loss")
    assert len(losses) == 9 and all(math.isfinite(v) for v in losses[:8]) and math.isnan(losses[8])
    assert exc.history.per_eval("step") == [4, 8]
    assert load_checkpoint(ckpt)["step"] == 8  # the last good checkpoint survives


def test_checkpoint_resume_continues_where_it_stopped(tmp_path):
    ckpt = tmp_path / "run.pt"
    seed_everything(0)
    model = nn.Linear(4, 1)
    h1 = fit(model, regression_data(), mse, max_steps=16, eval_every=8, checkpoint=ckpt, extra_state={"vocab": "abc"},
             progress=False)
    state = load_checkpoint(ckpt)
    assert state["step"] == 16 and state["extra"] == {"vocab": "abc"} and len(state["history"]["evals"]) == 2
    assert TrainConfig.from_dict(state["config"]) == TrainConfig(max_steps=16, eval_every=8)

    fresh = nn.Linear(4, 1)
    h2 = fit(fresh, regression_data(), mse, max_steps=32, eval_every=8, checkpoint=ckpt, resume=True, progress=False)
    assert h2.per_eval("step") == [8, 16, 24, 32] and h2.evals[:2] == h1.evals
    assert h2.per_step("step") == list(range(1, 33))
    assert load_checkpoint(ckpt)["step"] == 32


def test_budgets_stop_cleanly():
    history = fit(nn.Linear(4, 1), regression_data(), mse, max_steps=3, progress=False)
    assert history.num_steps == 3 and history.stopped_early is None
    history = fit(nn.Linear(4, 1), regression_data(), mse, max_seconds=0.2, progress=False)
    assert "time budget" in history.stopped_early and history.num_steps > 0
    assert history.last["seconds"] >= 0.2


def test_keyboard_interrupt_keeps_what_was_done(tmp_path):
    calls = {"n": 0}

    def interrupt_at_ten(model, batch):
        calls["n"] += model.training  # training steps only, not the evaluations
        if calls["n"] == 10:
            raise KeyboardInterrupt
        return mse(model, batch)

    ckpt = tmp_path / "run.pt"
    history = fit(nn.Linear(4, 1), regression_data(), interrupt_at_ten, max_steps=40, eval_every=4, checkpoint=ckpt,
                  val_data=regression_data(seed=1), progress=False)
    assert history.stopped_early.startswith("interrupted")
    assert history.num_steps == 9 and history.per_eval("step") == [4, 8, 9]
    assert "val_loss" not in history.last  # no evaluation after Ctrl-C, only what was measured
    assert load_checkpoint(ckpt)["step"] == 9


def test_bad_settings_and_empty_data_are_clear_errors():
    with pytest.raises(CourseError, match="no batch"):
        fit(nn.Linear(4, 1), [], mse, progress=False)
    with pytest.raises(CourseError, match="empty"):
        evaluate(nn.Linear(4, 1), [], mse, device="cpu")
    with pytest.raises(CourseError, match="not both"):
        TrainConfig(max_steps=10, eval_every=2, evals=5)
    with pytest.raises(CourseError, match="budget"):
        TrainConfig(evals=5)
    with pytest.raises(CourseError, match="max_steps"):
        TrainConfig(max_steps=0)


def test_keyword_settings_override_the_config():
    config = TrainConfig(max_steps=50, lr=0.5)
    history = fit(nn.Linear(4, 1), regression_data(), mse, config, max_steps=4, progress=False)
    assert history.num_steps == 4 and history.steps[0]["lr"] == 0.5
    assert config.max_steps == 50  # the caller's config is not changed


def test_budget_progress_is_the_larger_fraction():
    assert budget_progress(5, 0.0, 10, None) == 0.5
    assert budget_progress(5, 30.0, 10, 40.0) == 0.75
    assert budget_progress(50, 0.0, 10, None) == 1.0
    assert budget_progress(3, 3.0, None, None) == 0.0


def test_history_round_trips_through_a_dict():
    history = History(steps=[{"step": 1, "loss": 1.0}], evals=[{"step": 1, "train_loss": 1.0}], stopped_early="x")
    assert History.from_dict(history.to_dict()) == history
