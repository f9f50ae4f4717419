"""Every exercise of every chapter is guarded against delegation, and a crafted submission proves it.

The grader gives an exercise answered by calling the course's own reference, or the
built-in the exercise says not to use, the status ``uses-reference`` and no points
(:func:`textrnn_lab.grading.verdicts.forbidden_verdict`). That only holds for an
exercise whose self-check names what is forbidden, and it is only known to hold for one
that a grading test attacks with a delegating submission. This file ties the three
together for the whole course, without running a notebook:

* each exercise (an nbgrader solution cell) of each solution notebook has a crafted
  delegating submission in the ``DELEGATES`` of ``tests/grading/test_chapterNN.py``
  (chapter 00's live in ``test_verdicts.py``);
* each self-check a hidden test cell calls declares the names it forbids;
* no ``DELEGATES`` entry is left over from an exercise that no longer exists.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from textrnn_lab import checks

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
CHECK_CALL = re.compile(r"""checks\.check\(\s*["'](\d\d\.[A-Za-z0-9_]+)["']""")


def _chapter(path: Path) -> str:
    return path.name[:2]


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def exercises(path: Path) -> list[str]:
    """The grade ids of the solution cells (what a student writes) of one notebook."""
    nb = nbformat.read(path, as_version=4)
    return [_nbgrader(c)["grade_id"] for c in nb.cells if _nbgrader(c).get("solution")]


def checks_called(path: Path) -> list[str]:
    """The self-checks the graded test cells of one notebook call."""
    nb = nbformat.read(path, as_version=4)
    names = []
    for cell in nb.cells:
        if cell.cell_type == "code" and _nbgrader(cell).get("grade"):
            names += [n for n in CHECK_CALL.findall(cell.source) if n not in names]
    return names


def delegates_in(test_file: Path) -> set[str]:
    """The keys of the module-level ``DELEGATES = {...}`` of a test file, read without importing it."""
    if not test_file.is_file():
        return set()
    tree = ast.parse(test_file.read_text(encoding="utf-8"))
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else \
            getattr(node, "target", None)
        if isinstance(target, ast.Name) and target.id == "DELEGATES" and isinstance(node.value, ast.Dict):
            return {k.value for k in node.value.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    return set()


def delegates_for(chapter: str) -> set[str]:
    keys = delegates_in(HERE / f"test_chapter{chapter}.py")
    shared = {k for k in delegates_in(HERE / "test_verdicts.py") if k.startswith(f"ch{chapter}_")}
    return keys | shared


def test_the_solution_notebooks_are_found():
    assert len(SOLUTIONS) >= 10, SOLUTIONS
    assert all(exercises(p) for p in SOLUTIONS), "a chapter without exercises"


@pytest.mark.parametrize("path", SOLUTIONS, ids=_chapter)
def test_every_exercise_has_a_crafted_delegating_submission(path):
    chapter = _chapter(path)
    wanted, crafted = set(exercises(path)), delegates_for(chapter)
    missing = sorted(wanted - crafted)
    assert not missing, (f"chapter {chapter}: no delegating submission for {missing}; add one to DELEGATES in "
                         f"tests/grading/test_chapter{chapter}.py and assert it earns uses-reference")
    stale = sorted(k for k in crafted - wanted if k.startswith(f"ch{chapter}_"))
    assert not stale, f"chapter {chapter}: DELEGATES names exercises that do not exist: {stale}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=_chapter)
def test_every_check_a_graded_cell_calls_names_what_it_forbids(path):
    chapter = _chapter(path)
    called = checks_called(path)
    assert called, f"chapter {chapter}: no graded cell calls a self-check"
    checks.available_checks(chapter)  # imports the chapter's check module
    bare = [name for name in called if not checks.forbidden_calls(name)]
    assert not bare, (f"chapter {chapter}: {bare} forbid nothing, so a submission that calls the course's "
                      "reference would pass; give register(...) a forbidden=(...) list")


def test_the_ast_reader_sees_a_real_delegates_table(tmp_path):
    sample = tmp_path / "test_chapter99.py"
    sample.write_text('X = 1\nDELEGATES = {"ch99_a": "...", "ch99_b": """..."""}\n', encoding="utf-8")
    assert delegates_in(sample) == {"ch99_a", "ch99_b"}
    assert delegates_in(tmp_path / "absent.py") == set()
