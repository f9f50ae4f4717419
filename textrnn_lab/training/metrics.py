"""Recording a run's headline figures to a JSON file.

``record("01_rnn_text_generation", val_bpc=1.9)`` merges the values into
``<run dir>/<chapter>.metrics.json`` (atomically) where the run dir is
``$TEXTRNN_LAB_RUN_DIR`` (set by ``textrnn-lab run``) or ``runs/metrics``.
In a notebook it also displays a machine-readable bundle with MIME type
``application/vnd.textrnn-lab.metrics+json`` that the runner reads back, and a
short plain-text line a person can read.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

from ..runtime.display import METRICS_MIME, display_bundle, in_ipython
from ..runtime.files import atomic_write
from ..runtime.paths import RUN_DIR_ENV, runs_dir


def _run_dir() -> Path:
    env = os.environ.get(RUN_DIR_ENV)
    if env:
        return Path(env)
    return runs_dir() / "metrics"


def _jsonable(value: Any) -> Any:
    """Turn numpy / torch scalars and small arrays into plain JSON values."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()
    elif hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def metrics_path(chapter: str, run_dir: str | os.PathLike | None = None) -> Path:
    return Path(run_dir) if run_dir is not None else _run_dir() / f"{chapter}.metrics.json"


def record(chapter: str, run_dir: str | os.PathLike | None = None, display: bool = True, **values: Any) -> None:
    """Merge ``values`` into the chapter's metrics file (read them back with :func:`read`).

    Returns nothing, so a ``record(...)`` on the last line of a cell shows only its one line.
    """
    folder = Path(run_dir) if run_dir is not None else _run_dir()
    path = folder / f"{chapter}.metrics.json"
    current: dict[str, Any] = {}
    if path.is_file():
        try:
            current = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            current = {}
    clean = {str(k): _jsonable(v) for k, v in values.items()}
    current.setdefault("values", {}).update(clean)
    current["chapter"] = chapter
    current["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    atomic_write(path, json.dumps(current, indent=2, sort_keys=True).encode("utf-8"))
    if display:
        _display(chapter, clean)


def read(chapter: str, run_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Return the recorded values of ``chapter`` (empty if none)."""
    folder = Path(run_dir) if run_dir is not None else _run_dir()
    path = folder / f"{chapter}.metrics.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8")).get("values", {})


def _format(values: dict[str, Any]) -> str:
    parts = []
    for key, value in values.items():
        parts.append(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}")
    return ", ".join(parts)


def _display(chapter: str, values: dict[str, Any]) -> None:
    text = f"recorded {chapter}: {_format(values)}"
    if not in_ipython():
        print(text)
        return
    display_bundle({"text/plain": text, METRICS_MIME: {"chapter": chapter, "values": values}})
