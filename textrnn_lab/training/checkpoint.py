"""Checkpoints written atomically, so an interrupted save never corrupts one.

A checkpoint is a plain dict saved with :func:`torch.save`. :func:`~textrnn_lab.training.loop.fit`
stores ``model``, ``optimizer``, ``scaler`` and ``scheduler`` (state dicts), ``step``,
``history``, ``config`` (the :class:`~textrnn_lab.training.loop.TrainConfig` as a dict)
and whatever the caller adds under ``extra`` (a vocabulary, the model's config ...).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..errors import CourseError
from ..runtime.files import atomic_write_with


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Save ``state`` to ``path`` atomically and return the path."""
    return atomic_write_with(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint saved by :func:`save_checkpoint`, with a clear error if it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise CourseError(
            f"checkpoint {path} does not exist.",
            hint="train first (it is written at every evaluation), or check the path.",
        )
    try:
        # weights_only=False: checkpoints also hold plain Python objects we wrote
        # ourselves (history, vocabulary); never load checkpoints you did not make.
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means the same thing
        raise CourseError(
            f"checkpoint {path} could not be read ({type(exc).__name__}: {exc}).",
            hint="the file is damaged or not a textrnn-lab checkpoint; delete it and train again.",
        ) from None
