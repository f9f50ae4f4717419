"""Chapter 09 graded by the real grader: the solution earns full marks, the released copy nothing, and a
submission that hands the work to the course's reference or to scikit-learn earns nothing for that exercise.

One graded run of light notebooks (imports, parameters, exercises and their tests only), shared between
the pytest-xdist workers like the runs of ``test_grading.py``.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from test_grading import _shared_run, statuses, write
from test_verdicts import OPTIONS, light_chapter, solution_sources, with_cells

CH09 = "09_bert_lstm_challenge"
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

DELEGATES = {
    "ch09_last_real_state": "from textrnn_lab.transfer.encoder_rnn import last_real_position as last_real_state\n",
    "ch09_macro_f1": "from textrnn_lab.bert_lstm.scoring import macro_f1\n",
}
SKLEARN_F1 = '''def macro_f1(y_true, y_pred):
    from sklearn.metrics import f1_score
    return float(f1_score(y_true, y_pred, average="macro", zero_division=0))
'''
LAST_COLUMN = '''def last_real_state(outputs, mask):
    return outputs[:, -1, :]
'''


def _notebook(folder: str):
    import nbformat

    return nbformat.read(ROOT / folder / f"{CH09}.ipynb", as_version=4)


def chapter09_submissions(base: Path, out: Path) -> dict[str, Path]:
    subs = base / "chapter09"
    made = {}

    def add(name, nb):
        made[name] = write(nb, subs / f"{name}.ipynb")

    student = lambda: light_chapter(_notebook("chapters"))  # noqa: E731
    solution = solution_sources(CH09)
    add("solution", with_cells(student(), solution))
    add("pristine", student())
    add("delegates", with_cells(student(), DELEGATES))
    add("sklearn", with_cells(student(), {**solution, "ch09_macro_f1": SKLEARN_F1}))
    add("last_column", with_cells(student(), {**solution, "ch09_last_real_state": LAST_COLUMN}))
    return made


@pytest.fixture(scope="session")
def run09(tmp_path_factory):
    return _shared_run(tmp_path_factory, "chapter09", chapter09_submissions, OPTIONS, chapter="09")


@pytest.mark.notebooks
def test_the_solution_scores_full_marks(run09):
    result = run09["results"]["solution"]
    assert result.max_points == 6
    assert result.points == result.max_points and set(statuses(result).values()) == {"passed"}, result.exercises


@pytest.mark.notebooks
def test_the_released_student_copy_scores_zero(run09):
    result = run09["results"]["pristine"]
    assert result.points == 0 and set(statuses(result).values()) == {"todo"}, result.exercises


@pytest.mark.notebooks
def test_delegating_to_the_reference_earns_nothing(run09):
    result = run09["results"]["delegates"]
    assert set(statuses(result).values()) == {"uses-reference"}, result.exercises
    assert result.points == 0
    messages = " ".join(e.message for e in result.exercises)
    assert "textrnn_lab.transfer.encoder_rnn.last_real_position" in messages
    assert "textrnn_lab.bert_lstm.scoring.macro_f1" in messages


@pytest.mark.notebooks
def test_scikit_learn_earns_nothing_for_macro_f1_and_the_rest_keeps_its_points(run09):
    result = run09["results"]["sklearn"]
    assert statuses(result) == {"ch09_last_real_state": "passed", "ch09_macro_f1": "uses-reference"}, result.exercises
    assert result.points == 3
    assert "sklearn.metrics.f1_score" in result.exercises[1].message


@pytest.mark.notebooks
def test_the_padding_bug_fails_with_its_hint(run09):
    result = run09["results"]["last_column"]
    assert statuses(result) == {"ch09_last_real_state": "failed", "ch09_macro_f1": "passed"}, result.exercises
    failed = result.exercises[0]
    assert "padding position" in failed.message and failed.hint
