"""Device choice, seeding, and imports that are quiet and light."""
from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from textrnn_lab.errors import DeviceError
from textrnn_lab.runtime.device import available_devices, describe_device, get_device
from textrnn_lab.runtime.seeding import seed_everything


def test_auto_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    from textrnn_lab.runtime import device as device_module

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device_module, "_mps_available", lambda: False)
    assert get_device("auto") == torch.device("cpu") and get_device(None) == torch.device("cpu")
    assert available_devices() == ["cpu"]
    monkeypatch.setattr(device_module, "_mps_available", lambda: True)
    assert get_device("auto") == torch.device("mps") and available_devices() == ["mps", "cpu"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert get_device("auto") == torch.device("cuda") and available_devices()[:2] == ["cuda:0", "cuda:1"]
    assert get_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(DeviceError, match="only 2 CUDA GPU"):
        get_device("cuda:2")


def test_cpu_is_always_there():
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
        "import sys, textrnn_lab, textrnn_lab.training, textrnn_lab.training.metrics, textrnn_lab.training.plotting,"
        " textrnn_lab.runtime.quiet, textrnn_lab.runtime.device, textrnn_lab.training.checkpoint, textrnn_lab.lm,"
        " textrnn_lab.gradients, textrnn_lab.layers, textrnn_lab.data\n"
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
