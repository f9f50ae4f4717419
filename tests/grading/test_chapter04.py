"""Chapter 04 graded by the real grader: the solution earns full marks, the released copy none, delegation none.

Every exercise gets a crafted submission that hands the work to the course's reference
and one that hands it to the built-in the exercise says not to use; each scores 0 with
status ``uses-reference``. The notebooks are cut to the imports, the parameters, the
exercises and their tests (``test_verdicts.light_chapter``), so one grading run takes
seconds, not the chapter's minutes.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from test_grading import _shared_run, statuses, write
from test_verdicts import OPTIONS, _notebook, light_chapter, solution_sources, with_cells

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CH04 = "04_vanishing_exploding_gradients"
POINTS = {"ch04_input_gradient_norms": 3, "ch04_keep_gate_bias": 2, "ch04_memory_time_constant": 1,
          "ch04_lstm_step": 3, "ch04_clip_grad_norm": 3}

#: each exercise handed to the course's own answer
DELEGATES = {
    "ch04_input_gradient_norms": '''def input_gradient_norms(rnn, x, loss_fn=tg.last_step_sum):
    return tg.input_gradient_norms(rnn, x, loss_fn)''',
    "ch04_keep_gate_bias": '''from textrnn_lab.layers.rnn import set_keep_gate_bias as _keep


def set_keep_gate_bias(rnn, value):
    return _keep(rnn, value)''',
    "ch04_memory_time_constant": '''def memory_time_constant(bias):
    return tg.memory_time_constant(bias)''',
    "ch04_lstm_step": '''from textrnn_lab.lm.cells import lstm_step as _step


def lstm_step(x, state, weight_ih, weight_hh, bias_ih, bias_hh):
    return _step(x, state, weight_ih, weight_hh, bias_ih, bias_hh)''',
    "ch04_clip_grad_norm": '''def clip_grad_norm(parameters, max_norm):
    return tg.clip_grad_norm(parameters, max_norm)''',
}

#: each exercise handed to the built-in it names as not to be used (all of them give right answers)
BUILTINS = {
    "ch04_memory_time_constant": '''def memory_time_constant(bias):
    return -1.0 / float(F.logsigmoid(torch.tensor(float(bias), dtype=torch.float64)))''',
    "ch04_lstm_step": '''def lstm_step(x, state, weight_ih, weight_hh, bias_ih, bias_hh):
    cell = torch.nn.LSTMCell(weight_ih.shape[1], weight_hh.shape[1])
    with torch.no_grad():
        for name, value in [("weight_ih", weight_ih), ("weight_hh", weight_hh), ("bias_ih", bias_ih),
                            ("bias_hh", bias_hh)]:
            getattr(cell, name).copy_(value)
        return cell(x, state)''',
    "ch04_clip_grad_norm": '''def clip_grad_norm(parameters, max_norm):
    return torch.nn.utils.clip_grad_norm_(parameters, max_norm)''',
}

LSTM_MODULE = '''def lstm_step(x, state, weight_ih, weight_hh, bias_ih, bias_hh):
    lstm = torch.nn.LSTM(weight_ih.shape[1], weight_hh.shape[1], batch_first=True)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(weight_ih)
        lstm.weight_hh_l0.copy_(weight_hh)
        lstm.bias_ih_l0.copy_(bias_ih)
        lstm.bias_hh_l0.copy_(bias_hh)
        _, (h, c) = lstm(x.unsqueeze(1), (state[0].unsqueeze(0), state[1].unsqueeze(0)))
    return h[0], c[0]'''


def chapter04_submissions(base: Path, out: Path) -> dict[str, Path]:
    subs = base / "grading04"
    made = {}

    def add(name, nb):
        made[name] = write(nb, subs / f"{name}.ipynb")

    student = lambda: light_chapter(_notebook(CH04, "chapters"))  # noqa: E731
    solution = solution_sources(CH04)
    add("solution", with_cells(student(), solution))
    add("released", student())
    add("delegates", with_cells(student(), DELEGATES))
    add("builtins", with_cells(student(), {**solution, **BUILTINS}))
    add("lstm_module", with_cells(student(), {**solution, "ch04_lstm_step": LSTM_MODULE}))
    return made


@pytest.fixture(scope="session")
def run04_all(tmp_path_factory):
    return _shared_run(tmp_path_factory, "grading04", chapter04_submissions, OPTIONS, chapter="04")


@pytest.mark.notebooks
def test_the_solution_earns_full_marks(run04_all):
    result = run04_all["results"]["solution"]
    assert statuses(result) == {name: "passed" for name in POINTS}, result.exercises
    assert result.points == result.max_points == sum(POINTS.values())


@pytest.mark.notebooks
def test_the_released_copy_earns_nothing(run04_all):
    result = run04_all["results"]["released"]
    assert result.points == 0 and "passed" not in statuses(result).values(), result.exercises


@pytest.mark.notebooks
def test_delegating_every_exercise_to_the_reference_earns_nothing(run04_all):
    result = run04_all["results"]["delegates"]
    assert statuses(result) == {name: "uses-reference" for name in POINTS}, result.exercises
    assert result.points == 0
    messages = {e.exercise: e.message for e in result.exercises}
    assert "textrnn_lab.gradients.probes.memory_time_constant" in messages["ch04_memory_time_constant"]
    assert "textrnn_lab.lm.cells.lstm_step" in messages["ch04_lstm_step"]


@pytest.mark.notebooks
def test_the_forbidden_builtins_earn_nothing(run04_all):
    result = run04_all["results"]["builtins"]
    assert statuses(result) == {**{name: "passed" for name in POINTS},
                                **{name: "uses-reference" for name in BUILTINS}}, result.exercises
    assert result.points == sum(p for name, p in POINTS.items() if name not in BUILTINS)
    messages = {e.exercise: e.message for e in result.exercises}
    assert "torch.nn.functional.logsigmoid" in messages["ch04_memory_time_constant"]
    assert "LSTMCell" in messages["ch04_lstm_step"]
    module = run04_all["results"]["lstm_module"]
    assert statuses(module)["ch04_lstm_step"] == "uses-reference", module.exercises
    assert "torch.nn.modules.rnn.LSTM.forward" in {e.exercise: e.message for e in module.exercises}["ch04_lstm_step"]
    assert module.points == sum(POINTS.values()) - POINTS["ch04_lstm_step"]
