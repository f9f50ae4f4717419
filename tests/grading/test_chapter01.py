"""Chapter 01 graded by the real grader: the solution earns full marks, the released copy none, and the GRU step
earns nothing when it hands the work to PyTorch's own GRU in any of the three usual ways.

The notebooks are cut to the imports, the parameters, the exercises and their tests
(``test_verdicts.light_chapter``), so one grading run takes seconds, not the chapter's minutes.
The references themselves (``lm.input_target_pairs`` and the rest) are delegated to in
``test_verdicts.py``; here each forbidden built-in of the from-scratch exercise gets a
submission of its own, the other exercises solved honestly.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from test_grading import _shared_run, statuses, write
from test_verdicts import OPTIONS, _notebook, light_chapter, solution_sources, with_cells

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CH01 = "01_rnn_text_generation"
EXERCISES = ("ch01_make_pairs", "ch01_gru_step", "ch01_next_char_probs", "ch01_sample_next")
GRU_POINTS = 2

BUILTIN_GRU = {
    "gru_cell_module": ("torch.nn.GRUCell.forward", '''def gru_step(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    cell = torch.nn.GRUCell(x.shape[-1], h.shape[-1])
    with torch.no_grad():
        for name, value in (("weight_ih", weight_ih), ("weight_hh", weight_hh), ("bias_ih", bias_ih),
                            ("bias_hh", bias_hh)):
            getattr(cell, name).copy_(value)
        return cell(x, h)'''),
    "gru_cell_function": ("torch.gru_cell", '''def gru_step(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    return torch.gru_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh)'''),
    "gru_module": ("torch.nn.GRU.forward", '''def gru_step(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    gru = torch.nn.GRU(x.shape[-1], h.shape[-1], batch_first=True)
    with torch.no_grad():
        for name, value in (("weight_ih_l0", weight_ih), ("weight_hh_l0", weight_hh), ("bias_ih_l0", bias_ih),
                            ("bias_hh_l0", bias_hh)):
            getattr(gru, name).copy_(value)
        return gru(x[:, None, :], h[None])[0][:, 0]'''),
}


def chapter01_submissions(base: Path, out: Path) -> dict[str, Path]:
    subs = base / "grading01"
    made = {}

    def add(name, nb):
        made[name] = write(nb, subs / f"{name}.ipynb")

    student = lambda: light_chapter(_notebook(CH01, "chapters"))  # noqa: E731
    solution = solution_sources(CH01)
    add("solution", with_cells(student(), solution))
    add("released", student())
    for name, (_forbidden, source) in BUILTIN_GRU.items():
        add(name, with_cells(student(), {**solution, "ch01_gru_step": source}))
    return made


@pytest.fixture(scope="session")
def run01_grading(tmp_path_factory):
    return _shared_run(tmp_path_factory, "grading01", chapter01_submissions, OPTIONS, chapter="01")


@pytest.mark.notebooks
def test_the_solution_earns_full_marks(run01_grading):
    result = run01_grading["results"]["solution"]
    assert statuses(result) == {name: "passed" for name in EXERCISES}, result.exercises
    assert result.points == result.max_points == 7


@pytest.mark.notebooks
def test_the_released_copy_earns_nothing(run01_grading):
    result = run01_grading["results"]["released"]
    assert result.points == 0 and "passed" not in statuses(result).values(), result.exercises


@pytest.mark.notebooks
@pytest.mark.parametrize("student", sorted(BUILTIN_GRU))
def test_a_gru_step_that_calls_pytorchs_gru_earns_nothing(run01_grading, student):
    result = run01_grading["results"][student]
    forbidden = BUILTIN_GRU[student][0]
    found = statuses(result)
    assert found["ch01_gru_step"] == "uses-reference", result.exercises
    assert all(found[name] == "passed" for name in EXERCISES if name != "ch01_gru_step"), result.exercises
    assert result.points == result.max_points - GRU_POINTS
    gru = next(e for e in result.exercises if e.exercise == "ch01_gru_step")
    assert forbidden in gru.message and "write yourself" in gru.message, gru.message
