"""The grader: crafted submissions of chapter 00, one per way a submission can go wrong.

The crafted notebooks are made here from chapters/00 (what students get) with
nbformat. Most are "light": the tour cells (diagnostics, data, encoder) are
removed so that they run in a couple of seconds; three full notebooks (the
solution, the pristine student notebook and a partly correct one) run as they are.

All the executed submissions are graded in two runs (shared between the pytest-xdist
workers through a lock file, so each run happens once): the main run, and a run
with short time and memory limits for the loops and the memory bomb.
"""
from __future__ import annotations

import copy
import csv
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from textrnn_lab.course.release import release_notebook
from textrnn_lab.grading import gradebook as gb
from textrnn_lab.grading.feedback import render_html, render_markdown
from textrnn_lab.grading.grader import GradeOptions, find_submissions, grade
from textrnn_lab.grading.matching import analyse, executable_notebook
from textrnn_lab.grading.results import ExerciseResult, SubmissionResult
from textrnn_lab.grading.sandbox import hide_plan, isolation_available
from textrnn_lab.grading.spec import load_spec
from textrnn_lab.runtime.display import CHECK_MIME

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "00_setup_and_tour.ipynb"
STUDENT = ROOT / "chapters" / "00_setup_and_tour.ipynb"

ONE_HOT_OK = '''def one_hot(indices: torch.Tensor, num_classes: int) -> torch.Tensor:
    """indices: LongTensor[...] -> FloatTensor[..., num_classes]."""
    out = torch.zeros(*indices.shape, num_classes)
    return out.scatter_(-1, indices.unsqueeze(-1), 1.0)
'''
ONE_HOT_WRONG = '''def one_hot(indices: torch.Tensor, num_classes: int) -> torch.Tensor:
    """indices: LongTensor[...] -> FloatTensor[..., num_classes]."""
    return torch.nn.functional.one_hot(indices)  # wrong width and dtype
'''
PERPLEXITY_OK = '''import math


def perplexity(mean_nll_nats: float) -> float:
    """Mean negative log-likelihood in nats -> perplexity."""
    return math.exp(mean_nll_nats)
'''
PERPLEXITY_WRONG = '''import math


def perplexity(mean_nll_nats: float) -> float:
    """Mean negative log-likelihood in nats -> perplexity."""
    return 2 ** mean_nll_nats  # bits, not nats
'''
HIDDEN_TEXT = "assert one_hot(torch.tensor([2, 0]), 3)"
TOUR_MARKERS = ("diagnose(", "load_dataset(", "counts.plot", "load_encoder(", "metrics.record(", "images[i")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# --------------------------------------------------------------------------- crafting notebooks


def student_nb():
    if STUDENT.is_file():
        return nbformat.read(STUDENT, as_version=4)
    return release_notebook(nbformat.read(SOLUTION, as_version=4))


def index_of(nb, grade_id: str) -> int:
    for i, cell in enumerate(nb.cells):
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return i
    raise KeyError(grade_id)


def solve(nb, one_hot: str = ONE_HOT_OK, perplexity: str = PERPLEXITY_OK):
    nb.cells[index_of(nb, "ch00_one_hot")].source = one_hot
    nb.cells[index_of(nb, "ch00_perplexity")].source = perplexity
    return nb


def light(nb):
    """Without the tour cells (data, encoder, diagnostics): seconds to run instead of ten."""
    nb.cells = [c for c in nb.cells if not (c.cell_type == "code" and any(m in c.source for m in TOUR_MARKERS))]
    return nb


def insert_after(nb, grade_id: str, *cells):
    at = index_of(nb, grade_id) + 1
    nb.cells[at:at] = list(cells)
    return nb


def code(source: str):
    return nbformat.v4.new_code_cell(source)


def write(nb, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def strip_metadata(nb):
    for cell in nb.cells:
        cell.metadata = {}
    return nb


def fake_pass_outputs(nb):
    for grade_id, name in (("ch00_one_hot_test", "00.one_hot"), ("ch00_perplexity_test", "00.perplexity")):
        cell = nb.cells[index_of(nb, grade_id)]
        cell.execution_count = 7
        cell.outputs = [
            nbformat.v4.new_output("stream", name="stdout",
                                   text=f"PASS {name}: 25 random cases agree with the reference.\n"),
            nbformat.v4.new_output("display_data", data={
                CHECK_MIME: {"check": name, "status": "pass", "message": "25 random cases agree", "cases": 25},
                "text/plain": ""}),
        ]
    return nb


SNOOP = '''import glob, json, os, socket
found = {}
def _try(label, action):
    try:
        found[label] = action()
    except BaseException as exc:
        found[label] = f"refused: {type(exc).__name__}"
_try("solution", lambda: open(SOLUTION_PATH).read())
_try("solutions_dir", lambda: os.listdir(os.path.dirname(SOLUTION_PATH)))
_try("submissions", lambda: os.listdir(SUBMISSIONS_DIR))
_try("gradebook", lambda: open(os.path.join(OUT_DIR, "gradebook.csv")).read())
_try("out_dir", lambda: os.listdir(OUT_DIR))
_try("cwd", lambda: sorted(os.listdir(".")))
_try("tmp", lambda: sorted(os.listdir("/tmp")))
_try("pids", lambda: sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
_try("network", lambda: socket.create_connection(("1.1.1.1", 53), timeout=2) and "connected")
_try("git", lambda: os.listdir(os.path.join(os.path.dirname(os.path.dirname(SOLUTION_PATH)), ".git")))
_try("write_home", lambda: open(os.path.expanduser("~/.textrnn-snoop-probe"), "w").write("x") and "written")
_try("write_course", lambda: open(os.path.join(os.path.dirname(checks.__file__), "__init__.py"), "a") and "opened")
print("SNOOP " + json.dumps(found, default=str))
'''


def snooper(base: Path, out: Path):
    nb = solve(light(student_nb()))
    source = SNOOP.replace("SOLUTION_PATH", repr(str(SOLUTION.resolve())))
    source = source.replace("SUBMISSIONS_DIR", repr(str(base))).replace("OUT_DIR", repr(str(out)))
    return insert_after(nb, "ch00_perplexity_test", code(source))


def other_chapter():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 01 · RNN text generation\n\nA character-level language model."),
        code("SMOKE = False\nDEVICE = 'auto'\nSEED = 0"),
        code("def sample(logits, temperature):\n    ### BEGIN SOLUTION\n    return logits / temperature\n"
             "    ### END SOLUTION"),
    ]
    nb.cells[1].metadata["tags"] = ["parameters"]
    nb.cells[2].metadata["nbgrader"] = {"grade": False, "grade_id": "ch01_sample", "locked": False,
                                        "schema_version": 3, "solution": True, "task": False}
    return nb


def main_submissions(base: Path, out: Path) -> dict[str, Path]:
    """The crafted submissions of the main run: {student: path}."""
    subs = base / "main"
    made: dict[str, Path] = {}

    def add(name: str, nb) -> None:
        made[name] = write(nb, subs / f"{name}.ipynb")

    add("solution", nbformat.read(SOLUTION, as_version=4))
    add("pristine", student_nb())
    add("partial", solve(light(student_nb()), perplexity=PERPLEXITY_WRONG))
    (subs / "not_json.ipynb").write_text('{"cells": [ this is not json', encoding="utf-8")
    made["not_json"] = subs / "not_json.ipynb"
    (subs / "empty.ipynb").write_bytes(b"")
    made["empty"] = subs / "empty.ipynb"
    add("other_chapter", other_chapter())

    nb = solve(light(student_nb()))
    del nb.cells[index_of(nb, "ch00_one_hot")]
    add("deleted_cells", nb)

    nb = solve(light(student_nb()))
    one_hot, perplexity = index_of(nb, "ch00_one_hot"), index_of(nb, "ch00_perplexity")
    block_a = nb.cells[one_hot - 1: one_hot + 2]           # markdown, exercise, test of one_hot
    block_b = nb.cells[perplexity - 1: perplexity + 2]     # the same for perplexity
    rest = [c for c in nb.cells if c not in block_a and c not in block_b]
    start = one_hot - 1
    nb.cells = rest[:start] + [block_a[2], block_b[1], block_b[2], block_b[0], block_a[1], block_a[0]] + rest[start:]
    add("reordered_cells", nb)

    nb = solve(light(student_nb()))
    copy_cell = copy.deepcopy(nb.cells[index_of(nb, "ch00_one_hot")])
    copy_cell.source = ONE_HOT_WRONG
    copy_cell["id"] = "one-hot-again"
    insert_after(nb, "ch00_one_hot_test", copy_cell)  # a later, wrong copy: the last definition counts
    add("duplicated_cells", nb)

    nb = solve(light(student_nb()), one_hot='''def one_hot(indices, num_classes):
    return _spread(indices, num_classes)
''')
    at = index_of(nb, "ch00_one_hot")
    nb.cells[at:at] = [nbformat.v4.new_markdown_cell("My own helper:"),
                       code("def _spread(indices, n):\n    return (indices[..., None] == torch.arange(n)).float()")]
    add("added_cells", nb)

    add("stripped_metadata", strip_metadata(solve(light(student_nb()))))

    nb = solve(light(student_nb()), one_hot='''def one_hot(indices, num_classes):
    raise ValueError("I give up")
''')
    insert_after(nb, "ch00_one_hot", code("1 / 0  # a cell that raises at the top level"))
    add("raises", nb)

    add("exit_kernel", solve(light(student_nb()), one_hot=ONE_HOT_OK + "\nimport os\nos._exit(3)\n"))
    add("segfault", solve(light(student_nb()), perplexity=PERPLEXITY_OK + "\nimport ctypes\nctypes.string_at(0)\n"))
    add("output_flood", insert_after(solve(light(student_nb())), "ch00_perplexity_test",
                                     code("for i in range(300_000):\n    print('spam, spam, eggs and spam ' * 4)")))

    nb = solve(light(student_nb()), one_hot=ONE_HOT_WRONG)
    nb.cells[index_of(nb, "ch00_one_hot_test")].source = (
        'print("PASS 00.one_hot: 25 random cases agree with the reference.")')
    add("edited_check", nb)

    nb = solve(light(student_nb()))
    for grade_id in ("ch00_one_hot_test", "ch00_perplexity_test"):
        del nb.cells[index_of(nb, grade_id)]
    add("deleted_tests", nb)

    nb = solve(light(student_nb()), one_hot=ONE_HOT_WRONG, perplexity=PERPLEXITY_WRONG)
    nb.cells.insert(index_of(nb, "ch00_one_hot"), code('''import builtins, sys, types
import textrnn_lab.checks as real
from textrnn_lab.checks import CheckResult
def always_pass(name, obj, **kwargs):
    print(f"PASS {name}: 25 random cases agree with the reference.")
    return CheckResult(name, "pass", "25 random cases agree with the reference.", None, 25)
checks.check = always_pass
real.check = always_pass
real._run = lambda spec, obj, cases, seed: CheckResult(spec.name, "pass", "ok", None, cases)
fake = types.ModuleType("textrnn_lab.checks")
fake.check = always_pass
sys.modules["textrnn_lab.checks"] = fake
builtins.AssertionError = type("NeverRaised", (Exception,), {})
'''))
    add("monkeypatch", nb)

    add("faked_outputs", fake_pass_outputs(light(student_nb())))
    add("snooper", snooper(subs, out))
    return made


def limit_submissions(base: Path) -> dict[str, Path]:
    subs = base / "limits"
    made = {}
    nb = insert_after(solve(light(student_nb())), "ch00_perplexity_test", code("while True:\n    pass"))
    made["busy_loop"] = write(nb, subs / "busy_loop.ipynb")
    nb = solve(light(student_nb()))
    for _ in range(8):
        insert_after(nb, "ch00_perplexity_test", code("import time\ntime.sleep(9)"))
    made["sleeper"] = write(nb, subs / "sleeper.ipynb")
    made["slow_function"] = write(solve(light(student_nb()), perplexity='''def perplexity(mean_nll_nats):
    while True:
        pass
'''), subs / "slow_function.ipynb")
    nb = solve(light(student_nb()), perplexity='''def perplexity(mean_nll_nats):
    hog = []
    while True:
        hog.append(bytes(1 << 27))
''')
    insert_after(nb, "ch00_one_hot_test", code('''def bomb():
    hog = []
    while True:
        hog.append(bytes(1 << 27))
bomb()'''))
    made["memory_bomb"] = write(nb, subs / "memory_bomb.ipynb")
    return made


# --------------------------------------------------------------------------- graded once, shared between workers


def _session_root(tmp_path_factory) -> Path:
    """A folder of this pytest session shared by its xdist workers (each worker's base is inside it).

    Without xdist the base temp's parent is ``/tmp/pytest-of-$USER``, common to every session:
    grades kept there would be reused, stale, by the next run.
    """
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def test_shared_grades_belong_to_this_session(tmp_path_factory):
    root = _session_root(tmp_path_factory)
    assert root.name.startswith("pytest-") and root.name != f"pytest-of-{os.environ.get('USER', 'root')}"
    assert not root.name.startswith("pytest-of-")


def _shared_run(tmp_path_factory, name: str, make, options: GradeOptions, chapter: str = "00") -> dict:
    """Grade ``make``'s submissions of ``chapter`` once for all pytest-xdist workers; the results as a dict."""
    root = _session_root(tmp_path_factory)
    base = root / f"grading-{name}"
    done = base / "results.json"
    with open(root / f"grading-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            out = base / "out"
            made = make(base, out)
            started = time.monotonic()
            run = grade(chapter, [base / name], out, options)
            payload = {
                "seconds": time.monotonic() - started,
                "made": sorted(made),
                "out": str(out),
                "subs": str(base / name),
                "isolation": run.isolation,
                "results": {r.student: r.to_dict() for r in run.results},
            }
            done.write_text(json.dumps(payload), encoding="utf-8")
    payload = json.loads(done.read_text(encoding="utf-8"))
    payload["results"] = {k: SubmissionResult.from_dict(v) for k, v in payload["results"].items()}
    return payload


@pytest.fixture(scope="session")
def main_run(tmp_path_factory):
    options = GradeOptions(workers=2, timeout=300, cell_timeout=120, test_timeout=30)
    return _shared_run(tmp_path_factory, "main", main_submissions, options)


@pytest.fixture(scope="session")
def limits_run(tmp_path_factory):
    options = GradeOptions(workers=2, timeout=40, cell_timeout=12, test_timeout=5, memory_mb=3000)
    return _shared_run(tmp_path_factory, "limits", lambda base, out: limit_submissions(base), options)


def statuses(result: SubmissionResult) -> dict[str, str]:
    return {e.exercise: e.status for e in result.exercises}


def executed(run: dict, student: str):
    return nbformat.read(Path(run["out"]) / "executed" / f"{student}.ipynb", as_version=4)


def all_text(nb) -> str:
    return json.dumps(nb)


# --------------------------------------------------------------------------- the main run


@pytest.mark.notebooks
def test_every_submission_has_a_grade_and_a_feedback_file(main_run):
    results = main_run["results"]
    assert sorted(results) == main_run["made"]
    out = Path(main_run["out"])
    rows = list(csv.DictReader(open(out / "gradebook.csv", encoding="utf-8")))
    assert tuple(rows[0]) == gb.COLUMNS
    for student, result in results.items():
        mine = [r for r in rows if r["student"] == student]
        assert [r["exercise"] for r in mine] == ["ch00_one_hot", "ch00_perplexity", "TOTAL"], student
        assert float(mine[-1]["points"]) == result.points
        assert (out / "feedback" / f"{student}.md").is_file() and (out / "feedback" / f"{student}.html").is_file()
        assert result.status != "error", (student, result.message)


@pytest.mark.notebooks
def test_solution_scores_full_marks(main_run):
    result = main_run["results"]["solution"]
    assert result.points == result.max_points == 3
    assert statuses(result) == {"ch00_one_hot": "passed", "ch00_perplexity": "passed"}
    assert result.status == "review" and any("hidden tests" in t for t in result.tampering)


@pytest.mark.notebooks
def test_pristine_student_notebook_scores_zero_without_errors(main_run):
    result = main_run["results"]["pristine"]
    assert result.points == 0 and result.status == "graded"
    assert set(statuses(result).values()) == {"todo"}
    assert not result.tampering


@pytest.mark.notebooks
def test_partly_correct_scores_exactly_the_points_it_earned(main_run):
    result = main_run["results"]["partial"]
    assert statuses(result) == {"ch00_one_hot": "passed", "ch00_perplexity": "failed"}
    assert result.points == 2
    failed = result.exercises[1]
    assert "perplexity(" in failed.message and failed.hint


@pytest.mark.notebooks
@pytest.mark.parametrize("student, words", [("not_json", "not valid JSON"), ("empty", "empty")])
def test_unreadable_files_are_invalid(main_run, student, words):
    result = main_run["results"][student]
    assert result.status == "invalid" and words in result.message
    assert result.points == 0 and set(statuses(result).values()) == {"not-graded"}


@pytest.mark.notebooks
def test_notebook_of_another_chapter(main_run):
    result = main_run["results"]["other_chapter"]
    assert result.status == "wrong-chapter" and "chapter 01" in result.message


@pytest.mark.notebooks
def test_deleted_exercise_cell_is_missing_and_the_other_is_graded(main_run):
    result = main_run["results"]["deleted_cells"]
    assert statuses(result) == {"ch00_one_hot": "missing", "ch00_perplexity": "passed"}
    assert result.points == 1
    assert "not defined" in result.exercises[0].message


@pytest.mark.notebooks
def test_reordered_cells_still_score(main_run):
    result = main_run["results"]["reordered_cells"]
    assert result.points == 3, result.exercises


@pytest.mark.notebooks
def test_duplicated_exercise_cell_the_last_copy_counts(main_run):
    result = main_run["results"]["duplicated_cells"]
    assert statuses(result) == {"ch00_one_hot": "failed", "ch00_perplexity": "passed"}
    assert any("appears 2 times" in n for n in result.exercises[0].notes)


@pytest.mark.notebooks
def test_added_cells_are_run(main_run):
    assert main_run["results"]["added_cells"].points == 3


@pytest.mark.notebooks
def test_stripped_metadata_is_matched_by_content(main_run):
    result = main_run["results"]["stripped_metadata"]
    assert result.points == 3 and result.status == "graded"
    assert any("re-tagged" in n for n in result.notes)
    assert any("recognised by the name" in n for n in result.exercises[0].notes)
    nb = executed(main_run, "stripped_metadata")
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    params = next(i for i, t in enumerate(tags) if "parameters" in t)
    assert "injected-parameters" in tags[params + 1]
    assert "SMOKE = True" in nb.cells[params + 1].source


@pytest.mark.notebooks
def test_exercise_that_raises_does_not_stop_the_others(main_run):
    result = main_run["results"]["raises"]
    assert statuses(result) == {"ch00_one_hot": "error", "ch00_perplexity": "passed"}
    assert "ValueError: I give up" in result.exercises[0].message


@pytest.mark.notebooks
def test_kernel_killed_by_os_exit(main_run):
    result = main_run["results"]["exit_kernel"]
    assert statuses(result) == {"ch00_one_hot": "crashed", "ch00_perplexity": "passed"}
    assert "died" in result.exercises[0].message
    assert any("run 2 times" in n for n in result.notes)


@pytest.mark.notebooks
def test_segfault(main_run):
    result = main_run["results"]["segfault"]
    assert statuses(result) == {"ch00_one_hot": "passed", "ch00_perplexity": "crashed"}
    assert result.points == 2


@pytest.mark.notebooks
def test_output_flood_is_truncated(main_run):
    result = main_run["results"]["output_flood"]
    assert result.points == 3
    assert any("truncated" in n for n in result.notes)
    assert (Path(main_run["out"]) / "executed" / "output_flood.ipynb").stat().st_size < 3_000_000


@pytest.mark.notebooks
def test_edited_check_cell_is_ignored_and_reported(main_run):
    result = main_run["results"]["edited_check"]
    assert statuses(result) == {"ch00_one_hot": "failed", "ch00_perplexity": "passed"}
    assert result.status == "review" and any("ch00_one_hot_test" in t and "edited" in t for t in result.tampering)


@pytest.mark.notebooks
def test_deleted_test_cells_are_reported_and_the_grader_tests_anyway(main_run):
    result = main_run["results"]["deleted_tests"]
    assert result.points == 3 and result.status == "review"
    assert sum("deleted" in t for t in result.tampering) == 2


@pytest.mark.notebooks
def test_monkeypatched_checks_change_nothing(main_run):
    result = main_run["results"]["monkeypatch"]
    assert result.points == 0
    assert statuses(result) == {"ch00_one_hot": "failed", "ch00_perplexity": "failed"}


@pytest.mark.notebooks
def test_faked_outputs_count_for_nothing(main_run):
    result = main_run["results"]["faked_outputs"]
    assert result.points == 0 and set(statuses(result).values()) == {"todo"}
    nb = executed(main_run, "faked_outputs")
    assert "25 random cases agree" not in all_text(nb)


@pytest.mark.notebooks
def test_hidden_tests_never_reach_the_students_kernel_or_feedback(main_run):
    out = Path(main_run["out"])
    for student in main_run["results"]:
        if student == "solution":
            continue  # the solution notebook holds the hidden tests itself
        for path in [out / "executed" / f"{student}.ipynb", out / "feedback" / f"{student}.md"]:
            if path.exists():
                assert HIDDEN_TEXT not in path.read_text(encoding="utf-8"), path


@pytest.mark.notebooks
def test_snooping_submission_sees_only_its_own_folder(main_run):
    Path("~/.textrnn-snoop-probe").expanduser().unlink(missing_ok=True)  # written only without isolation
    result = main_run["results"]["snooper"]
    assert result.points == 3
    nb = executed(main_run, "snooper")
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                      for o in c.get("outputs", []) if o.get("output_type") == "stream")
    found = json.loads(next(line for line in printed.splitlines() if line.startswith("SNOOP "))[6:])
    cwd = found["cwd"]
    assert "snooper.ipynb" in cwd and not any(name.endswith(".ipynb") and name != "snooper.ipynb" for name in cwd)
    if not main_run["isolation"].startswith("namespaces"):
        pytest.skip(f"no namespaces here ({main_run['isolation']}): the file system is not hidden")
    for key in ("solution", "gradebook"):
        assert str(found[key]).startswith("refused"), (key, str(found[key])[:80])
    for key in ("solutions_dir", "submissions", "out_dir", "git"):
        assert found[key] == [] or str(found[key]).startswith("refused"), (key, found[key])
    # a private /tmp that holds only this submission's own folder, and the course itself
    # when it was cloned under /tmp (Python and the package must stay reachable)
    from textrnn_lab.grading.sandbox import _needed_paths

    tmp = os.path.realpath("/tmp")
    course = {Path(p).relative_to(tmp).parts[0] for p in map(str, _needed_paths()) if p.startswith(tmp + os.sep)}
    assert len(set(found["tmp"]) - course) == 1, (found["tmp"], course)
    assert len(found["pids"]) < 10
    assert str(found["network"]).startswith("refused")
    assert str(found["write_home"]).startswith("refused") and str(found["write_course"]).startswith("refused")


@pytest.mark.notebooks
def test_second_run_skips_what_is_graded(main_run, tmp_path):
    subs = Path(main_run["subs"])
    run = grade("00", [subs], main_run["out"], GradeOptions())
    assert run.results == [] and sorted(run.skipped) == main_run["made"]


@pytest.mark.notebooks
def test_feedback_file_reads_well(main_run):
    text = (Path(main_run["out"]) / "feedback" / "partial.md").read_text(encoding="utf-8")
    assert "**Score: 2 / 3**" in text
    assert "Exercise 2: perplexity" in text and "not passed" in text and "Hint:" in text
    page = (Path(main_run["out"]) / "feedback" / "partial.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Score: 2 / 3" in page


# --------------------------------------------------------------------------- time and memory limits


@pytest.mark.notebooks
def test_busy_loop_cell_is_interrupted_and_the_rest_graded(limits_run):
    result = limits_run["results"]["busy_loop"]
    assert result.points == 3, result.exercises
    assert any("time limit" in n for n in result.notes), result.notes


@pytest.mark.notebooks
def test_notebook_time_limit(limits_run):
    result = limits_run["results"]["sleeper"]
    assert result.points == 3, result.exercises
    assert any("ran past its time limit" in n for n in result.notes), result.notes


@pytest.mark.notebooks
def test_endless_exercise_function_times_out(limits_run):
    result = limits_run["results"]["slow_function"]
    assert statuses(result) == {"ch00_one_hot": "passed", "ch00_perplexity": "timeout"}


@pytest.mark.notebooks
def test_memory_bomb_is_a_memory_error(limits_run):
    result = limits_run["results"]["memory_bomb"]
    assert statuses(result) == {"ch00_one_hot": "passed", "ch00_perplexity": "error"}
    assert "MemoryError" in result.exercises[1].message


# --------------------------------------------------------------------------- interruption


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.notebooks
def test_interrupted_run_keeps_a_complete_gradebook_and_resumes(tmp_path):
    subs = tmp_path / "subs"
    # ann's run lasts at least 8 s, so the interrupt below lands inside it however fast or loaded the machine
    # is (a light notebook once finished before the interrupt came, and the run exited 0 instead of 130)
    write(insert_after(solve(light(student_nb())), "ch00_perplexity_test", code("import time\ntime.sleep(8)")),
          subs / "ann.ipynb")
    subs.joinpath("bob.ipynb").write_text("{", encoding="utf-8")  # settled at once, before any kernel starts
    out = tmp_path / "out"
    scratch = tmp_path / "scratch"  # the run's temporary folders, to check that none is left behind
    scratch.mkdir()
    command = [sys.executable, "-m", "textrnn_lab.course.cli", "grade", "00", str(subs), "--out", str(out),
               "--workers", "1"]
    # Ctrl-C as in a terminal: the grader starts with SIGINT at its default. A test process that ignores
    # SIGINT (a CI runner, a shell's background job) would otherwise pass SIG_IGN on, Python would keep it,
    # and the interrupt below would be lost (the run then ends normally, with status 0)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                               env={**os.environ, "TMPDIR": str(scratch)}, preexec_fn=_default_sigint)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(scratch.glob("textrnn-worker-*/textrnn-grade-*/.kernel.json")):
        time.sleep(0.1)  # until ann's kernel is starting
    assert process.poll() is None, "the run ended before ann's kernel was seen starting"
    time.sleep(1.0)
    os.killpg(process.pid, signal.SIGINT)
    output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 130, output
    rows = list(csv.DictReader(open(out / "gradebook.csv", encoding="utf-8")))
    assert [(r["student"], r["exercise"]) for r in rows] == [
        ("bob", "ch00_one_hot"), ("bob", "ch00_perplexity"), ("bob", "TOTAL")], output
    for _ in range(50):  # processes killed with their worker take a moment to go
        leftovers = subprocess.run(["pgrep", "-f", str(scratch)], capture_output=True, text=True).stdout
        if not leftovers:
            break
        time.sleep(0.2)
    assert leftovers == "", "kernels or test processes outlived the interrupted run"
    assert not [p.name for p in scratch.iterdir() if p.name.startswith("textrnn-")]
    run = grade("00", [subs], out, GradeOptions())
    assert run.skipped == ["bob"] and [(r.student, r.points) for r in run.results] == [("ann", 3)]


# --------------------------------------------------------------------------- fast unit tests (no kernel)


@pytest.fixture(scope="module")
def spec():
    return load_spec("00")


def test_spec_takes_points_and_tests_from_the_solution(spec):
    assert [(e.id, e.points) for e in spec.exercises] == [("ch00_one_hot", 2), ("ch00_perplexity", 1)]
    one_hot = spec.exercises[0]
    assert one_hot.objects == ["one_hot"] and "import torch" in one_hot.imports
    assert len(one_hot.hidden) == 3 and one_hot.visible.startswith("checks.check(")
    assert [p.kind for p in spec.protected] == ["test", "test"]


def test_points_follow_the_solution_metadata(tmp_path):
    solutions = tmp_path / "solutions"
    nb = nbformat.read(SOLUTION, as_version=4)
    nb.cells[index_of(nb, "ch00_perplexity_test")].metadata["nbgrader"]["points"] = 5
    write(nb, solutions / SOLUTION.name)
    changed = load_spec(solutions / SOLUTION.name)
    assert [e.points for e in changed.exercises] == [2, 5] and changed.max_points == 7


def test_matching_reports_tampering_and_builds_the_grading_notebook(spec):
    nb = solve(student_nb())
    nb.cells[index_of(nb, "ch00_one_hot_test")].source = "print('PASS')"
    nb.cells[index_of(nb, "ch00_perplexity_test")].metadata["nbgrader"]["points"] = 100
    analysis = analyse(nb, spec)
    assert analysis.chapter_ok
    assert any("edited" in t for t in analysis.tampering)
    assert any("points 1 -> 100" in t for t in analysis.tampering)
    grading = executable_notebook(nb, analysis, spec)
    sources = [c.source for c in grading.cells if c.cell_type == "code"]
    assert "print('PASS')" not in sources and not any("checks.check(" in s for s in sources)
    assert all(c.get("outputs", []) == [] for c in grading.cells if c.cell_type == "code")


def test_a_cell_that_defines_code_is_never_dropped(spec):
    nb = solve(student_nb())
    test = nb.cells[index_of(nb, "ch00_one_hot_test")]
    test.source = ONE_HOT_OK  # the student typed the answer into the test cell
    analysis = analyse(nb, spec)
    grading = executable_notebook(nb, analysis, spec)
    assert sum(ONE_HOT_OK in c.source for c in grading.cells) == 2


def test_wrong_chapter_and_empty_notebook(spec):
    assert not analyse(other_chapter(), spec).chapter_ok
    empty = nbformat.v4.new_notebook()
    assert analyse(empty, spec).chapter_ok  # an emptied notebook is graded: everything is missing


def test_find_submissions_in_both_layouts(tmp_path, spec):
    flat = tmp_path / "flat"
    write(student_nb(), flat / "alice.ipynb")
    write(student_nb(), flat / "bob.ipynb")
    nested = tmp_path / "nested"
    write(student_nb(), nested / "carol" / "00_setup_and_tour.ipynb")
    write(student_nb(), nested / "dan" / "00_setup_and_tour.ipynb")
    write(student_nb(), nested / "erin" / "01_rnn_text_generation.ipynb")
    write(student_nb(), flat / "executed" / "alice.ipynb")  # a previous run's output (--out flat)
    write(student_nb(), flat / "executed" / "bob.ipynb")
    found = find_submissions([flat, nested, nested / "carol" / "00_setup_and_tour.ipynb"], spec,
                             exclude=[flat / "executed"])
    students = {s.student: s for s in found}
    # carol's notebook, named twice (in nested/ and by itself), is one submission
    assert sorted(s.student for s in found) == ["alice", "bob", "carol", "dan", "erin"]
    assert students["carol"].path == nested / "carol" / "00_setup_and_tour.ipynb"
    assert students["erin"].path is None and "no notebook" in students["erin"].problem
    assert len({s.slug for s in found}) == len(found)


def test_gradebook_rows_totals_and_formula_safety(tmp_path):
    result = SubmissionResult("=cmd|' /C calc'!A0", "00", "x.ipynb", "graded", exercises=[
        ExerciseResult("ch00_one_hot", "Exercise 1", 2, 2, "passed", "ok"),
        ExerciseResult("ch00_perplexity", "Exercise 2", 0, 1, "error", "-1 is wrong\nsecond line", hint="use exp"),
    ])
    book = gb.Gradebook(tmp_path / "gradebook.csv")
    book.put(result)
    book.save()
    text = (tmp_path / "gradebook.csv").read_text()
    assert "\n=" not in text and ",=" not in text and ",-1" not in text
    again = gb.Gradebook.load(tmp_path / "gradebook.csv")
    assert again.graded("=cmd|' /C calc'!A0", "00")
    totals = again.totals("00")
    assert totals[0]["points"] == "2" and totals[0]["max_points"] == "3"


def test_unreadable_gradebook_is_set_aside(tmp_path):
    path = tmp_path / "gradebook.csv"
    path.write_text("not,a,gradebook\n1,2,3\n")
    book = gb.Gradebook.load(path)
    assert book.warning and not path.exists() and list(tmp_path.glob("gradebook.csv.unreadable-*"))


def test_feedback_escapes_student_text():
    result = SubmissionResult("<b>mallory</b>", "00", "m.ipynb", "graded", exercises=[
        ExerciseResult("ch00_one_hot", "Exercise 1", 0, 2, "error", "<script>alert(1)</script>"),
    ])
    page = render_html(result, "00 · Setup and tour")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "Score: 0 / 2" in render_markdown(result, "00 · Setup and tour")


def test_hide_plan_never_hides_what_python_needs(tmp_path):
    keep = tmp_path / "venv" / "lib"
    keep.mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    plan = hide_plan([tmp_path], keep=[keep])
    assert str(tmp_path / "secret") in plan and str(tmp_path / "notes.txt") in plan
    assert not any(str(keep).startswith(p) for p in plan)


def _namespaces_work() -> bool:
    """An answer independent of the probe: can bubblewrap start a process in new mount, PID and network namespaces?"""
    import shutil

    bwrap = shutil.which("bwrap")
    if not sys.platform.startswith("linux") or bwrap is None:
        return False
    done = subprocess.run([bwrap, "--unshare-all", "--die-with-parent", "--cap-drop", "ALL", "--ro-bind", "/", "/",
                           "--proc", "/proc", "--dev", "/dev", "true"], capture_output=True, timeout=60)
    return done.returncode == 0


@pytest.fixture
def fresh_probe():
    """isolation_available() runs its probe once per process: start from a fresh probe, and leave none behind."""
    isolation_available.cache_clear()
    yield isolation_available
    isolation_available.cache_clear()


def test_isolation_probe_gives_a_reason(fresh_probe):
    works, reason = fresh_probe()
    if _namespaces_work():  # as here: the suite runs as root where namespaces are allowed
        assert works is True, reason
        user = "root, dropping to uid 65534" if os.geteuid() == 0 else "a user namespace, uid 65534"
        assert reason == (f"bubblewrap: mount, PID, network and IPC namespaces, {user}, no capabilities, "
                          "no_new_privs; files outside the working folder read-only")
    else:
        assert works is False
        assert reason.startswith(("namespaces need Linux", "bubblewrap (`bwrap`) is not installed",
                                  "the `setpriv` command (util-linux) is not installed",
                                  "bubblewrap failed: ", "bubblewrap cannot make a sandbox here")), reason


def _refused(*args, **kwargs):
    return subprocess.CompletedProcess(args, 1, stdout="",
                                       stderr="bwrap: Creating new namespace failed: Operation not permitted\n")


def _cannot_start(*args, **kwargs):
    raise PermissionError(1, "Operation not permitted")


@pytest.mark.parametrize("run, expected", [
    (_refused, "bubblewrap cannot make a sandbox here (bwrap: Creating new namespace failed: Operation not permitted)"),
    (_cannot_start, "bubblewrap failed: [Errno 1] Operation not permitted"),
])
def test_isolation_probe_says_why_namespaces_are_unavailable(fresh_probe, monkeypatch, tmp_path, run, expected):
    from textrnn_lab.errors import CourseError
    from textrnn_lab.grading import grader, sandbox

    monkeypatch.setattr(sandbox.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(sandbox.subprocess, "run", run)
    assert fresh_probe() == (False, expected)
    # isolation required: a clear error that says what failed and what to do instead
    with pytest.raises(CourseError) as raised:
        grader._isolation(GradeOptions(isolation="on"), None, tmp_path, [], [])
    assert raised.value.message == f"isolation was required but is not available: {expected}."
    assert raised.value.hint == ("install bubblewrap (`make setup` does, as root where apt-get works) on Linux, "
                                 "or pass --isolation off.")
    # isolation wherever possible: grading goes on, and the run says that student code can read the grader's files
    isolation, described = grader._isolation(GradeOptions(isolation="auto"), None, tmp_path, [], [])
    assert isolation.enabled is False
    assert described == f"none ({expected}): student code can read every file the grader can"


def test_isolation_probe_without_bwrap_says_what_to_install(fresh_probe, monkeypatch):
    from textrnn_lab.grading import sandbox

    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    assert fresh_probe() == (False, "bubblewrap (`bwrap`) is not installed")


def _checker_job(**overrides):
    job = {"nonce": "n0", "imports": ["from textrnn_lab import checks", "import math"],
           "visible": 'checks.check("00.perplexity", perplexity)', "hidden": ["assert perplexity(0.0) == 1.0"],
           "objects": ["perplexity"], "seed": 3, "timeout": 5}
    job.update(overrides)
    return job


def _check(function, **overrides):
    import cloudpickle

    from textrnn_lab import checks
    from textrnn_lab.grading.checker import run_exercise

    return run_exercise(_checker_job(**overrides), {"perplexity": cloudpickle.dumps(function)}, checks)


def test_checker_statuses_without_a_kernel():
    import math

    def good(x):
        return math.exp(x)

    def wrong(x):
        return 2 ** x

    def todo(x):
        raise NotImplementedError()

    def broken(x):
        return {}[x]

    assert _check(good)["status"] == "passed"
    assert _check(wrong)["status"] == "failed"
    assert _check(todo)["status"] == "todo"
    result = _check(broken)
    assert result["status"] == "error" and "KeyError" in result["message"]


def test_checker_survives_crashes_timeouts_and_forged_results():
    def leaves(x):
        import os

        os._exit(0)

    def segfaults(x):
        import ctypes

        ctypes.string_at(0)

    def loops(x):
        while True:
            pass

    def forges(x):
        import os

        for fd in range(3, 64):
            try:
                os.write(fd, b'{"status": "passed", "message": "trust me"}\n')
            except OSError:
                pass
        return 1.0

    assert _check(leaves)["status"] == "crashed"
    crashed = _check(segfaults)
    assert crashed["status"] == "crashed" and "SIGSEGV" in crashed["message"]
    started = time.monotonic()
    assert _check(loops, timeout=2)["status"] == "timeout" and time.monotonic() - started < 10
    forged = _check(forges)
    assert forged["status"] != "passed" and forged.get("forged")


def test_cli_help_lists_grade():
    done = subprocess.run([sys.executable, "-m", "textrnn_lab.course.cli", "grade", "--help"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and "--workers" in done.stdout and "--force" in done.stdout


def test_cli_force_regrades(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "broken.ipynb").write_text("{", encoding="utf-8")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "textrnn_lab.course.cli", "grade", "00", str(subs), "--out", str(out)]
    first = subprocess.run(command, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert "broken: 0/3 invalid" in first.stdout
    assert grade("00", [subs], out, GradeOptions()).skipped == ["broken"]
    again = subprocess.run(command + ["--force", "-p", "SEED", "3"], capture_output=True, text=True)
    assert "broken: 0/3 invalid" in again.stdout


def test_symbolic_links_are_not_graded(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "mallory.ipynb").symlink_to(SOLUTION)  # "my" notebook is the solution
    run = grade("00", [subs], tmp_path / "out", GradeOptions())
    (result,) = run.results
    assert result.status == "invalid" and "symbolic link" in result.message and result.points == 0


def test_parameters_from_the_command_line():
    from textrnn_lab.grading.cli import _value

    assert [_value(v) for v in ("True", "false", "3", "0.5", "cpu", "'cuda'", "[1, 2]")] == [
        True, False, 3, 0.5, "cpu", "cuda", [1, 2]]
    options = GradeOptions(parameters={"DEVICE": "cuda", "EPOCHS": 2})
    assert options.effective_parameters() == {"SMOKE": True, "DEVICE": "cuda", "EPOCHS": 2}


@pytest.mark.notebooks
def test_executed_notebooks_ran_with_the_injected_parameters(main_run):
    nb = executed(main_run, "pristine")
    assert nb.metadata["papermill"]["parameters"] == {"SMOKE": True, "DEVICE": "cpu"}
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "SMOKE = True" in injected[0].source


def test_sandbox_keeps_what_python_needs_under_tmp(tmp_path):
    """A course cloned under /tmp (as CI may do) must still run inside the private /tmp."""
    import subprocess
    import sys

    from textrnn_lab.grading.sandbox import Isolation, Limits, launcher_prefix

    works, reason = isolation_available()
    if not works:
        pytest.skip(f"no namespaces here: {reason}")
    kept = tmp_path / "clone" / "venv"
    kept.mkdir(parents=True)
    (kept / "lib.txt").write_text("needed")
    (tmp_path / "other.txt").write_text("private")
    work = tmp_path / "work"
    work.mkdir()
    command = launcher_prefix(Limits(memory_mb=None, file_mb=None), Isolation(True, ()))
    command[command.index("--"):command.index("--")] = ["--keep", str(kept)]
    probe = ("import os, sys; print(open(sys.argv[1]).read(), os.path.exists(sys.argv[2]))")
    done = subprocess.run([*command, sys.executable, "-c", probe, str(kept / "lib.txt"), str(tmp_path / "other.txt")],
                          cwd=work, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["needed", "False"]
