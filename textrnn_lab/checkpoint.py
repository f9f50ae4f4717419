"""Checkpoints written atomically, so an interrupted save never corrupts one.

A checkpoint is a plain dict saved with :func:`torch.save`: the trainer stores
``model``, ``optimizer``, ``scaler`` (state dicts), ``epoch``, ``step``,
``history`` and whatever the caller adds under ``extra`` (a vocabulary,
hyper-parameters ...). It is written to ``<path>.tmp`` first, flushed, then
renamed over ``path``; a crash part way leaves the previous checkpoint intact.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .errors import CourseError


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return path


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Save ``state`` to ``path`` atomically and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        torch.save(state, tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint saved by :func:`save_checkpoint`, with a clear error if it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise CourseError(
            f"checkpoint {path} does not exist.",
            hint="train first (it is written at the end of every epoch), or check the path.",
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
