"""Chapter 06 graded by the real grader: the solution earns full marks, the released student copy zero, and
submissions that hand the work to the course's reference earn nothing for that exercise.

One run (the chapter's notebooks without their slow cells: imports, parameters, exercises), shared between
the pytest-xdist workers like the runs of ``test_grading.py``.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from test_grading import _shared_run, statuses, write
from test_verdicts import _notebook, light_chapter, solution_sources, with_cells

from textrnn_lab.grading.grader import GradeOptions

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CH06 = "06_encoder_decoder"
OPTIONS = GradeOptions(workers=2, timeout=300, cell_timeout=120, test_timeout=60)

DELEGATES = {
    "ch06_decoder_step": '''def decoder_step(y_prev, state, embedding, gru, out_weight, out_bias):
    return s2s.decoder_step(y_prev, state, embedding, gru, out_weight, out_bias)
''',
    "ch06_prune_beams": '''from textrnn_lab.seq2seq.decoding import prune_beams as _prune


def prune_beams(scores, log_probs, beam_size):
    return _prune(scores, log_probs, beam_size)
''',
}

# right for one layer only: reads the bottom layer's state
BOTTOM_LAYER = '''def decoder_step(y_prev, state, embedding, gru, out_weight, out_bias):
    _, new_state = gru(embedding[y_prev].unsqueeze(1), state)
    return new_state[0] @ out_weight.T + out_bias, new_state
'''


def chapter06_submissions(base: Path, out: Path) -> dict[str, Path]:
    subs = base / "chapter06"
    made = {}

    def add(name, nb):
        made[name] = write(nb, subs / f"{name}.ipynb")

    student = lambda: light_chapter(_notebook(CH06, "chapters"))  # noqa: E731
    solution = solution_sources(CH06)
    add("solution", with_cells(student(), solution))
    add("student", student())
    add("delegates", with_cells(student(), DELEGATES))
    add("bottom_layer", with_cells(student(), {**solution, "ch06_decoder_step": BOTTOM_LAYER}))
    return made


@pytest.fixture(scope="session")
def run06(tmp_path_factory):
    return _shared_run(tmp_path_factory, "chapter06", chapter06_submissions, OPTIONS, chapter="06")


@pytest.mark.notebooks
def test_the_solution_scores_full_marks(run06):
    result = run06["results"]["solution"]
    assert set(statuses(result).values()) == {"passed"}, result.exercises
    assert result.points == result.max_points == 6


@pytest.mark.notebooks
def test_the_released_student_copy_scores_zero(run06):
    result = run06["results"]["student"]
    assert result.points == 0
    assert set(statuses(result).values()) <= {"todo", "failed"}, result.exercises


@pytest.mark.notebooks
def test_delegating_to_the_reference_earns_nothing(run06):
    result = run06["results"]["delegates"]
    assert statuses(result) == {"ch06_decoder_step": "uses-reference", "ch06_prune_beams": "uses-reference"}, \
        result.exercises
    assert result.points == 0
    assert "textrnn_lab.seq2seq.model.decoder_step" in result.exercises[0].message


@pytest.mark.notebooks
def test_a_step_that_reads_the_bottom_layer_fails_only_that_exercise(run06):
    result = run06["results"]["bottom_layer"]
    assert statuses(result) == {"ch06_decoder_step": "failed", "ch06_prune_beams": "passed"}, result.exercises
    assert result.points == 3
