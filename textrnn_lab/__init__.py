"""textrnn-lab: reference implementations for a course on deep learning for text.

Importing the package is cheap and prints nothing. Submodules are imported on
demand: ``from textrnn_lab import training`` or ``textrnn_lab.training``.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = {
    "checkpoint", "checks", "cli", "data", "device", "doctor", "errors", "hub", "metrics",
    "notebooks", "paths", "plotting", "pretrained", "quiet", "release",
    "seeding", "training",
}

__all__ = sorted(_SUBMODULES | {"__version__"})


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'textrnn_lab' has no attribute {name!r}")
