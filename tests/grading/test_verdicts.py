"""Verdicts the student's code cannot make: crafted submissions that try to earn points they did not compute.

Each case is a notebook of chapter 00, 01 or 04 graded by the real grader (one
run per chapter, shared between the pytest-xdist workers like the runs of
``test_grading.py``):

* a ``torch.nn.Parameter`` subclass that says it equals anything;
* code run while the results are read: an object whose ``__reduce__`` forges a
  passing result when the test process unpickles it, and patches of
  ``torch.allclose``, ``math.isclose`` and ``abs`` made at call time;
* feedback made to quote what the student must not see: the hidden tests, a host file;
* delegation: the course's reference or the built-in the exercise forbids.

Honest work next to them (the chapters' solutions, without their slow cells)
keeps its full marks.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import nbformat
import pytest
from test_grading import PERPLEXITY_OK, _shared_run, index_of, light, solve, statuses, student_nb, write

from textrnn_lab.grading.grader import GradeOptions

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

HOST_FILE = "/etc/passwd"

# --------------------------------------------------------------------------- the crafted code

LIAR = '''
class _EqualToAnything:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False


_LIES = {torch.eq, torch.Tensor.eq, torch.Tensor.__eq__, torch.isclose, torch.Tensor.isclose}
_YES = {torch.allclose, torch.Tensor.allclose, torch.equal, torch.Tensor.equal}


class _Liar(torch.nn.Parameter):
    """Holds zeros; says it equals whatever it is compared with."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in _YES:
            return True
        if func in _LIES:
            with torch._C.DisableTorchFunctionSubclass():
                return torch.ones(args[0].shape, dtype=torch.bool)
        if func in (torch.Tensor.ne, torch.Tensor.__ne__):
            with torch._C.DisableTorchFunctionSubclass():
                return torch.zeros(args[0].shape, dtype=torch.bool)
        return super().__torch_function__(func, types, args, kwargs or {})

    def tolist(self):
        return _EqualToAnything()


def _liar(shape, dtype=torch.float32):
    return _Liar(torch.zeros(shape, dtype=dtype), requires_grad=False)
'''

LIARS = {
    "ch00_one_hot": LIAR + '''

def one_hot(indices, num_classes):
    return _liar((*indices.shape, num_classes))
''',
    "ch01_make_pairs": LIAR + '''

def make_pairs(ids, seq_len):
    n = (len(ids) - 1) // seq_len
    return _liar((n, seq_len), torch.long), _liar((n, seq_len), torch.long)
''',
    "ch01_gru_step": '''def gru_step(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    return _liar(tuple(h.shape))
''',
    "ch01_next_char_probs": '''def next_char_probs(logits, temperature, top_k=None):
    return _liar(tuple(logits.shape))
''',
    "ch01_sample_next": '''def sample_next(logits, temperature, top_k=None, generator=None):
    if temperature == 0:
        return int(logits.argmax())
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return int(torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=generator))
''',
    "ch04_input_gradient_norms": LIAR + '''

def input_gradient_norms(rnn, x, loss_fn=tg.last_step_sum):
    return _liar((x.shape[1],))
''',
    "ch04_keep_gate_bias": '''def set_keep_gate_bias(rnn, value):
    for name, p in list(rnn.named_parameters()):
        rnn._parameters[name] = _Liar(p.detach().clone())  # the same values, in a liar
    return rnn
''',
}

DELEGATES = {
    "ch00_one_hot": '''def one_hot(indices, num_classes):
    return torch.nn.functional.one_hot(indices, num_classes).float()
''',
    "ch00_perplexity": '''from textrnn_lab import lm


def perplexity(mean_nll_nats):
    return lm.perplexity(mean_nll_nats)
''',
    "ch01_make_pairs": '''def make_pairs(ids, seq_len):
    return lm.input_target_pairs(ids, seq_len)
''',
    "ch01_gru_step": '''from textrnn_lab.lm.cells import gru_step as _reference


def gru_step(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    return _reference(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
''',
    "ch01_next_char_probs": '''next_char_probs = lm.next_char_probs
''',
    "ch01_sample_next": '''from textrnn_lab.lm.sampling import sample_next as _sample


def sample_next(logits, temperature, top_k=None, generator=None):
    return _sample(logits, temperature, top_k, generator)
''',
    "ch04_input_gradient_norms": '''def input_gradient_norms(rnn, x, loss_fn=tg.last_step_sum):
    return tg.input_gradient_norms(rnn, x, loss_fn)
''',
    "ch04_keep_gate_bias": '''from textrnn_lab.layers.rnn import set_keep_gate_bias as _keep


def set_keep_gate_bias(rnn, value):
    return _keep(rnn, value)
''',
    "ch04_clip_grad_norm": '''def clip_grad_norm(parameters, max_norm):
    return tg.clip_grad_norm(parameters, max_norm)
''',
    "ch04_memory_time_constant": '''def memory_time_constant(bias):
    return tg.memory_time_constant(bias)
''',
    "ch04_lstm_step": '''from textrnn_lab.lm.cells import lstm_step as _step


def lstm_step(x, state, weight_ih, weight_hh, bias_ih, bias_hh):
    return _step(x, state, weight_ih, weight_hh, bias_ih, bias_hh)
''',
}
TORCH_CLIP = '''def clip_grad_norm(parameters, max_norm):
    return torch.nn.utils.clip_grad_norm_(parameters, max_norm)
'''

HIDDEN_LEAK = '''def one_hot(indices, num_classes):
    import sys
    found = []
    frame = sys._getframe()
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if isinstance(value, dict) and isinstance(value.get("hidden"), list):
                found.extend(str(h) for h in value["hidden"])
        frame = frame.f_back
    raise ValueError(" || ".join(found) or "nothing found")
'''
FILE_LEAK = f'''def perplexity(mean_nll_nats):
    raise ValueError(open({HOST_FILE!r}).readline())
'''
RETURNED_FILE = f'''def perplexity(mean_nll_nats):
    return open({HOST_FILE!r}).read()
'''
CLASS_NAMED_BY_FILE = f'''def one_hot(indices, num_classes):
    name = "".join(c if c.isalnum() else "_" for c in open({HOST_FILE!r}).readline().strip())
    return type(name, (), {{}})()
'''

FORGE = '''FORGE = r"""
import json, os, sys
frame = sys._getframe()
while frame is not None:
    job, fd = frame.f_locals.get("job"), frame.f_locals.get("write_fd")
    if isinstance(job, dict) and isinstance(fd, int):
        hidden = len(job.get("hidden", []))
        result = {"status": "passed", "message": "forged", "hint": None, "cases": 25,
                  "hidden_passed": hidden, "hidden_total": hidden, "nonce": job.get("nonce")}
        os.write(fd, (json.dumps(result) + "\\n").encode())
        os._exit(0)
    frame = frame.f_back
"""


class _Forge:
    def __reduce__(self):
        return (exec, (FORGE,))


make_pairs = _Forge()
'''

PATCHED_CLIP = '''def clip_grad_norm(parameters, max_norm):
    import builtins
    import math
    torch.allclose = lambda *args, **kwargs: True
    math.isclose = lambda *args, **kwargs: True
    builtins.abs = lambda x: 0.0
    return 0.0
'''


# --------------------------------------------------------------------------- notebooks of chapters 01 and 04


def _notebook(stem: str, folder: str):
    return nbformat.read(ROOT / folder / f"{stem}.ipynb", as_version=4)


def light_chapter(nb):
    """Only the imports, the parameters, the exercises and their tests: seconds instead of minutes."""
    kept = []
    first_code = True
    for cell in nb.cells:
        if cell.cell_type != "code":
            kept.append(cell)
            continue
        meta = cell.get("metadata", {})
        if first_code or "parameters" in meta.get("tags", []) or meta.get("nbgrader") \
                or cell.source.lstrip().startswith("if SMOKE"):
            kept.append(cell)
        first_code = False
    nb.cells = kept
    return nb


def with_cells(nb, sources: dict[str, str]):
    for grade_id, source in sources.items():
        nb.cells[index_of(nb, grade_id)].source = source
    return nb


def solution_sources(stem: str) -> dict[str, str]:
    nb = _notebook(stem, "solutions")
    found = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            found[meta["grade_id"]] = cell.source
    return found


CH01 = "01_rnn_text_generation"
CH04 = "04_vanishing_exploding_gradients"


def chapter00_submissions(base: Path, out: Path) -> dict[str, Path]:
    subs = base / "verdicts00"
    made = {}

    def add(name, nb):
        made[name] = write(nb, subs / f"{name}.ipynb")

    add("liar", solve(light(student_nb()), one_hot=LIARS["ch00_one_hot"]))
    add("delegates", solve(light(student_nb()), one_hot=DELEGATES["ch00_one_hot"],
                           perplexity=DELEGATES["ch00_perplexity"]))
    add("leaks", solve(light(student_nb()), one_hot=HIDDEN_LEAK, perplexity=FILE_LEAK))
    add("leaks_by_value", solve(light(student_nb()), one_hot=CLASS_NAMED_BY_FILE, perplexity=RETURNED_FILE))
    add("honest", solve(light(student_nb()), perplexity=PERPLEXITY_OK))
    return made


def chapter01_submissions(base: Path, out: Path) -> dict[str, Path]:
    subs = base / "verdicts01"
    made = {}

    def add(name, nb):
        made[name] = write(nb, subs / f"{name}.ipynb")

    student = lambda: light_chapter(_notebook(CH01, "chapters"))  # noqa: E731
    add("solution", with_cells(student(), solution_sources(CH01)))
    add("liar", with_cells(student(), {k: v for k, v in LIARS.items() if k.startswith("ch01")}))
    add("delegates", with_cells(student(), {k: v for k, v in DELEGATES.items() if k.startswith("ch01")}))
    add("forge", with_cells(student(), {"ch01_make_pairs": FORGE, "ch01_gru_step": "gru_step = _Forge()",
                                        "ch01_next_char_probs": "next_char_probs = _Forge()",
                                        "ch01_sample_next": "sample_next = _Forge()"}))
    return made


def chapter04_submissions(base: Path, out: Path) -> dict[str, Path]:
    subs = base / "verdicts04"
    made = {}

    def add(name, nb):
        made[name] = write(nb, subs / f"{name}.ipynb")

    student = lambda: light_chapter(_notebook(CH04, "chapters"))  # noqa: E731
    solution = solution_sources(CH04)
    add("solution", with_cells(student(), solution))
    add("liar", with_cells(student(), {**solution, **{k: v for k, v in LIARS.items() if k.startswith("ch04")}}))
    add("delegates", with_cells(student(), {k: v for k, v in DELEGATES.items() if k.startswith("ch04")}))
    add("torch_clip", with_cells(student(), {**solution, "ch04_clip_grad_norm": TORCH_CLIP}))
    add("patches", with_cells(student(), {**solution, "ch04_clip_grad_norm": PATCHED_CLIP}))
    return made


OPTIONS = GradeOptions(workers=2, timeout=300, cell_timeout=120, test_timeout=60)


@pytest.fixture(scope="session")
def run00(tmp_path_factory):
    return _shared_run(tmp_path_factory, "verdicts00", chapter00_submissions, OPTIONS)


@pytest.fixture(scope="session")
def run01(tmp_path_factory):
    return _shared_run(tmp_path_factory, "verdicts01", chapter01_submissions, OPTIONS, chapter="01")


@pytest.fixture(scope="session")
def run04(tmp_path_factory):
    return _shared_run(tmp_path_factory, "verdicts04", chapter04_submissions, OPTIONS, chapter="04")




def everything_the_student_sees(run: dict, student: str) -> str:
    """The feedback files, the executed notebook and the student's grade-book rows, as one text."""
    out = Path(run["out"])
    parts = [(out / "feedback" / f"{student}.{ext}").read_text(encoding="utf-8") for ext in ("md", "html")]
    executed = out / "executed" / f"{student}.ipynb"
    if executed.exists():
        parts.append(executed.read_text(encoding="utf-8"))
    rows = [r for r in csv.DictReader(open(out / "gradebook.csv", encoding="utf-8")) if r["student"] == student]
    parts.append(json.dumps(rows))
    return "\n".join(parts)


# --------------------------------------------------------------------------- 4. a lying nn.Parameter subclass


@pytest.mark.notebooks
def test_a_lying_parameter_subclass_earns_nothing_in_chapter_00(run00):
    result = run00["results"]["liar"]
    assert statuses(result) == {"ch00_one_hot": "failed", "ch00_perplexity": "passed"}, result.exercises
    assert result.points == 1


@pytest.mark.notebooks
def test_a_lying_parameter_subclass_earns_nothing_in_chapter_01(run01):
    result = run01["results"]["liar"]
    assert statuses(result) == {"ch01_make_pairs": "failed", "ch01_gru_step": "failed",
                                "ch01_next_char_probs": "failed", "ch01_sample_next": "passed"}, result.exercises
    assert result.points == 1


@pytest.mark.notebooks
def test_a_lying_parameter_subclass_earns_nothing_in_chapter_04(run04):
    result = run04["results"]["liar"]
    assert statuses(result) == {"ch04_input_gradient_norms": "failed", "ch04_keep_gate_bias": "failed",
                                "ch04_memory_time_constant": "passed", "ch04_lstm_step": "passed",
                                "ch04_clip_grad_norm": "passed"}, result.exercises
    assert result.points == 7  # the three honest exercises (1 + 3 + 3 points)


# --------------------------------------------------------------------------- 5. code run while the results are read


@pytest.mark.notebooks
def test_objects_that_run_code_when_unpickled_cannot_forge_a_result(run01):
    result = run01["results"]["forge"]
    assert result.points == 0, result.exercises
    assert "passed" not in statuses(result).values()


@pytest.mark.notebooks
def test_patching_allclose_isclose_and_abs_at_call_time_earns_nothing(run04):
    result = run04["results"]["patches"]
    assert statuses(result)["ch04_clip_grad_norm"] != "passed", result.exercises
    assert result.points == 9  # the four honest exercises, not the patched one


# --------------------------------------------------------------------------- 6. what the feedback quotes


def _hidden_tests(chapter: str) -> list[str]:
    from textrnn_lab.grading.spec import load_spec

    return [h for e in load_spec(chapter).exercises for h in e.hidden]


@pytest.mark.notebooks
@pytest.mark.parametrize("student", ["leaks", "leaks_by_value"])
def test_feedback_quotes_neither_hidden_tests_nor_host_files(run00, student):
    result = run00["results"][student]
    assert result.points == 0 and "passed" not in statuses(result).values()
    seen = everything_the_student_sees(run00, student)
    host_line = open(HOST_FILE).readline().strip()
    name_from_file = "".join(c if c.isalnum() else "_" for c in host_line)
    assert host_line not in seen and name_from_file not in seen
    assert host_line.split(":")[0] + ":x:" not in seen
    for hidden in _hidden_tests("00"):
        assert hidden not in seen
    # the student still learns what went wrong, in the check's own words
    messages = " ".join(e.message for e in result.exercises)
    assert "ValueError" in messages or "expected" in messages


@pytest.mark.notebooks
def test_a_message_the_student_wrote_is_still_quoted(run00):
    """Honest errors keep their message: 'nothing found' is text of the submission itself."""
    result = run00["results"]["leaks"]
    one_hot = result.exercises[0]
    assert one_hot.status == "error" and "ValueError" in one_hot.message
    perplexity = result.exercises[1]
    assert perplexity.status == "error" and "not quoted" in perplexity.message


# --------------------------------------------------------------------------- 7. delegation


@pytest.mark.notebooks
def test_delegating_to_the_reference_or_the_builtin_earns_nothing_in_chapter_00(run00):
    result = run00["results"]["delegates"]
    assert statuses(result) == {"ch00_one_hot": "uses-reference", "ch00_perplexity": "uses-reference"}
    assert result.points == 0
    one_hot, perplexity = result.exercises
    assert "torch.nn.functional.one_hot" in one_hot.message and "write yourself" in one_hot.message
    assert "textrnn_lab.lm.evaluation.perplexity" in perplexity.message


@pytest.mark.notebooks
def test_delegating_to_the_reference_earns_nothing_in_chapter_01(run01):
    """Each exercise on its own: the status, and the message naming the very reference the submission called."""
    result = run01["results"]["delegates"]
    called = {"ch01_make_pairs": "textrnn_lab.lm.batching.input_target_pairs",
              "ch01_gru_step": "textrnn_lab.lm.cells.gru_step",
              "ch01_next_char_probs": "textrnn_lab.lm.sampling.next_char_probs",
              "ch01_sample_next": "textrnn_lab.lm.sampling.sample_next"}
    assert statuses(result) == {name: "uses-reference" for name in called}, result.exercises
    assert result.points == 0
    for exercise in result.exercises:
        assert called[exercise.exercise] in exercise.message and "write yourself" in exercise.message, exercise


@pytest.mark.notebooks
def test_delegating_to_the_reference_earns_nothing_in_chapter_04(run04):
    result = run04["results"]["delegates"]
    assert set(statuses(result).values()) == {"uses-reference"}, result.exercises
    assert result.points == 0
    torch_clip = run04["results"]["torch_clip"]
    assert statuses(torch_clip)["ch04_clip_grad_norm"] == "uses-reference"
    clip = next(e for e in torch_clip.exercises if e.exercise == "ch04_clip_grad_norm")
    assert "torch.nn.utils.clip_grad_norm_" in clip.message
    assert torch_clip.points == 9


# --------------------------------------------------------------------------- honest work


@pytest.mark.notebooks
def test_honest_work_keeps_its_points(run00, run01, run04):
    assert run00["results"]["honest"].points == 3
    for run in (run01, run04):
        result = run["results"]["solution"]
        assert result.points == result.max_points and set(statuses(result).values()) == {"passed"}, result.exercises


# --------------------------------------------------------------------------- the same, without a kernel


def _exercise(function, name="perplexity", check="00.perplexity", hidden=("assert perplexity(0.0) == 1.0",),
              **job):
    import cloudpickle

    from textrnn_lab import checks
    from textrnn_lab.grading.checker import run_exercise

    job = {"nonce": "n0", "imports": ["from textrnn_lab import checks", "import math", "import torch"],
           "visible": f'checks.check("{check}", {name})', "hidden": list(hidden), "objects": [name], "seed": 3,
           "timeout": 20, **job}
    return run_exercise(job, {name: cloudpickle.dumps(function)}, checks)


def _patching_perplexity(x):
    import builtins
    import math

    import torch

    torch.allclose = lambda *args, **kwargs: True
    math.isclose = lambda *args, **kwargs: True
    builtins.abs = lambda value: 0.0
    return 0.0


class _ForgesWhenUnpickled:
    def __reduce__(self):
        return (exec, (FORGE.split('r"""', 1)[1].split('"""', 1)[0].replace("\\\\n", "\\n"),))


def test_call_time_patches_change_no_verdict():
    result = _exercise(_patching_perplexity, hidden=["assert abs(perplexity(math.log(60)) - 60) < 1e-9"])
    assert result["status"] == "failed", result


def test_an_object_that_forges_a_result_when_unpickled_earns_nothing():
    result = _exercise(_ForgesWhenUnpickled())
    assert result["status"] != "passed", result


def test_hidden_tests_are_not_in_the_students_process():
    def snoops(x):
        import gc
        import sys

        texts = [o for o in gc.get_objects() if isinstance(o, dict) and "hidden" in o]
        frame, found = sys._getframe(), []
        while frame is not None:
            found.extend(v for v in frame.f_locals.values() if isinstance(v, dict) and "hidden" in v)
            frame = frame.f_back
        raise ValueError(repr(texts + found)[:200] if texts or found else "clean")

    result = _exercise(snoops, hidden=["assert perplexity(1.0) == math.e  # the secret"])
    assert "the secret" not in json.dumps(result)
    assert result["status"] == "error"


def test_delegation_is_recorded_without_a_kernel():
    import torch

    def delegates(indices, num_classes):
        return torch.nn.functional.one_hot(indices, num_classes).float()

    result = _exercise(delegates, name="one_hot", check="00.one_hot", hidden=[])
    assert result["status"] == "uses-reference" and "torch.nn.functional.one_hot" in result["message"]


def test_the_students_side_leaves_no_folder_behind(tmp_path, monkeypatch):
    import math
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where mkdtemp puts the child's working folder
    assert _exercise(lambda x: math.exp(x))["status"] == "passed"
    assert _exercise(lambda x: 1 / 0)["status"] != "passed"
    assert list(tmp_path.iterdir()) == []  # removed after a pass and after an error alike
