"""``chapters/`` (the student notebooks) from ``solutions/`` (the reference notebooks).

Release is a pure transformation of each solution notebook:

* in code cells, every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region
  becomes ``# YOUR CODE HERE`` + ``raise NotImplementedError()`` at the
  indentation of the BEGIN marker;
* in markdown cells, such a region becomes ``YOUR ANSWER HERE``;
* ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` regions are deleted;
* outputs and execution counts are cleared;
* everything else (sources, cell ids, nbgrader and other metadata) is kept.

The result is normalised (LF line endings, cell ids present and unique,
execution-timing metadata dropped) and serialised the same way every time, so
releasing twice gives identical bytes on any machine. :func:`release_all`
writes ``chapters/`` or, with ``check=True``, only reports what is missing,
stale or extra there. A solution must pass :func:`validate_solution` before it
is released.
"""
from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

from ..errors import NotebookError
from ..runtime import paths
from ..runtime.files import atomic_write
from .cells import REQUIRED_PARAMETERS, cell_source, parse_parameters, read_notebook
from .chapters import chapter_files

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"

CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
MARKDOWN_STUB = "YOUR ANSWER HERE"

#: cell / notebook metadata written by executing a notebook, never part of a release
_EXECUTION_METADATA = ("execution", "papermill")

_CELL_ID = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")


def _where(source, index: int) -> str:
    return f"{source if source is not None else 'notebook'}: cell {index}"


def _marker(line: str) -> str | None:
    stripped = line.strip()
    # the longer markers first: "### BEGIN HIDDEN TESTS" does not start with "### BEGIN SOLUTION"
    for marker in (BEGIN_HIDDEN, END_HIDDEN, BEGIN_SOLUTION, END_SOLUTION):
        if stripped.startswith(marker):
            return marker
    return None


def release_source(text: str, cell_type: str = "code", where: str = "cell") -> str:
    """Release one cell's source: replace solution regions, delete hidden tests."""
    lines = text.split("\n")
    out: list[str] = []
    state: str | None = None  # None, "solution" or "hidden"
    opened_at = 0
    removed_hidden = False
    for number, line in enumerate(lines, start=1):
        marker = _marker(line)
        if marker is None:
            if state is None:
                out.append(line)
            continue
        if marker in (BEGIN_SOLUTION, BEGIN_HIDDEN):
            if state is not None:
                inner = BEGIN_SOLUTION if state == "solution" else BEGIN_HIDDEN
                raise NotebookError(
                    f"{where}: {marker!r} on line {number} is inside the {inner!r} region opened on line {opened_at}.",
                    hint="close each region before opening the next.",
                )
            state = "solution" if marker == BEGIN_SOLUTION else "hidden"
            opened_at = number
            if state == "solution":
                indent = line[: len(line) - len(line.lstrip())]
                if cell_type == "code":
                    out.extend(indent + stub for stub in CODE_STUB)
                else:
                    out.append(indent + MARKDOWN_STUB)
            continue
        expected = "solution" if marker == END_SOLUTION else "hidden"
        if state != expected:
            opener = BEGIN_SOLUTION if marker == END_SOLUTION else BEGIN_HIDDEN
            raise NotebookError(
                f"{where}: {marker!r} on line {number} has no matching {opener!r} before it.",
                hint="every END marker closes the BEGIN marker of the same kind.",
            )
        if state == "hidden":
            removed_hidden = True
        state = None
    if state is not None:
        opener = BEGIN_SOLUTION if state == "solution" else BEGIN_HIDDEN
        closer = END_SOLUTION if state == "solution" else END_HIDDEN
        raise NotebookError(
            f"{where}: {opener!r} on line {opened_at} is never closed by {closer!r}.",
            hint=f"add a line {closer!r} where the region ends.",
        )
    result = "\n".join(out)
    if removed_hidden:
        # deleting hidden tests at the end of a cell must not leave blank lines behind
        stripped = result.rstrip()
        result = stripped + ("\n" if text.endswith("\n") and stripped else "")
    return result


def normalize_notebook(nb):
    """A copy of ``nb`` that serialises the same way on every machine.

    Sources are strings with LF line endings; metadata written by executing a
    notebook (``execution`` timings, ``papermill``) is dropped; for nbformat
    >= 4.5 every cell has a unique id (missing or duplicate ids are replaced by
    ones derived from the cell position, never random ones); for older minors
    ids are removed, as the schema requires.
    """
    import nbformat

    nb = copy.deepcopy(nb)
    if not isinstance(nb, nbformat.NotebookNode):
        nb = nbformat.from_dict(nb)
    nb.metadata = nb.get("metadata", nbformat.NotebookNode())
    for key in _EXECUTION_METADATA:
        nb.metadata.pop(key, None)
    with_ids = (nb.get("nbformat", 4), nb.get("nbformat_minor", 0)) >= (4, 5)
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        cell.source = cell_source(cell)
        cell.metadata = cell.get("metadata", nbformat.NotebookNode())
        for key in _EXECUTION_METADATA:
            cell.metadata.pop(key, None)
        if with_ids:
            cell_id = cell.get("id")
            if not isinstance(cell_id, str) or not _CELL_ID.match(cell_id) or cell_id in seen:
                suffix = 0
                cell_id = f"cell-{index}"
                while cell_id in seen:
                    suffix += 1
                    cell_id = f"cell-{index}-{suffix}"
                cell.id = cell_id
            seen.add(cell_id)
        else:
            cell.pop("id", None)
    return nb


def release_notebook(nb, source: str | os.PathLike | None = None):
    """The student version of the solution notebook ``nb`` (a new object; ``nb`` is untouched).

    ``source`` (the file name) only improves error messages. Unbalanced or nested
    markers are a :class:`NotebookError` naming the file and the cell index.
    """
    released = normalize_notebook(nb)
    for index, cell in enumerate(released.cells):
        cell_type = cell.get("cell_type")
        if cell_type == "code":
            cell.source = release_source(cell.source, "code", _where(source, index))
            cell.outputs = []
            cell.execution_count = None
        elif cell_type == "markdown":
            cell.source = release_source(cell.source, "markdown", _where(source, index))
    return released


def notebook_bytes(nb) -> bytes:
    """The canonical serialisation: nbformat's JSON (sorted keys, indent 1), LF, final newline, UTF-8."""
    import nbformat

    text = nbformat.writes(nb, version=4)
    text = text.replace("\r\n", "\n")
    if not text.endswith("\n"):
        text += "\n"
    return text.encode("utf-8")


def write_notebook(nb, path: str | os.PathLike) -> None:
    """Write ``nb`` with :func:`notebook_bytes`, atomically (:func:`~textrnn_lab.runtime.files.atomic_write`)."""
    atomic_write(path, notebook_bytes(nb))


# --------------------------------------------------------------------------- validation


def _nbgrader(cell) -> dict | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else None


def validate_solution(nb, path: str | os.PathLike | None = None) -> list[str]:
    """Problems that make a solution notebook unfit for release (an empty list if none).

    Checked: a parameters cell defining SMOKE, DEVICE and SEED; nbgrader
    metadata with schema_version 3 and unique grade_ids; test cells
    (``grade: true``) with points > 0; each solution cell followed later by its
    test cell ``<grade_id>_test``; solution cells holding a
    ``### BEGIN SOLUTION`` region; balanced markers; at least one exercise.
    """
    name = str(path) if path is not None else "notebook"
    problems: list[str] = []
    try:
        params = parse_parameters(nb, path)
    except NotebookError as exc:
        problems.append(exc.message)
    else:
        missing = [p for p in REQUIRED_PARAMETERS if p not in params]
        if missing:
            problems.append(f"{name}: the parameters cell does not define {', '.join(missing)} "
                            "(as literal assignments).")

    grade_ids: dict[str, int] = {}
    solutions: list[tuple[int, str]] = []
    tests: dict[str, int] = {}
    for index, cell in enumerate(nb.cells):
        where = _where(path, index)
        if cell.get("cell_type") in ("code", "markdown"):
            try:
                release_source(cell_source(cell), cell.get("cell_type"), where)
            except NotebookError as exc:
                problems.append(exc.message)
        meta = _nbgrader(cell)
        if meta is None:
            continue
        if meta.get("schema_version") != 3:
            problems.append(f"{where}: nbgrader metadata needs schema_version 3 "
                            f"(found {meta.get('schema_version')!r}).")
        grade_id = meta.get("grade_id")
        if not isinstance(grade_id, str) or not grade_id:
            problems.append(f"{where}: nbgrader cell without a grade_id.")
            continue
        if grade_id in grade_ids:
            problems.append(f"{where}: grade_id {grade_id!r} is already used by cell {grade_ids[grade_id]}.")
        else:
            grade_ids[grade_id] = index
        if meta.get("solution"):
            solutions.append((index, grade_id))
            if BEGIN_SOLUTION not in cell_source(cell):
                problems.append(
                    f"{where}: solution cell {grade_id!r} has no {BEGIN_SOLUTION!r} region, "
                    "so the student version would contain the answer."
                )
        if meta.get("grade"):
            points = meta.get("points")
            if isinstance(points, bool) or not isinstance(points, (int, float)) or not points > 0:
                problems.append(f"{where}: test cell {grade_id!r} needs points > 0 (found {points!r}).")
            tests.setdefault(grade_id, index)
    for index, grade_id in solutions:
        wanted = f"{grade_id}_test"
        if wanted not in tests:
            problems.append(f"{_where(path, index)}: solution cell {grade_id!r} has no test cell "
                            f"with grade_id {wanted!r}.")
        elif tests[wanted] < index:
            problems.append(
                f"{_where(path, index)}: the test cell {wanted!r} (cell {tests[wanted]}) "
                "comes before its solution cell."
            )
    if not solutions:
        problems.append(f"{name}: no exercise (no cell with nbgrader metadata solution: true).")
    return problems


# --------------------------------------------------------------------------- whole directories


def _canonical(data: Any) -> Any:
    """JSON with multi-line strings joined, so that list-of-lines and string forms compare equal."""
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            if key in ("source", "text") and isinstance(value, list):
                out[key] = "".join(str(v) for v in value)
            elif key == "data" and isinstance(value, dict):
                out[key] = {k: ("".join(v) if isinstance(v, list) and all(isinstance(s, str) for s in v)
                                else _canonical(v))
                            for k, v in value.items()}
            else:
                out[key] = _canonical(value)
        return out
    if isinstance(data, list):
        return [_canonical(v) for v in data]
    return data


def _same_notebook(expected: bytes, path: Path) -> bool:
    try:
        actual = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (OSError, ValueError):
        return False
    return _canonical(json.loads(expected.decode("utf-8"))) == _canonical(actual)


def release_all(
    solutions_dir: str | os.PathLike | None = None,
    chapters_dir: str | os.PathLike | None = None,
    check: bool = False,
    prune: bool = False,
) -> list[tuple[Path, str]]:
    """Release every ``NN_*.ipynb`` in ``solutions_dir`` into ``chapters_dir``.

    Defaults: ``solutions/`` and ``chapters/`` of the repository; when only
    ``solutions_dir`` is given, its sibling ``chapters/``. Returns
    ``(chapter path, status)`` pairs:

    * writing: ``created``, ``updated``, ``unchanged``; ``extra`` for notebooks
      in chapters/ without a solution (``removed`` with ``prune=True``);
    * ``check=True`` (writes nothing): ``ok``, ``missing``, ``stale`` (the
      normalised JSON differs, cell ids and metadata included), ``extra``.

    Solutions that fail :func:`validate_solution` are refused: a
    :class:`NotebookError` lists every problem and nothing is written.
    """
    if solutions_dir is None:
        solutions = paths.solutions_dir()
        chapters = Path(chapters_dir) if chapters_dir is not None else paths.chapters_dir()
    else:
        solutions = Path(solutions_dir)
        chapters = Path(chapters_dir) if chapters_dir is not None else solutions.resolve().parent / "chapters"
    if not solutions.is_dir():
        raise NotebookError(f"the solutions directory {solutions} does not exist.")
    sources = chapter_files(solutions)

    released: dict[str, bytes] = {}
    problems: list[str] = []
    for src in sources:
        nb = read_notebook(src)
        found = validate_solution(nb, src)
        if found:
            problems.extend(found)
            continue
        released[src.name] = notebook_bytes(release_notebook(nb, src))
    if problems:
        raise NotebookError(
            f"{len(problems)} problem(s) in solutions/, nothing released:\n  - " + "\n  - ".join(problems),
            hint="fix the solution notebooks (see CONTRIBUTING.md, 'Notebook conventions').",
        )

    results: list[tuple[Path, str]] = []
    for name, data in released.items():
        target = chapters / name
        if check:
            if not target.exists():
                status = "missing"
            else:
                status = "ok" if _same_notebook(data, target) else "stale"
        else:
            if target.exists() and target.read_bytes() == data:
                status = "unchanged"
            else:
                status = "updated" if target.exists() else "created"
                atomic_write(target, data)
        results.append((target, status))
    if chapters.is_dir():
        extras = sorted(p for p in chapters.iterdir()
                        if p.is_file() and p.suffix == ".ipynb" and p.name not in released)
        for extra in extras:
            if prune and not check:
                extra.unlink()
                results.append((extra, "removed"))
            else:
                results.append((extra, "extra"))
    return results
