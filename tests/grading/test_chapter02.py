"""Chapter 02 graded by the real grader: the solution earns full marks, the released copy none, delegation none.

The notebooks are cut to the imports, the parameters, the exercises and their tests
(``test_verdicts.light_chapter``), so one grading run takes seconds, not the chapter's minutes.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from test_grading import _shared_run, statuses, write
from test_verdicts import OPTIONS, _notebook, light_chapter, solution_sources, with_cells

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CH02 = "02_transfer_learning"
EXERCISES = ("ch02_head_logits", "ch02_macro_f1", "ch02_mean_pool")

DELEGATES = {
    "ch02_head_logits": '''def head_logits(hidden, pooler_weight, pooler_bias, weight, bias):
    return tt.head_logits(hidden, pooler_weight, pooler_bias, weight, bias)''',
    "ch02_macro_f1": '''def macro_f1(y_true, y_pred, num_classes):
    return tt.macro_f1(y_true, y_pred, num_classes)''',
    "ch02_mean_pool": '''def mean_pool(hidden, mask):
    from textrnn_lab.transfer.pooling import mean_pool as reference
    return reference(hidden, mask)''',
}


def chapter02_submissions(base: Path, out: Path) -> dict[str, Path]:
    subs = base / "verdicts02"
    made = {}

    def add(name, nb):
        made[name] = write(nb, subs / f"{name}.ipynb")

    student = lambda: light_chapter(_notebook(CH02, "chapters"))  # noqa: E731
    add("solution", with_cells(student(), solution_sources(CH02)))
    add("released", student())
    add("delegates", with_cells(student(), DELEGATES))
    return made


@pytest.fixture(scope="session")
def run02(tmp_path_factory):
    return _shared_run(tmp_path_factory, "verdicts02", chapter02_submissions, OPTIONS, chapter="02")


@pytest.mark.notebooks
def test_the_solution_earns_full_marks(run02):
    result = run02["results"]["solution"]
    assert statuses(result) == {name: "passed" for name in EXERCISES}, result.exercises
    assert result.points == result.max_points == 6


@pytest.mark.notebooks
def test_the_released_copy_earns_nothing(run02):
    result = run02["results"]["released"]
    assert result.points == 0 and "passed" not in statuses(result).values(), result.exercises


@pytest.mark.notebooks
def test_delegating_to_the_reference_earns_nothing(run02):
    result = run02["results"]["delegates"]
    assert statuses(result) == {name: "uses-reference" for name in EXERCISES}, result.exercises
    assert result.points == 0
