"""Every notebook of the course, executed in smoke mode.

* solutions/: by papermill (every self-check passes, figures are recorded) and
  by nbval in lax mode (a separate pytest run on a smoke-parameterised copy);
* chapters/: checked for structure (generated from solutions/, no solution code,
  no hidden tests, no outputs) and executed: every exercise reports TODO and
  nothing raises except the students' ``NotImplementedError``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from textrnn_lab.course.cells import collect_outputs, parse_parameters
from textrnn_lab.course.execute import execute_notebook
from textrnn_lab.course.release import release_notebook, validate_solution
from textrnn_lab.runtime.display import CHECK_MIME, METRICS_MIME

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
SMOKE = {"SMOKE": True, "DEVICE": "cpu", "SEED": 0}

pytestmark = pytest.mark.notebooks


def _ids(paths):
    return [p.stem for p in paths]


def _test_cells(nb):
    return [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]


def _solution_cells(nb):
    return [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")]


@pytest.fixture()
def run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTRNN_LAB_RUN_DIR", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return tmp_path


def test_there_are_notebooks():
    assert SOLUTIONS, "solutions/ has no chapter notebook"
    assert [p.name for p in SOLUTIONS] == [p.name for p in CHAPTERS]


@pytest.mark.parametrize("path", SOLUTIONS, ids=_ids(SOLUTIONS))
def test_solution_is_well_formed(path):
    nb = nbformat.read(path, as_version=4)
    assert validate_solution(nb, path) == []
    params = parse_parameters(nb, path)
    assert params["SMOKE"] is False, "the defaults are the full run; CI sets SMOKE=True"
    assert params["DEVICE"] == "auto"
    assert isinstance(params["SEED"], int)


@pytest.mark.parametrize("path", SOLUTIONS, ids=_ids(SOLUTIONS))
def test_solution_runs_in_smoke_mode_with_papermill(path, run_dir):
    out = run_dir / path.name
    result = execute_notebook(path, out, SMOKE, timeout=300)
    assert result.ok
    executed = nbformat.read(out, as_version=4)
    checks = collect_outputs(executed, CHECK_MIME)
    assert len(checks) == len(_test_cells(executed)) >= 2, "every exercise's check cell must report"
    failing = [c for c in checks if c["status"] != "pass"]
    assert not failing, f"the reference solution fails its own checks: {failing}"
    recorded = collect_outputs(executed, METRICS_MIME)
    assert recorded and recorded[-1]["values"], "each chapter records at least one measured figure"
    assert (run_dir / f"{path.stem}.metrics.json").is_file()
    figures = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if "image/png" in o.get("data", {})]
    assert figures, "each chapter shows at least one figure in the executed notebook"
    print(f"{path.stem}: {result.duration_s:.1f} s in smoke mode")


@pytest.mark.parametrize("path", SOLUTIONS, ids=_ids(SOLUTIONS))
def test_solution_passes_nbval_lax(path, run_dir):
    import papermill

    prepared = run_dir / "nbval" / path.name
    prepared.parent.mkdir()
    papermill.execute_notebook(str(path), str(prepared), parameters=SMOKE, prepare_only=True,
                               kernel_name="python3", progress_bar=False)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "--rootdir", str(prepared.parent), str(prepared)],
        capture_output=True, text=True, timeout=600, env=env, cwd=prepared.parent,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout


@pytest.mark.parametrize("path", CHAPTERS, ids=_ids(CHAPTERS))
def test_student_notebook_structure(path):
    nb = nbformat.read(path, as_version=4)
    solution = nbformat.read(ROOT / "solutions" / path.name, as_version=4)
    text = json.dumps([c.source for c in nb.cells])
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text, f"{path.name} still contains '### {marker}'"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "student notebooks ship without outputs"
    exercises = _solution_cells(nb)
    assert exercises and len(exercises) == len(_solution_cells(solution))
    for cell in exercises:
        assert "# YOUR CODE HERE" in cell.source and "raise NotImplementedError()" in cell.source
    assert len(_test_cells(nb)) == len(_test_cells(solution))
    assert [c.get("id") for c in nb.cells] == [c.get("id") for c in release_notebook(solution).cells]


@pytest.mark.parametrize("path", CHAPTERS, ids=_ids(CHAPTERS))
def test_student_notebook_runs_with_exercises_todo(path, run_dir):
    """The pristine student notebook runs end to end without an error in any cell.

    An unfinished exercise raises NotImplementedError only when it is called, inside its
    check (which reports TODO). A cell that calls it elsewhere would stop JupyterLab's
    Run All there, so the student could not run the chapter before finishing it.
    """
    import papermill
    from nbclient import NotebookClient

    prepared = run_dir / "prepared.ipynb"
    papermill.execute_notebook(str(path), str(prepared), parameters=SMOKE, prepare_only=True,
                               kernel_name="python3", progress_bar=False)
    nb = nbformat.read(prepared, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [(i, o.get("ename")) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"cells raised (Run All in JupyterLab stops at the first): {errors}"
    checks = collect_outputs(nb, CHECK_MIME)
    assert checks and all(c["status"] == "todo" for c in checks), checks


def test_release_check_passes(repo_root):
    proc = subprocess.run([sys.executable, "-m", "textrnn_lab.course.cli", "release", "--check"],
                          capture_output=True, text=True, cwd=repo_root, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
