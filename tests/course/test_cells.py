"""Reading cells: one CRLF-safe source reader, used by everything that looks inside a notebook."""
from __future__ import annotations

import copy

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from textrnn_lab.course import cells, chapters, execute, release
from textrnn_lab.course.cells import cell_source, cell_tags, parse_parameters
from textrnn_lab.course.release import notebook_bytes, release_notebook, validate_solution
from textrnn_lab.grading import matching, spec

PARAMETERS = 'SMOKE = False\nDEVICE = "auto"\nSEED = 0\nSTEPS = 10\n%matplotlib inline'
SOLUTION = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n"
TEST = 'checks.check("00.f", f)\n### BEGIN HIDDEN TESTS\nassert f(1) == 1\n### END HIDDEN TESTS'


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def solution(newline=lambda text: text) -> nbformat.NotebookNode:
    params = new_code_cell(newline(PARAMETERS), metadata={"tags": ["parameters"]})
    sol = new_code_cell(newline(SOLUTION), metadata={"nbgrader": {
        "schema_version": 3, "solution": True, "grade": False, "locked": False, "grade_id": "00_f"}})
    test = new_code_cell(newline(TEST), metadata={"nbgrader": {
        "schema_version": 3, "solution": False, "grade": True, "locked": True, "grade_id": "00_f_test", "points": 1}})
    nb = new_notebook(cells=[new_markdown_cell(newline("\n# 00 Line endings\n")), params, sol, test])
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"c{index}"
    return nb


def test_every_reader_of_cell_sources_is_the_one_in_cells():
    for module in (chapters, execute, release, spec, matching):
        assert module.cell_source is cells.cell_source, module.__name__
    assert matching.cell_tags is cells.cell_tags


def test_cell_source_reads_every_line_ending_and_shape_the_same():
    lf = "a = 1\nb = 2\n"
    for source in (lf, crlf(lf), "a = 1\rb = 2\r", ["a = 1\r\n", "b = 2\r\n"], ["a = 1\n", "b = 2\n"]):
        assert cell_source({"cell_type": "code", "source": source}) == lf
    assert cell_source({"cell_type": "code"}) == "" and cell_source({"source": None}) == "" and cell_source(None) == ""
    assert cell_tags({"metadata": {"tags": ["parameters", 3]}}) == ["parameters"]
    assert cell_tags({"metadata": {"tags": "parameters"}}) == [] and cell_tags({}) == []


def test_a_crlf_notebook_reads_the_same_everywhere(tmp_path):
    lf, windows = solution(), solution(crlf)
    # the parameters cell
    expected = {"SMOKE": False, "DEVICE": "auto", "SEED": 0, "STEPS": 10}
    assert parse_parameters(windows) == parse_parameters(lf) == expected
    # validation and release (markers on CRLF lines are still found; the release has LF only)
    assert validate_solution(windows) == validate_solution(lf) == []
    assert notebook_bytes(release_notebook(windows)) == notebook_bytes(release_notebook(lf))
    assert "raise NotImplementedError()" in release_notebook(windows).cells[2].source
    # the chapter's title, read from the file
    folder = tmp_path / "solutions"
    folder.mkdir()
    nbformat.write(windows, str(folder / "00_line_endings.ipynb"))
    (found,) = chapters.list_chapters(folder)
    assert found.title == "00 Line endings"
    # the grader's view of a cell: same source, same checksum
    for index in range(len(lf.cells)):
        a, b = matching._record(index, lf.cells[index]), matching._record(index, windows.cells[index])
        assert (a.source, a.checksum, a.functions, a.tags) == (b.source, b.checksum, b.functions, b.tags)


def test_source_as_a_list_of_lines_reads_like_a_string():
    nb = solution()
    as_lines = copy.deepcopy(nb)
    for cell in as_lines.cells:
        cell.source = crlf(cell.source).splitlines(keepends=True)
    assert parse_parameters(as_lines) == parse_parameters(nb)
    assert notebook_bytes(release_notebook(as_lines)) == notebook_bytes(release_notebook(nb))
