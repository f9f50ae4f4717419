"""Writing files so that an interruption never leaves a half-written one.

Every file the course writes and cares about (checkpoints, metrics, the grade
book, feedback, released notebooks) goes through :func:`atomic_write`: the data
go to a temporary file in the same folder, are flushed to disk (``fsync``),
and the temporary file is renamed over the target. A crash part way leaves
the previous file intact and at most a stray ``*.tmp`` beside it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable


def _temporary(path: Path) -> Path:
    return path.with_name(path.name + f".{os.getpid()}.tmp")


def atomic_write_with(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """``write(tmp)`` fills a temporary file, which is synced and renamed over ``path``; returns ``path``.

    For writers that want a path rather than bytes (``torch.save``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def atomic_write(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write ``data`` (``str`` is encoded as UTF-8) to ``path`` atomically; returns ``path``."""
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            handle.write(payload)

    return atomic_write_with(path, write)
