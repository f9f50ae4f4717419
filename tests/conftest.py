"""Shared pytest set-up: offline hubs, quiet libraries, a headless matplotlib."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The suite never reaches a hub, and must behave the same with or without network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs two workers on two cores: one thread each, for the tests and for the
    # kernels and subprocesses they start (which inherit OMP_NUM_THREADS); oversubscribed
    # threads make small models ten times slower.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)


def selected_chapters(paths, default=()):
    """The chapters named in TEXTRNN_LAB_TEST_CHAPTERS ("00,01,04", or "all"), else ``default`` (empty: all).

    For the tests that execute every chapter once more (browser, nbgrader, site): a quicker run
    names a few; ``paths`` are notebook paths or file names.
    """
    wanted = [w.strip() for w in os.environ.get("TEXTRNN_LAB_TEST_CHAPTERS", "").split(",") if w.strip()]
    if wanted == ["all"]:
        wanted = []
    elif not wanted:
        wanted = list(default)
    return [p for p in paths if not wanted or any(Path(str(p)).name.startswith(w) for w in wanted)]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture()
def python_exe() -> str:
    return sys.executable
