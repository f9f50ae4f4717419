"""textrnn-lab: reference implementations for a course on deep learning for text.

Importing the package is cheap and prints nothing. Submodules are imported on
demand: ``from textrnn_lab import training`` or ``textrnn_lab.training``.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

__all__ = ["__version__"]


def __getattr__(name: str):
    """``textrnn_lab.<module>`` imports that submodule on first use."""
    if not name.startswith("_"):
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module 'textrnn_lab' has no attribute {name!r}")
