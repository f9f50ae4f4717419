"""Reading notebooks and their cells: the file, a cell's source and tags, the parameters cell, display outputs.

Every part of the course that looks inside a notebook (the runner, release,
the grader) reads it through here:

* :func:`read_notebook`: a notebook file as nbformat v4, with a clear
  :class:`~textrnn_lab.errors.NotebookError` for the usual problems (and leniency
  for the empty keys other tools drop: ``metadata``, a code cell's ``outputs``);
* :func:`cell_source`: a cell's source as one string with LF line endings
  (notebooks saved on Windows or by other editors may hold CRLF or a list of lines);
* :func:`cell_tags`: a cell's tags;
* :func:`find_parameters_cell`, :func:`parse_parameters`: the cell tagged
  ``parameters`` and the literal values it assigns; every chapter defines
  :data:`REQUIRED_PARAMETERS`;
* :func:`collect_outputs`: the payloads of the display outputs of one MIME type
  (see :mod:`textrnn_lab.runtime.display`).

nbformat is imported inside :func:`read_notebook`, so importing this module is cheap.
"""
from __future__ import annotations

import ast
import json
import os
from pathlib import Path
from typing import Any

from ..errors import NotebookError

#: The parameters every chapter's parameters cell must define.
REQUIRED_PARAMETERS = ("SMOKE", "DEVICE", "SEED")


def read_notebook(path: str | os.PathLike):
    """Read a notebook (as nbformat v4) with clear errors for the usual problems."""
    import nbformat

    path = Path(path)
    if not path.exists():
        raise NotebookError(f"notebook {path} does not exist.",
                            hint="check the file name, or list the chapters with `textrnn-lab list`.")
    if path.is_dir():
        raise NotebookError(f"{path} is a directory, not a notebook.")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise NotebookError(f"cannot read {path}: {exc.strerror or exc}.") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotebookError(f"{path} is not UTF-8 text (byte {exc.start}); it is not a notebook.") from None
    if not text.strip():
        raise NotebookError(
            f"{path} is empty.",
            hint="restore it from git (`git checkout -- <file>`) or regenerate it (`make release`).",
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).",
            hint="a merge conflict or a hand edit may have broken it; restore it from git.",
        ) from None
    if not isinstance(data, dict) or "nbformat" not in data or not ("cells" in data or "worksheets" in data):
        raise NotebookError(
            f"{path} is JSON but not a Jupyter notebook (no 'nbformat' and 'cells').",
        )
    if _fill_missing_keys(data):
        text = json.dumps(data)
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises a variety of types for odd files
        raise NotebookError(f"{path} is not a readable notebook: {type(exc).__name__}: {exc}.") from None


def _fill_missing_keys(data: dict) -> bool:
    """Give a version-4 notebook the keys nbformat cannot read without but that hold nothing (a lenient reader).

    Editors and scripts drop the notebook's or a cell's empty ``metadata``, or a code cell's ``outputs``
    and ``execution_count``; nbformat refuses such a file although nothing of the work is missing.
    Returns True when something was filled in.
    """
    if data.get("nbformat") != 4 or not isinstance(data.get("cells"), list):
        return False
    filled = False
    if not isinstance(data.get("metadata"), dict):
        data["metadata"], filled = {}, True
    for cell in data["cells"]:
        if not isinstance(cell, dict):
            continue
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"], filled = {}, True
        if cell.get("cell_type") == "code":
            if not isinstance(cell.get("outputs"), list):
                cell["outputs"], filled = [], True
            if "execution_count" not in cell:
                cell["execution_count"], filled = None, True
    return filled


# --------------------------------------------------------------------------- cells


def cell_source(cell) -> str:
    """A cell's source as one string with LF line endings ("" for a cell without one).

    The source may be a string or a list of lines (as stored on disk), with CRLF
    or CR line endings from other editors; all read the same.
    """
    source = cell.get("source", "") if isinstance(cell, dict) else ""
    text = "".join(source) if isinstance(source, list) else str(source or "")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def cell_tags(cell) -> list[str]:
    """The cell's ``metadata.tags`` (only the strings; empty when missing or malformed)."""
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    tags = meta.get("tags") if isinstance(meta, dict) else None
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, (list, tuple)) else []


# --------------------------------------------------------------------------- the parameters cell


def _describe(path) -> str:
    return str(path) if path is not None else "the notebook"


def find_parameters_cell(nb, path: str | os.PathLike | None = None) -> int:
    """Index of the first cell tagged ``parameters``; a clear :class:`NotebookError` if none."""
    for index, cell in enumerate(nb.cells):
        if "parameters" in cell_tags(cell):
            if cell.get("cell_type") != "code":
                raise NotebookError(
                    f"{_describe(path)}: the cell tagged 'parameters' (cell {index}) "
                    f"is a {cell.get('cell_type')} cell.",
                    hint="move the tag to the code cell that defines SMOKE, DEVICE and SEED.",
                )
            return index
    raise NotebookError(
        f"{_describe(path)} has no cell tagged 'parameters'; tag the cell that defines SMOKE, DEVICE and SEED "
        "(in JupyterLab: select the cell, open the property inspector (gear icon) and add the tag 'parameters').",
        hint='or add "tags": ["parameters"] to that cell\'s metadata.',
    )


def _without_magics(source: str) -> str:
    # IPython magics and shell escapes are not Python; blank them, keeping line numbers.
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        lines.append("" if stripped.startswith(("%", "!")) else line)
    return "\n".join(lines)


def parse_parameters(nb, path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Names and literal default values assigned in the parameters cell.

    Only top-level simple assignments with literal values count
    (``SMOKE = False``, ``SIZES: list = [1, 2]``, ``A = B = 0``); anything else is ignored.
    """
    index = find_parameters_cell(nb, path)
    source = _without_magics(cell_source(nb.cells[index]))
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise NotebookError(
            f"{_describe(path)}: the parameters cell (cell {index}) is not valid Python: "
            f"{exc.msg} (line {exc.lineno}).",
        ) from None
    values: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        try:
            literal = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                values[target.id] = literal
    return values


# --------------------------------------------------------------------------- outputs


def collect_outputs(nb, mime: str) -> list[dict]:
    """The payloads of every display output with MIME type ``mime``, in notebook order.

    ``nb`` may be a notebook object or a path.
    """
    if isinstance(nb, (str, os.PathLike)):
        nb = read_notebook(nb)
    found: list[dict] = []
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []) or []:
            if output.get("output_type") not in ("display_data", "execute_result", "update_display_data"):
                continue
            data = output.get("data", {}) or {}
            if mime not in data:
                continue
            payload = data[mime]
            if isinstance(payload, str):
                try:
                    payload = json.loads(payload)
                except ValueError:
                    continue
            if isinstance(payload, dict):
                found.append(dict(payload))
    return found
