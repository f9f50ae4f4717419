"""The solutions with real nbgrader (0.9): its release agrees with ours, and its autograder with our points.

In a temporary nbgrader course folder, for every chapter:

* ``nbgrader generate_assignment`` on the solution gives, cell for cell, the
  sources of ``textrnn-lab release`` (the exercise cells included: the
  ``# YOUR CODE HERE`` stubs, the test cells without their hidden tests);
* ``nbgrader autograde`` gives the solution every point of every exercise and
  the released student copy none (both submitted in smoke mode: the parameters
  cell edited to ``SMOKE = True``, as a student would before running it).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import selected_chapters

from textrnn_lab.course.release import release_notebook

ROOT = Path(__file__).resolve().parents[2]




SOLUTIONS = selected_chapters(sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")))
# Autograding runs each notebook twice more, one after the other: by default a chapter without Keras
# and one with a classifier exercise; the release format checked by generate_assignment is the same for all.
AUTOGRADED = selected_chapters(SOLUTIONS, default=("00", "04"))
ASSIGNMENT = "course"

pytest.importorskip("nbgrader")


def _nbgrader(course: Path, *args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    env = dict(os.environ, MPLBACKEND="Agg", TEXTRNN_LAB_RUN_DIR=str(course / "runs"),
               # nbgrader runs `alembic` by name: the environment's scripts must be on PATH
               PATH=os.pathsep.join((str(Path(sys.executable).parent), os.environ.get("PATH", ""))))
    command = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course}", "--force"]
    proc = subprocess.run(command, cwd=course, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _smoke(nb):
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = re.sub(r"^SMOKE = False", "SMOKE = True", cell.source, flags=re.M)
            return nb
    raise AssertionError("no parameters cell")


def _points(nb) -> dict[str, float]:
    return {c.metadata["nbgrader"]["grade_id"]: float(c.metadata["nbgrader"]["points"])
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("nbgrader")
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        "c.Execute.timeout = 900\n"  # one cell of a smoke run on a busy machine; nbgrader's default is 30 s
        "c.Execute.interrupt_on_timeout = True\n"
    )
    source = root / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    for path in SOLUTIONS:
        shutil.copy(path, source / path.name)
    _nbgrader(root, "generate_assignment", ASSIGNMENT)
    return root


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_generate_assignment_matches_our_release(course, path):
    theirs = nbformat.read(course / "release" / ASSIGNMENT / path.name, as_version=4)
    ours = release_notebook(nbformat.read(path, as_version=4), path)
    assert len(theirs.cells) == len(ours.cells)
    for index, (a, b) in enumerate(zip(theirs.cells, ours.cells)):
        assert a.cell_type == b.cell_type, f"cell {index}"
        assert a.source.rstrip() == b.source.rstrip(), f"{path.name} cell {index} differs from nbgrader's release"
        meta_a, meta_b = a.metadata.get("nbgrader"), b.metadata.get("nbgrader")
        assert (meta_a is None) == (meta_b is None), f"cell {index}: nbgrader metadata on one side only"
        if meta_a:
            for key in ("grade", "solution", "locked", "grade_id", "points"):
                assert meta_a.get(key) == meta_b.get(key), f"{path.name} cell {index}: nbgrader {key}"
    graded = [c for c in ours.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert graded and all("### BEGIN HIDDEN TESTS" not in c.source for c in graded)


@pytest.mark.notebooks
def test_autograde_gives_the_solution_full_marks_and_the_student_copy_zero(course, monkeypatch):
    for student, make in (("solution", lambda p: nbformat.read(p, as_version=4)),
                          ("student", lambda p: release_notebook(nbformat.read(p, as_version=4), p))):
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        for path in AUTOGRADED:
            nbformat.write(_smoke(make(path)), folder / path.name)
    _nbgrader(course, "autograde", ASSIGNMENT)

    from nbgrader.api import Gradebook

    monkeypatch.setenv("PATH", os.pathsep.join((str(Path(sys.executable).parent), os.environ.get("PATH", ""))))
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in ("solution", "student"):
            for path in AUTOGRADED:
                submitted = gradebook.find_submission_notebook(path.stem, ASSIGNMENT, student)
                for grade in submitted.grades:
                    scores[(student, path.stem, grade.name)] = (grade.score, grade.max_score)
    for path in AUTOGRADED:
        expected = _points(nbformat.read(path, as_version=4))
        for grade_id, points in expected.items():
            got, top = scores[("solution", path.stem, grade_id)]
            assert top == points, f"{path.stem} {grade_id}: nbgrader's maximum is our points"
            assert got == points, f"the solution of {path.stem} scores {got} of {points} on {grade_id}"
            got, _ = scores[("student", path.stem, grade_id)]
            assert got == 0, f"the released copy of {path.stem} scores {got} on {grade_id}"
