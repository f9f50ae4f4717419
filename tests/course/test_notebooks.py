"""Chapter discovery, reading notebooks, the parameters cell, and papermill execution."""
from __future__ import annotations

import json
import os

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from textrnn_lab.course.cells import collect_outputs, find_parameters_cell, parse_parameters, read_notebook
from textrnn_lab.course.chapters import list_chapters, resolve_chapter
from textrnn_lab.course.execute import execute_notebook
from textrnn_lab.course.summary import run_chapters
from textrnn_lab.errors import NotebookError
from textrnn_lab.runtime.display import CHECK_MIME, METRICS_MIME

PARAMETERS = 'SMOKE = False\nDEVICE = "auto"\nSEED = 0'


def notebook(*sources, title="# A tiny chapter", parameters=PARAMETERS):
    cells = [new_markdown_cell(title)] if title else []
    if parameters is not None:
        cell = new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        cells.append(cell)
    cells += [new_code_cell(s) for s in sources]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def write(nb, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


@pytest.fixture()
def course(tmp_path):
    solutions = tmp_path / "solutions"
    write(notebook(title="# 01 Text generation with RNNs\n\nintro"), solutions / "01_rnn_text_generation.ipynb")
    write(notebook(title="Some text\n\n## 00 Setup and tour"), solutions / "00_setup_and_tour.ipynb")
    write(notebook(title=None), solutions / "02_untitled.ipynb")
    (solutions / "scratch.ipynb").write_text("{}")
    return solutions


# --------------------------------------------------------------------------- chapters


def test_list_chapters(course):
    chapters = list_chapters(course)
    assert [c.number for c in chapters] == ["00", "01", "02"]
    assert [c.title for c in chapters] == ["00 Setup and tour", "01 Text generation with RNNs", "02_untitled"]
    first = chapters[0]
    assert first.stem == "00_setup_and_tour"
    assert first.solution == course / "00_setup_and_tour.ipynb"
    assert first.student.name == "00_setup_and_tour.ipynb" and first.student.parent.name == "chapters"


@pytest.mark.parametrize(
    "name", ["01", "1", "01_rnn_text_generation", "01_rnn_text_generation.ipynb", "rnn_text_generation"]
)
def test_resolve_chapter_by_name(course, name):
    assert resolve_chapter(name, course).stem == "01_rnn_text_generation"


def test_resolve_chapter_by_path(course):
    path = course / "00_setup_and_tour.ipynb"
    for name in (path, str(path)):
        chapter = resolve_chapter(name, course)
        assert chapter.number == "00" and chapter.solution == path


@pytest.mark.parametrize("name", ["7", "99", "rnn", "01_nope.ipynb"])
def test_resolve_unknown_chapter_lists_known_ones(course, name):
    with pytest.raises(NotebookError) as info:
        resolve_chapter(name, course)
    assert repr(name) in info.value.message
    assert "00 (00_setup_and_tour)" in info.value.hint and "01 (01_rnn_text_generation)" in info.value.hint


def test_resolve_missing_path(course):
    with pytest.raises(NotebookError, match="no notebook at"):
        resolve_chapter(str(course / "nope" / "05_x.ipynb"), course)


# --------------------------------------------------------------------------- reading


@pytest.mark.parametrize(
    "content, fragment",
    [(None, "does not exist"), ("", "is empty"), ("  \n", "is empty"),
     ('{"cells": [', "not valid JSON"), ("[1, 2]", "not a Jupyter notebook"),
     ('{"hello": 1}', "not a Jupyter notebook")],
)
def test_read_notebook_errors(tmp_path, content, fragment):
    path = tmp_path / "00_x.ipynb"
    if content is not None:
        path.write_text(content)
    with pytest.raises(NotebookError) as info:
        read_notebook(path)
    assert fragment in info.value.message and "00_x.ipynb" in info.value.message


def test_missing_parameters_cell_is_a_clear_error(tmp_path):
    path = write(notebook("x = 1", parameters=None), tmp_path / "00_x.ipynb")
    with pytest.raises(NotebookError) as info:
        find_parameters_cell(read_notebook(path), path)
    message = info.value.message
    assert str(path) in message
    assert "has no cell tagged 'parameters'; tag the cell that defines SMOKE, DEVICE and SEED" in message
    assert find_parameters_cell(notebook("x = 1")) == 1


def test_parse_parameters():
    nb = notebook(parameters=(
        "%matplotlib inline\n"
        "import math\n"
        "SMOKE = False\n"
        'DEVICE = "auto"\n'
        "SEED: int = 3\n"
        "A = B = (1, 2)\n"
        "SIZES = {'hidden': [64, 128]}\n"
        "LR = math.sqrt(2)  # not a literal: ignored\n"
        "x, y = 1, 2  # not a simple assignment: ignored\n"
    ))
    assert parse_parameters(nb) == {
        "SMOKE": False, "DEVICE": "auto", "SEED": 3, "A": (1, 2), "B": (1, 2), "SIZES": {"hidden": [64, 128]},
    }
    with pytest.raises(NotebookError, match="not valid Python"):
        parse_parameters(notebook(parameters="SMOKE = = 1"))


# --------------------------------------------------------------------------- execution

METRIC_CELL = (
    "from textrnn_lab.training import metrics\n"
    "metrics.record('99_tiny', loss=1.25 if SMOKE else 9.0, device=DEVICE, seed=SEED)"
)
CHECK_CELL = "import math\nfrom textrnn_lab import checks\nchecks.check('00.perplexity', math.exp)"


def test_execute_notebook_runs_records_and_checks(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTRNN_LAB_RUN_DIR", "/somewhere/else")
    source = write(notebook(METRIC_CELL, CHECK_CELL, "import os\nprint(os.getcwd())"),
                   tmp_path / "nb" / "99_tiny.ipynb")
    out = tmp_path / "out" / "99_tiny.ipynb"
    result = execute_notebook(source, out, {"SMOKE": True, "DEVICE": "cpu", "SEED": 5})
    assert result.ok and result.error is None and result.output_path == out and result.duration_s > 0
    assert os.environ["TEXTRNN_LAB_RUN_DIR"] == "/somewhere/else"  # restored

    executed = read_notebook(out)
    assert collect_outputs(executed, CHECK_MIME) == [
        {"check": "00.perplexity", "status": "pass", "message": "25 random cases agree with the reference.",
         "cases": 25}
    ]
    check_cell = executed.cells[4]  # markdown, parameters, injected parameters, metric, check
    assert [o.output_type for o in check_cell.outputs] == ["display_data"]  # one verdict, no Out[]
    assert check_cell.outputs[0]["data"]["text/plain"].startswith("PASS 00.perplexity: ")
    assert "PASS" in check_cell.outputs[0]["data"]["text/html"]
    assert collect_outputs(executed, METRICS_MIME)[0]["values"] == {"loss": 1.25, "device": "cpu", "seed": 5}
    recorded = json.loads((out.parent / "99_tiny.metrics.json").read_text())  # next to the outputs
    assert recorded["values"]["loss"] == 1.25
    printed = executed.cells[-1].outputs[0]["text"].strip()
    assert os.path.samefile(printed, source.parent)  # cwd defaults to the notebook's directory
    log = out.parent / "99_tiny.kernel.log"
    assert not log.exists(), log.read_text()  # routine kernel warnings are not kept


def test_execute_notebook_failure_names_the_cell_and_keeps_output(tmp_path):
    source = write(notebook("x = 1", "y = x + 1\nraise ValueError(f'bad value {y}')", "z = 3"),
                   tmp_path / "99_bad.ipynb")
    out = tmp_path / "out" / "99_bad.ipynb"
    with pytest.raises(NotebookError) as info:
        execute_notebook(source, out, {"SMOKE": True})
    err = info.value
    assert "99_bad.ipynb failed in cell 3" in err.message
    assert "ValueError: bad value 2" in err.message and "y = x + 1" in err.message
    assert err.cell_index == 3 and err.result.output_path == out
    assert out.exists() and str(out) in err.hint
    executed = read_notebook(out)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors and errors[0]["ename"] == "ValueError"

    result = execute_notebook(source, out, {"SMOKE": True}, raise_on_error=False)
    assert not result.ok and result.cell_index == 3 and "ValueError" in result.error


def test_execute_notebook_without_parameters_cell(tmp_path):
    source = write(notebook("x = 1", parameters=None), tmp_path / "99_noparams.ipynb")
    out = tmp_path / "out" / "99_noparams.ipynb"
    with pytest.raises(NotebookError, match="has no cell tagged 'parameters'"):
        execute_notebook(source, out, {"SMOKE": True})
    assert not out.exists()


def test_collect_outputs_ignores_other_outputs():
    nb = notebook("x")
    nb.cells[-1].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="hi"),
        nbformat.v4.new_output("display_data", data={"text/plain": "x", CHECK_MIME: {"check": "a", "status": "pass"}}),
        nbformat.v4.new_output("display_data", data={METRICS_MIME: json.dumps({"chapter": "b", "values": {}})}),
    ]
    assert collect_outputs(nb, CHECK_MIME) == [{"check": "a", "status": "pass"}]
    assert collect_outputs(nb, METRICS_MIME) == [{"chapter": "b", "values": {}}]


def test_run_chapters_keeps_going_and_summarises(tmp_path):
    solutions = tmp_path / "solutions"
    write(notebook(METRIC_CELL.replace("99_tiny", "01_good"), CHECK_CELL, title="# 01 Good"),
          solutions / "01_good.ipynb")
    write(notebook("raise RuntimeError('chapter two is broken')", title="# 02 Broken"),
          solutions / "02_broken.ipynb")
    out = tmp_path / "runs"
    lines = []
    summaries = run_chapters(list_chapters(solutions), smoke=True, device="cpu", out_dir=out, seed=0, log=lines.append)

    assert [(s.stem, s.status) for s in summaries] == [("01_good", "ok"), ("02_broken", "failed")]
    good, broken = summaries
    assert good.metrics == {"loss": 1.25, "device": "cpu", "seed": 0} and good.checks == {"pass": 1}
    assert good.error is None and good.device == "cpu"
    assert "RuntimeError: chapter two is broken" in broken.error and "cell 2" in broken.error
    assert (out / "01_good.ipynb").exists() and (out / "02_broken.ipynb").exists()
    assert any(line.startswith("FAILED 02_broken") for line in lines)

    data = json.loads((out / "summary.json").read_text())
    assert data["ok"] is False and data["smoke"] is True and data["device"] == "cpu"
    assert [c["stem"] for c in data["chapters"]] == ["01_good", "02_broken"]
    assert data["chapters"][0]["metrics"]["loss"] == 1.25
    markdown = (out / "summary.md").read_text()
    assert "| 01_good | ok |" in markdown and "| 02_broken | **FAILED** |" in markdown
    assert "## 01 Good" in markdown
    assert "loss=1.25" in markdown and "chapter two is broken" in markdown


def test_kernel_log_is_kept_only_when_it_says_something(tmp_path):
    from textrnn_lab.course.execute import _tidy_kernel_log

    routine = tmp_path / "routine.log"
    routine.write_text("[IPKernelApp] WARNING | Kernel is running over TCP without encryption. Messages ...\n"
                       "[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel.\n\n")
    _tidy_kernel_log(routine)
    assert not routine.exists()  # start-up and shutdown noise only
    crash = tmp_path / "crash.log"
    crash.write_text("[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel.\nSegmentation fault (core dumped)\n")
    _tidy_kernel_log(crash)
    assert crash.exists()  # anything else keeps the whole log
