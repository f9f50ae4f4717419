"""Chapter 09 graded by the real grader: the solution earns full marks, the released copy nothing, and a
submission that hands the work to the course's reference or to PyTorch's pad_sequence earns nothing for it.

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
    "ch09_right_pad": "from textrnn_lab.transfer.encoder_rnn import right_pad\n",
}
TORCH_PAD = '''def right_pad(pieces):
    states = torch.nn.utils.rnn.pad_sequence(pieces, batch_first=True)
    lengths = torch.tensor([p.shape[0] for p in pieces])
    return states, (torch.arange(states.shape[1]) < lengths[:, None]).long()
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
    add("torch_pad", with_cells(student(), {**solution, "ch09_right_pad": TORCH_PAD}))
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
    assert "textrnn_lab.transfer.encoder_rnn.right_pad" in messages


@pytest.mark.notebooks
def test_torch_pad_sequence_earns_nothing_and_the_rest_keeps_its_points(run09):
    result = run09["results"]["torch_pad"]
    assert statuses(result) == {"ch09_last_real_state": "passed", "ch09_right_pad": "uses-reference"}, result.exercises
    assert result.points == 3
    assert "torch.nn.utils.rnn.pad_sequence" in result.exercises[1].message


@pytest.mark.notebooks
def test_the_padding_bug_fails_with_its_hint(run09):
    result = run09["results"]["last_column"]
    assert statuses(result) == {"ch09_last_real_state": "failed", "ch09_right_pad": "passed"}, result.exercises
    failed = result.exercises[0]
    assert "padding position" in failed.message and failed.hint
