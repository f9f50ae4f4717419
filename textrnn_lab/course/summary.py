"""Running several chapters and summarising them: ``summary.md`` and ``summary.json``.

:func:`run_chapters` executes each chapter's solution notebook
(:func:`~.execute.execute_notebook`) into one folder, gathers what it reported
(the metrics it recorded, the self-checks it displayed; MIME types in
:mod:`textrnn_lab.runtime.display`) into a :class:`RunSummary` per chapter, and
rewrites the two summary files after every chapter, so an interrupted run still
leaves a summary of the chapters that finished. ``textrnn-lab run`` and
``make course`` call it.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import CourseError
from ..runtime.display import CHECK_MIME, METRICS_MIME
from ..runtime.files import atomic_write
from ..runtime.text import first_line
from .cells import collect_outputs, read_notebook
from .chapters import Chapter, resolve_chapter
from .execute import execute_notebook


@dataclass
class RunSummary:
    """The outcome of one chapter in :func:`run_chapters`."""

    number: str
    stem: str
    title: str
    status: str  # "ok" or "failed"
    duration_s: float
    device: str
    output: str
    metrics: dict = field(default_factory=dict)
    checks: dict = field(default_factory=dict)  # status -> count
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict:
        return asdict(self)


def _read_metrics_file(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if isinstance(data, dict) and isinstance(data.get("values"), dict):
        return dict(data["values"])
    return dict(data) if isinstance(data, dict) else {}


def _gather_metrics(chapter: Chapter, out_dir: Path, nb) -> dict:
    values: dict = {}
    for name in (chapter.number, chapter.stem):
        values.update(_read_metrics_file(out_dir / f"{name}.metrics.json"))
    if nb is not None:
        for payload in collect_outputs(nb, METRICS_MIME):
            found = payload.get("values", payload)
            if isinstance(found, dict):
                values.update(found)
    return values


def _format_value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.4g}"
    text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _headline(metrics: dict, limit: int = 4) -> str:
    items = [(k, v) for k, v in metrics.items() if k != "device"]
    shown = ", ".join(f"{k}={_format_value(v)}" for k, v in items[:limit])
    if len(items) > limit:
        shown += f", ... (+{len(items) - limit})"
    return shown or "-"


def _write_summaries(summaries: list[RunSummary], out_dir: Path, settings: dict) -> None:
    failed = [s for s in summaries if not s.ok]
    lines = [
        "# Course run summary",
        "",
        f"smoke: {settings['smoke']} | device: {settings['device']} | seed: {settings['seed']} | "
        f"{len(summaries) - len(failed)}/{len(summaries)} chapters ok",
        "",
        "| chapter | status | time | device | checks | headline figures |",
        "|---|---|---|---|---|---|",
    ]
    for s in summaries:
        checks = ", ".join(f"{n} {k}" for k, n in sorted(s.checks.items())) or "-"
        lines.append(
            f"| {_md_escape(s.stem)} | {'ok' if s.ok else '**FAILED**'} | {s.duration_s:.1f} s | "
            f"{_md_escape(s.device)} | {checks} | {_md_escape(_headline(s.metrics))} |"
        )
    for s in summaries:
        heading = s.title if s.title.startswith(s.number) else f"{s.number} {s.title}"
        lines += ["", f"## {_md_escape(heading)}", ""]
        lines += [
            "| | |",
            "|---|---|",
            f"| status | {'ok' if s.ok else 'FAILED'} |",
            f"| time | {s.duration_s:.1f} s |",
            f"| device | {_md_escape(s.device)} |",
            f"| notebook | {_md_escape(s.output)} |",
        ]
        for key, value in s.metrics.items():
            if key != "device":
                lines.append(f"| {_md_escape(key)} | {_md_escape(_format_value(value))} |")
        if s.error:
            lines += ["", f"error: `{s.error.replace('`', chr(39))}`"]
    atomic_write(out_dir / "summary.md", "\n".join(lines) + "\n")
    payload = dict(settings)
    payload["ok"] = not failed
    payload["chapters"] = [s.to_dict() for s in summaries]
    atomic_write(out_dir / "summary.json", json.dumps(payload, indent=2, default=str) + "\n")


def run_chapters(
    chapters: Iterable[Chapter | str],
    smoke: bool,
    device: str,
    out_dir: str | os.PathLike,
    seed: int = 0,
    *,
    kernel_name: str = "python3",
    timeout: float | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> list[RunSummary]:
    """Execute each chapter's solution notebook into ``out_dir`` and summarise.

    Each chapter runs with ``{"SMOKE": smoke, "DEVICE": device, "SEED": seed}``
    into ``out_dir/<stem>.ipynb``; its metrics come from the notebook's metrics
    outputs and ``out_dir/<number|stem>.metrics.json``. ``summary.md`` and
    ``summary.json`` in ``out_dir`` are rewritten after every chapter. A failing
    chapter does not stop the others; check ``all(s.ok for s in result)``.
    ``log`` (e.g. ``print``) receives one line per chapter.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = {"smoke": bool(smoke), "device": str(device), "seed": int(seed)}
    parameters = {"SMOKE": bool(smoke), "DEVICE": str(device), "SEED": int(seed)}
    summaries: list[RunSummary] = []
    for item in chapters:
        try:
            chapter = resolve_chapter(item)
        except CourseError as exc:
            summary = RunSummary(
                number="??", stem=str(item), title=str(item), status="failed", duration_s=0.0,
                device=str(device), output="", error=exc.message,
            )
            summaries.append(summary)
            _write_summaries(summaries, out_dir, settings)
            if log:
                log(f"FAILED {item}: {exc.message}")
            continue
        output = out_dir / f"{chapter.stem}.ipynb"
        for stale in (output, out_dir / f"{chapter.number}.metrics.json", out_dir / f"{chapter.stem}.metrics.json"):
            if stale.exists():
                stale.unlink()
        if log:
            log(f"running {chapter.stem} ...")
        start = time.perf_counter()
        error: str | None = None
        try:
            result = execute_notebook(
                chapter.solution, output, parameters, kernel_name=kernel_name,
                timeout=timeout, progress=progress, raise_on_error=False,
            )
            error = result.error
            duration = result.duration_s
        except CourseError as exc:
            error, duration = exc.message, time.perf_counter() - start
        except Exception as exc:  # a chapter must never stop the others
            error, duration = f"{type(exc).__name__}: {first_line(exc, strip_ansi=True)}", time.perf_counter() - start
        executed = None
        if output.exists():
            try:
                executed = read_notebook(output)
            except CourseError:
                executed = None
        metrics = _gather_metrics(chapter, out_dir, executed)
        checks: dict[str, int] = {}
        if executed is not None:
            for payload in collect_outputs(executed, CHECK_MIME):
                status = str(payload.get("status", "unknown"))
                checks[status] = checks.get(status, 0) + 1
        summary = RunSummary(
            number=chapter.number,
            stem=chapter.stem,
            title=chapter.title,
            status="ok" if error is None else "failed",
            duration_s=round(duration, 3),
            device=str(metrics.get("device", device)),
            output=str(output),
            metrics=metrics,
            checks=checks,
            error=error,
        )
        summaries.append(summary)
        _write_summaries(summaries, out_dir, settings)
        if log:
            log(f"{'ok' if summary.ok else 'FAILED'} {chapter.stem} ({summary.duration_s:.1f} s)"
                + (f": {error}" if error else ""))
    if not summaries:
        _write_summaries(summaries, out_dir, settings)
    return summaries
