"""Device choice, seeding, quiet imports, checkpoints, metrics and plots."""
from __future__ import annotations

import json
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from textrnn_lab.training import checkpoint, metrics, plotting
from textrnn_lab.runtime.device import available_devices, describe_device, get_device
from textrnn_lab.errors import CourseError, DeviceError
from textrnn_lab.runtime.seeding import seed_everything


def test_auto_device_is_cpu_without_gpu():
    if torch.cuda.is_available():
        assert get_device("auto").type == "cuda"
    else:
        assert get_device("auto").type in ("cpu", "mps")
    assert get_device(None) == get_device("auto")
    assert get_device("cpu") == torch.device("cpu")
    assert "cpu" in available_devices()
    assert describe_device(torch.device("cpu")).startswith("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("name", ["cuda", "cuda:0", "CUDA:3"])
def test_missing_cuda_is_a_clear_error(name):
    with pytest.raises(DeviceError) as info:
        get_device(name)
    text = str(info.value)
    assert "no CUDA GPU" in text and "auto" in text and "cpu" in text


@pytest.mark.parametrize("name", ["gpu0", "tpu", "banana"])
def test_nonsense_device_name(name):
    with pytest.raises(DeviceError, match="auto"):
        get_device(name)


def test_seed_everything_repeats_all_three_generators():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()

    seed_everything(123)
    first = draw()
    seed_everything(123)
    assert draw() == first
    seed_everything(124)
    assert draw() != first


def test_import_is_quiet_and_light():
    code = (
        "import sys, textrnn_lab, textrnn_lab.training, textrnn_lab.metrics, textrnn_lab.plotting,"
        " textrnn_lab.quiet, textrnn_lab.device, textrnn_lab.checkpoint\n"
        "heavy = [m for m in ('tensorflow', 'transformers', 'keras', 'matplotlib.pyplot') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""


def test_quiet_import_of_transformers_prints_nothing():
    code = "from textrnn_lab.runtime.quiet import import_transformers\nt = import_transformers()\nprint('ok')\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
    assert proc.stderr.strip() == ""


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

    history = History([{"epoch": 1, "train_loss": 2.0, "val_loss": 2.1, "val_acc": 0.5},
                       {"epoch": 2, "train_loss": 1.5, "val_loss": 1.7, "val_acc": 0.6}])
    fig = plotting.plot_history(history, title="demo")
    assert len(fig.axes) == 2
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert labels == ["train loss", "val loss"]
    out = plotting.save_figure(fig, tmp_path / "curves.png")
    assert out.stat().st_size > 5000
    with pytest.raises(ValueError, match="empty"):
        plotting.plot_history(History())
