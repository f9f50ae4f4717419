"""Chapter 08 graded by the real grader: the solution earns full marks, the released copy none, delegation none.

One graded run (shared between pytest-xdist workers, like test_grading's runs) of
the chapter's light notebook (imports, parameters, the exercises and their
tests: seconds instead of minutes) with three submissions.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from test_grading import _shared_run, index_of, statuses, write

from textrnn_lab.grading.grader import GradeOptions

ROOT = Path(__file__).resolve().parents[2]
CH08 = "08_multitask_frozen_layers"
EXERCISES = ("ch08_align_labels", "ch08_mean_pool", "ch08_multitask_loss")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

DELEGATES = {
    "ch08_align_labels": '''def align_labels(word_ids, word_tags):
    return mt.align_labels(word_ids, word_tags)
''',
    "ch08_mean_pool": '''from textrnn_lab.multitask.model import mean_pool as _pool


def mean_pool(hidden, mask):
    return _pool(hidden, mask)
''',
    "ch08_multitask_loss": '''def multitask_loss(s, t, sentence_labels, token_labels, weights=(1.0, 1.0)):
    return mt.multitask_loss(s, t, sentence_labels, token_labels, weights)
''',
}


def _notebook(folder: str):
    return nbformat.read(ROOT / folder / f"{CH08}.ipynb", as_version=4)


def _light(nb):
    """Only the imports, the parameters, the exercises and their tests."""
    kept, first_code = [], True
    for cell in nb.cells:
        meta = cell.get("metadata", {})
        if cell.cell_type != "code" or first_code or "parameters" in meta.get("tags", []) \
                or meta.get("nbgrader") or cell.source.lstrip().startswith("if SMOKE"):
            kept.append(cell)
        if cell.cell_type == "code":
            first_code = False
    nb.cells = kept
    return nb


def _with(nb, sources: dict[str, str]):
    for grade_id, source in sources.items():
        nb.cells[index_of(nb, grade_id)].source = source
    return nb


def _solutions() -> dict[str, str]:
    found = {}
    for cell in _notebook("solutions").cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            found[meta["grade_id"]] = cell.source
    return found


def chapter08_submissions(base: Path, out: Path) -> dict[str, Path]:
    subs = base / "chapter08"
    made = {}

    def add(name, nb):
        made[name] = write(nb, subs / f"{name}.ipynb")

    student = lambda: _light(_notebook("chapters"))  # noqa: E731
    add("solution", _with(student(), _solutions()))
    add("untouched", student())
    add("delegates", _with(student(), DELEGATES))
    return made


@pytest.fixture(scope="session")
def run08(tmp_path_factory):
    options = GradeOptions(workers=2, timeout=300, cell_timeout=120, test_timeout=60)
    return _shared_run(tmp_path_factory, "chapter08", chapter08_submissions, options, chapter="08")


@pytest.mark.notebooks
def test_the_solution_earns_full_marks(run08):
    result = run08["results"]["solution"]
    assert statuses(result) == {e: "passed" for e in EXERCISES}, result.exercises
    assert result.points == result.max_points == 8


@pytest.mark.notebooks
def test_the_released_copy_earns_nothing(run08):
    result = run08["results"]["untouched"]
    assert result.points == 0 and "passed" not in statuses(result).values(), result.exercises


@pytest.mark.notebooks
def test_delegating_to_the_reference_earns_nothing(run08):
    result = run08["results"]["delegates"]
    assert set(statuses(result).values()) == {"uses-reference"}, result.exercises
    assert result.points == 0
    messages = " ".join(e.message for e in result.exercises)
    assert "textrnn_lab.multitask.tags.align_labels" in messages
    assert "textrnn_lab.multitask.loss.multitask_loss" in messages
