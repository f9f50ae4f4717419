"""Benchmark: grading 20 submissions of chapter 00 in smoke mode, with 1 and with 2 workers.

Makes the submissions from chapters/00 (what students are given): a quarter left
as they are, a quarter fully solved, a quarter half solved, a quarter wrong. Each
is a whole notebook (the tour cells included), as a student would hand it in.
Grades them with ``textrnn_lab.grading.grade`` (the code behind ``textrnn-lab
grade``) into a fresh folder for each worker count, and prints:

* submissions per minute (wall clock, from the first submission to the last);
* the per-submission overhead: everything that is not the student's own cells
  running, split into preparation (reading, matching, papermill's parameter
  injection), kernel start, exporting the student's definitions, the tests in
  the separate test process, writing the notebook and feedback, and the worker
  and grade-book bookkeeping around them (medians over the submissions);
* the machine's load average before and after (it may be shared).

    python benchmarks/grading.py                  # 20 submissions, 1 then 2 workers
    python benchmarks/grading.py --count 6 --workers 2 --light    # a quick look
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ONE_HOT = '''def one_hot(indices: torch.Tensor, num_classes: int) -> torch.Tensor:
    """indices: LongTensor[...] -> FloatTensor[..., num_classes]."""
    return (indices.unsqueeze(-1) == torch.arange(num_classes)).float()
'''
PERPLEXITY = '''import math


def perplexity(mean_nll_nats: float) -> float:
    """Mean negative log-likelihood in nats -> perplexity."""
    return math.exp(mean_nll_nats)
'''
WRONG_PERPLEXITY = PERPLEXITY.replace("math.exp(mean_nll_nats)", "2 ** mean_nll_nats")
TOUR = ("diagnose(", "load_dataset(", "counts.plot", "load_encoder(", "metrics.record(", "images[i")


def _load() -> str:
    try:
        return "load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:  # pragma: no cover
        return "load average unknown"


def make_submissions(folder: Path, count: int, light: bool) -> list[Path]:
    import nbformat

    from textrnn_lab.course.chapters import resolve_chapter
    from textrnn_lab.course.release import release_notebook

    chapter = resolve_chapter("00")
    if Path(chapter.student).is_file():
        base = nbformat.read(chapter.student, as_version=4)
    else:
        base = release_notebook(nbformat.read(chapter.solution, as_version=4))
    ids = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id"): i for i, c in enumerate(base.cells)}
    kinds = [("pristine", None, None), ("solved", ONE_HOT, PERPLEXITY),
             ("half", ONE_HOT, None), ("wrong", ONE_HOT, WRONG_PERPLEXITY)]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        kind, one_hot, perplexity = kinds[n % len(kinds)]
        nb = nbformat.from_dict(base)
        nb = nbformat.reads(nbformat.writes(nb), as_version=4)
        if one_hot:
            nb.cells[ids["ch00_one_hot"]].source = one_hot
        if perplexity:
            nb.cells[ids["ch00_perplexity"]].source = perplexity
        if light:
            nb.cells = [c for c in nb.cells if not (c.cell_type == "code" and any(m in c.source for m in TOUR))]
        path = folder / f"student{n:02d}_{kind}.ipynb"
        nbformat.write(nb, str(path))
        paths.append(path)
    return paths


def _median(values) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def run(submissions: Path, out: Path, workers: int, isolation: str) -> dict:
    from textrnn_lab.grading import GradeOptions, grade

    started = time.monotonic()
    result = grade("00", [submissions], out, GradeOptions(workers=workers, isolation=isolation, force=True))
    wall = time.monotonic() - started
    timed = [r for r in result.results if "cells_s" in r.timings]
    t = [r.timings for r in timed]
    cells = _median(x["cells_s"] for x in t)
    parts = {
        "prepare (read, match, inject)": _median(x.get("prepare_s") for x in t),
        "kernel start": _median(x.get("kernel_start_s") for x in t),
        "export definitions": _median(x.get("export_s") for x in t),
        "tests (test process)": _median(x.get("tests_s") for x in t),
        "write notebook + feedback": _median(x.get("write_s") for x in t),
        "stop kernel, test process; clean up": _median((x.get("stop_s", 0) + x.get("cleanup_s", 0)) for x in t),
    }
    worker_total = _median(x.get("total_s") for x in t)
    parent_wall = _median(x.get("wall_s") for x in t)
    named = sum(v for v in parts.values() if v == v)
    parts["other worker bookkeeping"] = max(0.0, worker_total - cells - named)
    parts["grader <-> worker, grade book"] = max(0.0, parent_wall - worker_total)
    return {
        "workers": workers,
        "count": len(result.results),
        "wall_s": wall,
        "per_minute": 60.0 * len(result.results) / wall if wall else float("nan"),
        "cells_s": cells,
        "submission_s": parent_wall,
        "worker_total_s": worker_total,
        "overhead_s": parent_wall - cells,
        "parts": parts,
        "isolation": result.isolation,
        "scores": sorted({(r.student.split("_", 1)[1], r.points) for r in result.results}),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20, help="number of submissions (default 20)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to compare (default 1 2)")
    parser.add_argument("--light", action="store_true", help="drop the tour cells (data, encoder): faster notebooks")
    parser.add_argument("--isolation", default="auto", choices=("auto", "on", "off"))
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    print(f"grading benchmark: {args.count} submissions of chapter 00, smoke mode, CPU; "
          f"{os.cpu_count()} CPU(s); {_load()}")
    with tempfile.TemporaryDirectory(prefix="textrnn-grading-bench-") as tmp:
        tmp = Path(tmp)
        make_submissions(tmp / "subs", args.count, args.light)
        rows = []
        for workers in args.workers:
            row = run(tmp / "subs", tmp / f"out-{workers}", workers, args.isolation)
            rows.append(row)
            print(f"\n{workers} worker(s): {row['count']} graded in {row['wall_s']:.1f} s = "
                  f"{row['per_minute']:.1f} submissions/min   (isolation: {row['isolation']})")
            print(f"  per submission (median): {row['submission_s']:.2f} s, of which the student's cells "
                  f"{row['cells_s']:.2f} s and grader overhead {row['overhead_s']:.2f} s:")
            for name, value in row["parts"].items():
                print(f"    {name:<34} {value:6.2f} s")
            print(f"  scores by kind: {row['scores']}; {_load()}")
        if len(rows) > 1:
            base = rows[0]
            for row in rows[1:]:
                print(f"\nspeed-up {base['workers']} -> {row['workers']} workers: "
                      f"{row['per_minute'] / base['per_minute']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
