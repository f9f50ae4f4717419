"""Where things live: the repository root, data/, solutions/, chapters/, runs/.

The root is found from the environment variable ``TEXTRNN_LAB_ROOT`` if set,
otherwise by walking up from the current directory and then from this file
until a directory holding both ``pyproject.toml`` and ``solutions/`` is found.
"""
from __future__ import annotations

import os
from pathlib import Path


def _looks_like_root(path: Path) -> bool:
    return (path / "pyproject.toml").is_file() and (path / "solutions").is_dir()


def repo_root() -> Path:
    """Return the course repository root, or the current directory if none is found."""
    env = os.environ.get("TEXTRNN_LAB_ROOT")
    if env:
        return Path(env).resolve()
    for start in (Path.cwd().resolve(), Path(__file__).resolve().parent):
        for candidate in (start, *start.parents):
            if _looks_like_root(candidate):
                return candidate
    return Path.cwd().resolve()


def data_dir() -> Path:
    env = os.environ.get("TEXTRNN_LAB_DATA")
    return Path(env).resolve() if env else repo_root() / "data"


def solutions_dir() -> Path:
    return repo_root() / "solutions"


def chapters_dir() -> Path:
    return repo_root() / "chapters"


#: the environment variable naming a run's output folder (set by ``textrnn-lab run`` and the grader)
RUN_DIR_ENV = "TEXTRNN_LAB_RUN_DIR"


def runs_dir() -> Path:
    env = os.environ.get(RUN_DIR_ENV)
    return Path(env).resolve() if env else repo_root() / "runs"
