"""What training leaves behind: checkpoints, a chapter's metrics file, and plots of its history."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from textrnn_lab.errors import CourseError
from textrnn_lab.training import checkpoint, metrics, plotting


def test_checkpoint_is_atomic_and_round_trips(tmp_path):
    path = tmp_path / "sub" / "model.pt"
    checkpoint.save_checkpoint(path, {"weights": torch.arange(3), "vocab": ["a", "b"]})
    state = checkpoint.load_checkpoint(path)
    assert state["vocab"] == ["a", "b"] and state["weights"].tolist() == [0, 1, 2]
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"], "no temp file may be left behind"


def test_failed_save_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "model.pt"
    checkpoint.save_checkpoint(path, {"version": 1})

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom while pickling")

    with pytest.raises(RuntimeError):
        checkpoint.save_checkpoint(path, {"version": 2, "bad": Unpicklable()})
    assert checkpoint.load_checkpoint(path)["version"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_loading_a_missing_or_broken_checkpoint(tmp_path):
    with pytest.raises(CourseError, match="does not exist"):
        checkpoint.load_checkpoint(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CourseError, match="could not be read"):
        checkpoint.load_checkpoint(bad)


def test_metrics_record_merges_into_one_json_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TEXTRNN_LAB_RUN_DIR", str(tmp_path))
    metrics.record("01_demo", val_loss=torch.tensor(1.25), bpc=np.float32(1.8))
    metrics.record("01_demo", samples=3)
    data = json.loads((tmp_path / "01_demo.metrics.json").read_text())
    assert data["chapter"] == "01_demo"
    assert data["values"] == {"val_loss": 1.25, "bpc": pytest.approx(1.8), "samples": 3}
    assert metrics.read("01_demo") == data["values"]
    assert "recorded 01_demo" in capsys.readouterr().out


def test_plot_history_draws_losses_and_other_values(tmp_path):
    from textrnn_lab.training import History

    history = History(evals=[{"step": 10, "train_loss": 2.0, "val_loss": 2.1, "val_acc": 0.5},
                             {"step": 20, "train_loss": 1.5, "val_loss": 1.7, "val_acc": 0.6}])
    fig = plotting.plot_history(history, title="demo")
    assert len(fig.axes) == 2
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert labels == ["train loss", "val loss"]
    assert list(fig.axes[0].lines[1].get_xdata()) == [10, 20] and fig.axes[0].get_xlabel() == "step"
    out = plotting.save_figure(fig, tmp_path / "curves.png")
    assert out.stat().st_size > 5000
    with pytest.raises(ValueError, match="empty"):
        plotting.plot_history(History())
