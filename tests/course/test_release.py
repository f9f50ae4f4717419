"""Release (solutions/ -> chapters/) and the solution validator, on synthetic notebooks."""
from __future__ import annotations

import copy
import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from textrnn_lab.course.release import notebook_bytes, release_all, release_notebook, validate_solution
from textrnn_lab.errors import NotebookError

SOLUTION_CODE = """def one_hot(indices, num_classes):
    \"\"\"Rows of zeros with a one at each index.\"\"\"
    ### BEGIN SOLUTION
    out = torch.zeros(*indices.shape, num_classes)
    return out.scatter_(-1, indices.unsqueeze(-1), 1.0)
    ### END SOLUTION
"""

TEST_CODE = """checks.check("00.one_hot", one_hot)
### BEGIN HIDDEN TESTS
assert one_hot(torch.tensor([1]), 2).tolist() == [[0.0, 1.0]]
### END HIDDEN TESTS"""


def _nbgrader(grade_id, *, solution, grade, points=None, locked=None):
    meta = {"schema_version": 3, "solution": solution, "grade": grade,
            "locked": (not solution) if locked is None else locked, "grade_id": grade_id}
    if points is not None:
        meta["points"] = points
    return meta


def make_solution(exercises=("one_hot",)) -> nbformat.NotebookNode:
    """A valid solution notebook with fixed cell ids."""
    cells = [new_markdown_cell("# 00 A tiny chapter")]
    cells.append(new_code_cell("import torch\nfrom textrnn_lab import checks"))
    params = new_code_cell('SMOKE = False\nDEVICE = "auto"\nSEED = 0\nSTEPS = 10')
    params.metadata["tags"] = ["parameters"]
    cells.append(params)
    for name in exercises:
        sol = new_code_cell(SOLUTION_CODE.replace("one_hot", name))
        sol.metadata["nbgrader"] = _nbgrader(f"00_{name}", solution=True, grade=False)
        sol.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello\n")]
        sol.execution_count = 3
        test = new_code_cell(TEST_CODE.replace("one_hot", name))
        test.metadata["nbgrader"] = _nbgrader(f"00_{name}_test", solution=False, grade=True, points=2)
        test.outputs = [nbformat.v4.new_output("stream", name="stdout", text="PASS\n")]
        test.execution_count = 4
        cells += [sol, test]
    answer = new_markdown_cell("Why?\n\n### BEGIN SOLUTION\nBecause it is.\n### END SOLUTION")
    cells.append(answer)
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["course"] = {"chapter": "00"}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i:02d}"
    return nb


def write(nb, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


# --------------------------------------------------------------------------- release_notebook


def test_solution_region_becomes_stub_at_marker_indentation():
    released = release_notebook(make_solution())
    source = released.cells[3].source
    assert "### BEGIN SOLUTION" not in source and "torch.zeros" not in source
    assert source == (
        "def one_hot(indices, num_classes):\n"
        '    """Rows of zeros with a one at each index."""\n'
        "    # YOUR CODE HERE\n"
        "    raise NotImplementedError()\n"
    )
    compile(source, "<released>", "exec")  # still valid Python


def test_hidden_tests_removed_and_visible_test_kept():
    source = release_notebook(make_solution()).cells[4].source
    assert source == 'checks.check("00.one_hot", one_hot)'


def test_markdown_answer_region():
    source = release_notebook(make_solution()).cells[5].source
    assert source == "Why?\n\nYOUR ANSWER HERE"


def test_outputs_cleared_and_metadata_ids_kept():
    original = make_solution()
    released = release_notebook(original)
    for cell in released.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert [c.id for c in released.cells] == [c.id for c in original.cells]
    assert [c.metadata for c in released.cells] == [c.metadata for c in original.cells]
    assert released.metadata == original.metadata
    assert released.cells[3].metadata["nbgrader"]["grade_id"] == "00_one_hot"
    # cells without markers are untouched
    assert released.cells[1].source == original.cells[1].source
    assert released.cells[2].source == original.cells[2].source


def test_release_does_not_modify_its_input():
    original = make_solution()
    before = copy.deepcopy(original)
    release_notebook(original)
    assert original == before


def test_nested_indentation_and_several_regions():
    nb = make_solution()
    nb.cells[3].source = (
        "class Model:\n"
        "    def forward(self, x):\n"
        "        ### BEGIN SOLUTION\n"
        "        return x\n"
        "        ### END SOLUTION\n"
        "\n"
        "### BEGIN SOLUTION\n"
        "LR = 0.1\n"
        "### END SOLUTION\n"
    )
    assert release_notebook(nb).cells[3].source == (
        "class Model:\n"
        "    def forward(self, x):\n"
        "        # YOUR CODE HERE\n"
        "        raise NotImplementedError()\n"
        "\n"
        "# YOUR CODE HERE\n"
        "raise NotImplementedError()\n"
    )


@pytest.mark.parametrize(
    "source, fragment",
    [
        ("x = 1\n### BEGIN SOLUTION\ny = 2\n", "never closed"),
        ("x = 1\n### END SOLUTION\n", "no matching"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside"),
        ("### BEGIN HIDDEN TESTS\nassert True\n", "never closed"),
        ("### BEGIN SOLUTION\nx = 1\n### END HIDDEN TESTS\n", "no matching"),
    ],
)
def test_unbalanced_markers_name_file_and_cell(source, fragment):
    nb = make_solution()
    nb.cells[4].source = source
    with pytest.raises(NotebookError) as info:
        release_notebook(nb, "solutions/00_tiny.ipynb")
    message = info.value.message
    assert "solutions/00_tiny.ipynb" in message and "cell 4" in message and fragment in message


def test_deterministic_bytes(tmp_path):
    nb = make_solution()
    first = notebook_bytes(release_notebook(nb))
    second = notebook_bytes(release_notebook(copy.deepcopy(nb)))
    assert first == second
    assert first.endswith(b"\n") and b"\r\n" not in first
    # a file read back and released again gives the same bytes
    path = write(nb, tmp_path / "00_tiny.ipynb")
    again = notebook_bytes(release_notebook(nbformat.read(str(path), as_version=4)))
    assert again == first


def test_normalisation_removes_machine_dependence():
    nb = make_solution()
    for cell in nb.cells:
        del cell["id"]  # e.g. written by an old tool
    nb.cells[1].source = "import torch\r\nfrom textrnn_lab import checks"
    nb.cells[1].metadata["execution"] = {"iopub.execute_input": "2024-01-01T00:00:00"}
    nb.metadata["papermill"] = {"duration": 3.2}
    a = notebook_bytes(release_notebook(nb))
    b = notebook_bytes(release_notebook(copy.deepcopy(nb)))
    assert a == b  # ids are derived from positions, never random
    data = json.loads(a)
    assert [c["id"] for c in data["cells"]][:2] == ["cell-0", "cell-1"]
    assert "papermill" not in data["metadata"]
    assert "execution" not in data["cells"][1]["metadata"]
    assert "\r" not in "".join(data["cells"][1]["source"])


# --------------------------------------------------------------------------- release_all


def test_release_all_writes_then_checks(tmp_path):
    solutions, chapters = tmp_path / "solutions", tmp_path / "chapters"
    write(make_solution(), solutions / "00_tiny.ipynb")
    write(make_solution(("perplexity",)), solutions / "01_other.ipynb")
    (solutions / "notes.ipynb").write_text("{}")  # not a chapter: ignored

    results = release_all(solutions, chapters)
    assert [(p.name, s) for p, s in results] == [("00_tiny.ipynb", "created"), ("01_other.ipynb", "created")]
    written = (chapters / "00_tiny.ipynb").read_bytes()
    assert b"BEGIN SOLUTION" not in written and b"YOUR CODE HERE" in written

    assert [s for _, s in release_all(solutions, chapters)] == ["unchanged", "unchanged"]
    assert (chapters / "00_tiny.ipynb").read_bytes() == written
    assert [s for _, s in release_all(solutions, chapters, check=True)] == ["ok", "ok"]


def test_release_check_detects_missing_stale_extra(tmp_path):
    solutions, chapters = tmp_path / "solutions", tmp_path / "chapters"
    write(make_solution(), solutions / "00_tiny.ipynb")
    write(make_solution(("perplexity",)), solutions / "01_other.ipynb")
    release_all(solutions, chapters)

    (chapters / "01_other.ipynb").unlink()
    write(make_solution(), chapters / "07_old.ipynb")
    before = {p: p.read_bytes() for p in chapters.iterdir()}
    status = {p.name: s for p, s in release_all(solutions, chapters, check=True)}
    assert status == {"00_tiny.ipynb": "ok", "01_other.ipynb": "missing", "07_old.ipynb": "extra"}
    assert {p: p.read_bytes() for p in chapters.iterdir()} == before  # check writes nothing

    # a re-serialised but equal notebook is not stale ...
    data = json.loads((chapters / "00_tiny.ipynb").read_text())
    (chapters / "00_tiny.ipynb").write_text(json.dumps(data, indent=4))
    assert dict((p.name, s) for p, s in release_all(solutions, chapters, check=True))["00_tiny.ipynb"] == "ok"

    # ... but a changed source, cell id, metadata or an output is
    for mutate in (
        lambda d: d["cells"][1].__setitem__("source", "import numpy"),
        lambda d: d["cells"][1].__setitem__("id", "renamed"),
        lambda d: d["cells"][3]["metadata"]["nbgrader"].__setitem__("points", 5),
        lambda d: d["metadata"].__setitem__("kernelspec", {"name": "other", "display_name": "x"}),
        lambda d: d["cells"][4].__setitem__("outputs", [{"output_type": "stream", "name": "stdout", "text": "x"}]),
    ):
        changed = copy.deepcopy(data)
        mutate(changed)
        (chapters / "00_tiny.ipynb").write_text(json.dumps(changed))
        status = dict((p.name, s) for p, s in release_all(solutions, chapters, check=True))
        assert status["00_tiny.ipynb"] == "stale"

    # writing fixes the drift; extras are only removed with prune=True
    status = dict((p.name, s) for p, s in release_all(solutions, chapters))
    assert status == {"00_tiny.ipynb": "updated", "01_other.ipynb": "created", "07_old.ipynb": "extra"}
    status = dict((p.name, s) for p, s in release_all(solutions, chapters, prune=True))
    assert status["07_old.ipynb"] == "removed" and not (chapters / "07_old.ipynb").exists()
    assert all(s == "ok" for _, s in release_all(solutions, chapters, check=True))


def test_release_all_refuses_invalid_solutions(tmp_path):
    solutions, chapters = tmp_path / "solutions", tmp_path / "chapters"
    bad = make_solution()
    bad.cells[4].metadata["nbgrader"]["points"] = 0
    write(make_solution(), solutions / "00_tiny.ipynb")
    write(bad, solutions / "01_bad.ipynb")
    with pytest.raises(NotebookError) as info:
        release_all(solutions, chapters)
    assert "01_bad.ipynb" in info.value.message and "points" in info.value.message
    assert not chapters.exists()  # nothing was written


# --------------------------------------------------------------------------- validate_solution


def test_valid_solution_has_no_problems():
    assert validate_solution(make_solution(("one_hot", "perplexity")), "x.ipynb") == []


def _problems(mutate):
    nb = make_solution()
    mutate(nb)
    return "\n".join(validate_solution(nb, "solutions/00_tiny.ipynb"))


def test_validator_missing_parameters_cell():
    def drop_tag(nb):
        nb.cells[2].metadata["tags"] = []
    assert "no cell tagged 'parameters'" in _problems(drop_tag)


def test_validator_parameter_missing():
    def no_seed(nb):
        nb.cells[2].source = 'SMOKE = False\nDEVICE = "auto"'
    assert "does not define SEED" in _problems(no_seed)


def test_validator_duplicate_grade_id():
    def duplicate(nb):
        nb.cells[4].metadata["nbgrader"]["grade_id"] = "00_one_hot"
    text = _problems(duplicate)
    assert "already used" in text


def test_validator_points():
    def no_points(nb):
        del nb.cells[4].metadata["nbgrader"]["points"]
    assert "points > 0" in _problems(no_points)


def test_validator_missing_test_cell():
    def rename(nb):
        nb.cells[4].metadata["nbgrader"]["grade_id"] = "00_something_else"
    assert "no test cell with grade_id '00_one_hot_test'" in _problems(rename)


def test_validator_test_before_solution():
    def swap(nb):
        nb.cells[3], nb.cells[4] = nb.cells[4], nb.cells[3]
    assert "comes before its solution cell" in _problems(swap)


def test_validator_no_exercise():
    def strip(nb):
        nb.cells = nb.cells[:3]
    assert "no exercise" in _problems(strip)


def test_validator_solution_without_region_and_bad_markers():
    def no_region(nb):
        nb.cells[3].source = "def one_hot(i, n):\n    return i"
        nb.cells[4].source += "\n### BEGIN HIDDEN TESTS"
    text = _problems(no_region)
    assert "would contain the answer" in text
    assert "cell 4" in text and "never closed" in text


def test_validator_schema_version():
    def old(nb):
        nb.cells[3].metadata["nbgrader"]["schema_version"] = 1
    assert "schema_version 3" in _problems(old)
