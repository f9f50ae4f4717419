"""The grader's submissions: student ids, clashes, links, lenient reading, parameters set again.

Crafted submissions of chapter 00, graded by the real grader (:func:`grade`), as in
``test_grading.py`` (whose helpers craft the notebooks). Most are broken files
("{"), settled before any kernel starts, so the tests about ids and clashes run in
seconds; one shared run executes the few notebooks that must really run (a linked
folder's target, a notebook without metadata, parameters set again).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import nbformat
import pytest
from test_grading import SOLUTION, _shared_run, code, index_of, light, solve, student_nb, write

from textrnn_lab.course.cells import read_notebook
from textrnn_lab.grading import gradebook as gb
from textrnn_lab.grading.grader import GradeOptions, _slug, find_submissions, grade
from textrnn_lab.grading.matching import analyse, executable_notebook, pin_parameters
from textrnn_lab.grading.results import SubmissionResult
from textrnn_lab.grading.spec import load_spec

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CHAPTER = "00_setup_and_tour.ipynb"


@pytest.fixture(scope="module")
def spec():
    return load_spec("00")


def broken(path: Path) -> Path:
    """A submission settled without a kernel: not JSON, so ``invalid``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{", encoding="utf-8")
    return path


def book_rows(out: Path) -> list[dict]:
    return list(csv.DictReader(open(out / "gradebook.csv", encoding="utf-8")))


def totals(out: Path) -> dict[str, dict]:
    """{student: TOTAL row}; fails when a student has two TOTAL rows."""
    found: dict[str, dict] = {}
    for row in book_rows(out):
        if row["exercise"] == gb.TOTAL:
            assert row["student"] not in found, f"two TOTAL rows for {row['student']!r}"
            found[row["student"]] = row
    return found


# --------------------------------------------------------------------------- ids (no kernel)


def test_student_ids_have_one_spelling():
    assert gb.student_id("  bob ") == gb.student_id("bob\n") == gb.student_id("bob\u200b") == "bob"
    assert gb.student_id("bob  smith") == gb.student_id("bob\tsmith") == gb.student_id("bob\nsmith") == "bob smith"
    assert gb.student_id("Jose\u0301") == gb.student_id("Jos\u00e9") == "Jos\u00e9"  # NFD and NFC
    assert gb.student_id("bob") != gb.student_id("Bob")


def test_slugs_are_a_function_of_the_id_and_never_shared():
    assert [_slug(s) for s in ("alice", "bob-2", "carol.smith", "d_e")] == ["alice", "bob-2", "carol.smith", "d_e"]
    ids = ["bob smith", "bob_smith", "bob:smith", "Jos\u00e9", "Jos", "(no name)", "-x", "x"]
    slugs = [_slug(s) for s in ids]
    assert len(set(slugs)) == len(ids), slugs
    assert all(s == _slug(i) for s, i in zip(slugs, ids))  # stable: the same id, the same file, every run
    assert _slug(_slug("bob smith")) != _slug("bob smith")  # a plain id cannot take another's hashed slug


def test_gradebook_reads_back_every_spelling(tmp_path):
    book = gb.Gradebook(tmp_path / "gradebook.csv")
    for name in ("=x", "'=x", "'plain", "  padded  name "):
        book.put(SubmissionResult(name, "00", "n.ipynb", "invalid"))
    book.save()
    again = gb.Gradebook.load(tmp_path / "gradebook.csv")
    assert sorted(s for s, _ in again.groups) == sorted(["=x", "'=x", "'plain", "padded name"])
    assert all(again.graded(name, "00") for name in ("=x", "'=x", "'plain", "padded  name", "padded name\n"))


def test_the_same_notebook_named_twice_is_one_submission(tmp_path, spec):
    notebook = broken(tmp_path / "subs" / "carol" / CHAPTER)
    found = find_submissions([tmp_path / "subs", notebook, tmp_path / "subs" / "carol"], spec)
    assert [(s.student, s.path, s.verdict) for s in found] == [("carol", notebook, None)]


# --------------------------------------------------------------------------- clashes (no kernel)


def test_a_file_and_a_folder_with_one_id_are_a_clash_and_no_grade_is_lost(tmp_path):
    subs = tmp_path / "subs"
    broken(subs / "bob.ipynb")
    broken(subs / "bob" / CHAPTER)
    broken(subs / "bob-2.ipynb")  # the id the old grader gave the second bob: now just another student
    broken(subs / "alice.ipynb")
    out = tmp_path / "out"
    run = grade("00", [subs], out, GradeOptions())
    assert sorted(r.student for r in run.results) == ["alice", "bob", "bob-2"]
    book = totals(out)
    assert sorted(book) == ["alice", "bob", "bob-2"]  # a row for every result: nothing overwritten
    assert book["alice"]["status"] == book["bob-2"]["status"] == "invalid"
    clash = book["bob"]
    assert clash["status"] == gb.CLASH and clash["points"] == "0"
    assert str(subs / "bob.ipynb") in clash["message"] and str(subs / "bob" / CHAPTER) in clash["message"]
    assert "none of them was graded" in clash["message"]
    assert [r["status"] for r in book_rows(out) if r["student"] == "bob"] == ["not-graded", "not-graded", "clash"]
    assert any("'bob'" in w for w in run.warnings)
    assert not (out / "feedback" / "bob.md").exists()  # shared by two students' work: no one's feedback

    again = grade("00", [subs], out, GradeOptions())  # the clash is reported again, the rest is skipped
    assert [r.student for r in again.results] == ["bob"] and sorted(again.skipped) == ["alice", "bob-2"]
    assert totals(out) == book


def test_names_that_differ_only_in_whitespace_are_a_clash_shown_apart(tmp_path):
    subs = tmp_path / "subs"
    for name in ("bob smith", "bob  smith", " bob smith", "bob\nsmith"):
        broken(subs / f"{name}.ipynb")
    out = tmp_path / "out"
    run = grade("00", [subs], out, GradeOptions())
    (result,) = run.results
    assert result.student == "bob smith" and result.status == gb.CLASH
    message = totals(out)["bob smith"]["message"]
    assert "4 submissions have the student id 'bob smith'" in message and "whitespace" in message
    for shown in ("bob smith.ipynb", "bob\\x20\\x20smith.ipynb", "\\x20bob smith.ipynb", "bob\\nsmith.ipynb"):
        assert shown in message, (shown, message)


def test_odd_whitespace_in_names_is_one_id_in_every_run(tmp_path):
    subs = tmp_path / "subs"
    for name in ("  carol", "dan  smith", "erin\nx", "frank\u200b"):
        broken(subs / f"{name}.ipynb")
    out = tmp_path / "out"
    run = grade("00", [subs], out, GradeOptions())
    ids = ["carol", "dan smith", "erin x", "frank"]
    assert sorted(r.student for r in run.results) == ids
    assert sorted(totals(out)) == ids
    for result in run.results:
        assert result.feedback and all(Path(p).is_file() for p in result.feedback)
        assert Path(result.feedback[0]).name == f"{_slug(result.student)}.md"
    again = grade("00", [subs], out, GradeOptions())
    assert again.results == [] and sorted(again.skipped) == ids  # compared in the spelling they were written in
    assert sorted(totals(out)) == ids


def test_a_notebook_added_after_its_folder_was_graded_is_a_clash(tmp_path):
    subs = tmp_path / "subs"
    broken(subs / "dave" / CHAPTER)
    out = tmp_path / "out"
    first = grade("00", [subs], out, GradeOptions())
    assert [(r.student, r.status) for r in first.results] == [("dave", "invalid")]

    broken(subs / "dave.ipynb")  # handed in later, beside the folder
    second = grade("00", [subs], out, GradeOptions())
    assert [(r.student, r.status) for r in second.results] == [("dave", gb.CLASH)]
    row = totals(out)["dave"]
    assert sorted(totals(out)) == ["dave"] and row["status"] == gb.CLASH
    assert str(subs / "dave.ipynb") in row["message"] and str(subs / "dave" / CHAPTER) in row["message"]
    assert "an earlier run graded 'dave' 0/3 (invalid)" in row["message"]

    (subs / "dave.ipynb").unlink()  # resolved: the folder is graded again without --force
    third = grade("00", [subs], out, GradeOptions())
    assert [(r.student, r.status) for r in third.results] == [("dave", "invalid")]
    assert totals(out)["dave"]["status"] == "invalid"


def test_a_linked_folder_is_reported_without_a_kernel(tmp_path, spec):
    subs = tmp_path / "subs"
    broken(subs / "carol" / CHAPTER)
    (subs / "mallory").symlink_to(subs / "carol", target_is_directory=True)
    found = {s.student: s for s in find_submissions([subs], spec)}
    assert found["carol"].verdict is None and found["carol"].path == subs / "carol" / CHAPTER
    assert found["mallory"].verdict == "invalid" and found["mallory"].path is None
    assert "symbolic link" in found["mallory"].problem and "carol" in found["mallory"].problem


# --------------------------------------------------------------------------- reading leniently (no kernel)


def test_a_notebook_without_metadata_keys_is_read(tmp_path):
    data = json.loads(nbformat.writes(solve(light(student_nb()))))
    del data["metadata"]
    for cell in data["cells"][:3]:
        cell.pop("metadata", None)
        cell.pop("outputs", None)
    path = tmp_path / "bare.ipynb"
    path.write_text(json.dumps(data), encoding="utf-8")
    nb = read_notebook(path)
    assert nb.metadata == {} and all(isinstance(c.metadata, dict) for c in nb.cells)
    assert [c.source for c in nb.cells] == ["".join(c["source"]) for c in data["cells"]]


# --------------------------------------------------------------------------- parameters set again (no kernel)


def test_honest_notebooks_set_no_parameters_again(spec):
    for nb in (student_nb(), solve(student_nb()), nbformat.read(SOLUTION, as_version=4)):
        analysis = analyse(nb, spec)
        assert analysis.overrides == {} and not any("parameters set again" in n for n in analysis.notes)
        grading = executable_notebook(nb, analysis, spec)
        assert not [c for c in grading.cells if c.metadata["textrnn_lab_grader"].get("role") == "pin"]


def test_parameters_set_again_are_found_and_pinned(spec):
    nb = solve(light(student_nb()))
    at = index_of(nb, "ch00_one_hot")
    nb.cells[at:at] = [code("SMOKE = False  # the real run"),
                       code("if True:\n    DEVICE, SEED = 'cuda', 1\nfor N_DIGITS in range(2):\n    pass")]
    analysis = analyse(nb, spec)
    assert analysis.overrides == {at: ["SMOKE"], at + 1: ["DEVICE", "N_DIGITS", "SEED"]}
    (note,) = [n for n in analysis.notes if "parameters set again" in n]
    assert f"SMOKE in cell {at}" in note and f"DEVICE, N_DIGITS, SEED in cell {at + 1}" in note
    grading = executable_notebook(nb, analysis, spec)
    grading.metadata["papermill"]["parameters"] = {"SMOKE": True, "DEVICE": "cpu"}  # as papermill leaves it
    pin_parameters(grading)
    pins = [c for c in grading.cells if c.metadata["textrnn_lab_grader"].get("role") == "pin"]
    assert [c.source.splitlines()[1:] for c in pins] == [["SMOKE = True"], ['DEVICE = "cpu"']]
    origins = [c.metadata["textrnn_lab_grader"].get("origin") for c in grading.cells]
    assert origins[origins.index(at) + 1] is None and origins[origins.index(at + 1) + 1] is None
    # and in the cell itself, each assignment is followed by the grader's value (line numbers kept)
    assert grading.cells[origins.index(at)].source == "SMOKE = False; SMOKE = True  # the real run"
    assert grading.cells[origins.index(at + 1)].source.splitlines() == [
        "if True:", "    DEVICE, SEED = 'cuda', 1; DEVICE = \"cpu\"", "for N_DIGITS in range(2):", "    pass"]


# --------------------------------------------------------------------------- executed (one shared run)


PROBE = "print('PROBE ' + repr((SMOKE, DEVICE)))"
OVERRIDE = "SMOKE = False\nDEVICE = 'cuda'\nprint('SAME CELL ' + repr((SMOKE, DEVICE)))"


def executed_submissions(base: Path, out: Path) -> dict[str, Path]:
    subs = base / "executed"
    made: dict[str, Path] = {}
    made["carol"] = write(solve(light(student_nb())), subs / "carol" / CHAPTER)
    (subs / "mallory").symlink_to(subs / "carol", target_is_directory=True)
    made["mallory"] = subs / "mallory"

    data = json.loads(nbformat.writes(solve(light(student_nb()))))
    del data["metadata"]
    (subs / "no_metadata.ipynb").write_text(json.dumps(data), encoding="utf-8")
    made["no_metadata"] = subs / "no_metadata.ipynb"

    nb = solve(light(student_nb()))
    at = index_of(nb, "ch00_one_hot")
    nb.cells[at:at] = [code(OVERRIDE), code(PROBE)]
    made["overrider"] = write(nb, subs / "overrider.ipynb")
    return made


@pytest.fixture(scope="session")
def executed_run(tmp_path_factory):
    options = GradeOptions(workers=2, timeout=300, cell_timeout=120, test_timeout=30)
    return _shared_run(tmp_path_factory, "executed", executed_submissions, options)


@pytest.mark.notebooks
def test_a_linked_folder_does_not_get_its_targets_grade(executed_run):
    results = executed_run["results"]
    assert sorted(results) == executed_run["made"]
    assert results["carol"].points == 3 and results["carol"].status == "graded"
    mallory = results["mallory"]
    assert mallory.status == "invalid" and mallory.points == 0
    assert "symbolic link" in mallory.message and "carol" in mallory.message
    assert totals(Path(executed_run["out"]))["mallory"]["status"] == "invalid"
    assert (Path(executed_run["out"]) / "feedback" / "mallory.md").is_file()


@pytest.mark.notebooks
def test_a_notebook_without_its_metadata_key_is_graded(executed_run):
    result = executed_run["results"]["no_metadata"]
    assert result.status == "graded" and result.points == 3, (result.message, result.exercises)


@pytest.mark.notebooks
def test_parameters_set_again_are_reported_and_the_graders_values_kept(executed_run):
    result = executed_run["results"]["overrider"]
    assert result.points == 3 and result.status == "graded"
    (note,) = [n for n in result.notes if "parameters set again" in n]
    assert "DEVICE, SMOKE in cell" in note
    out = Path(executed_run["out"])
    said = "parameters set again after the parameters cell: DEVICE, SMOKE in cell"
    assert said in totals(out)["overrider"]["message"]  # the instructor's grade book
    assert said in (out / "feedback" / "overrider.md").read_text(encoding="utf-8")  # and the student's feedback
    nb = nbformat.read(out / "executed" / "overrider.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "SAME CELL (True, 'cpu')" in printed and "PROBE (True, 'cpu')" in printed, printed
    assert "SAME CELL (False" not in printed and "PROBE (False" not in printed
