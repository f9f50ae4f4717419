"""A submission against its chapter: which cell is which, what was tampered with,
and the notebook the grader will execute.

Students' notebooks go through other editors, copy-paste and accidents, so
nothing about their structure is trusted:

* **exercise cells** are found by their nbgrader ``grade_id``; when the metadata
  was stripped, by the function or class the solution cell defines (``one_hot``);
  failing that, by the similarity of the text to the released cell. Duplicates are
  noted (the last copy is what the kernel ends up with).
* **protected cells** (test cells and ``locked`` cells of the released notebook)
  are found the same way and compared by checksum with what the student was
  given; an edit, a deletion or changed grading metadata is reported. The grader
  never runs the student's copy of a test cell: its own tests run later, in
  another process (see :mod:`.checker`). A cell that defines a function or a
  class is never dropped, whatever its metadata claims.
* **the chapter**: a notebook of another chapter (other ``grade_id`` prefixes, or
  nothing of this chapter's text or exercises) is recognised and not executed.
* **parameters set again** after the parameters cell (``SMOKE = False`` in a later
  cell) are noted, cell by cell; the chapter's own statements (``if SMOKE: STEPS = 20``)
  do not count. In the executed notebook the values the grader injected are put
  back right after each such assignment and in a grader cell after the cell
  (:func:`pin_parameters`), so a notebook never runs in full mode behind the
  grader's back.

:func:`analyse` returns an :class:`Analysis`; :func:`executable_notebook` builds
the notebook that is executed: the student's cells in the student's order with
outputs cleared (faked outputs are gone), test cells replaced by markdown
placeholders, locked cells restored, the parameters cell tagged.
"""
from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass, field

from ..course.cells import REQUIRED_PARAMETERS, cell_source, cell_tags
from .spec import (
    ChapterSpec,
    chapter_of_grade_id,
    checksum,
    defined_names,
    fingerprint_lines,
    headings,
    nbgrader_meta,
    parse_python,
)

#: The key under ``cell.metadata`` where the grader records what each executed cell is.
GRADER_KEY = "textrnn_lab_grader"

_SIMILAR_EXERCISE = 0.6
_SIMILAR_PROTECTED = 0.5
_CHAPTER_SIMILARITY = 0.25
_COMPARE_CHARS = 4000


def similarity(a: str, b: str) -> float:
    """Text similarity in [0, 1] (difflib), on at most the first few thousand characters."""
    a, b = a[:_COMPARE_CHARS], b[:_COMPARE_CHARS]
    if not a and not b:
        return 1.0
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() < 0.3:
        return matcher.real_quick_ratio() / 2
    return matcher.ratio()


@dataclass
class CellRecord:
    """One cell of a submission, as the matcher sees it."""

    index: int
    cell_type: str
    source: str
    grade_id: str | None
    meta: dict
    checksum: str
    functions: list[str]
    names: list[str]
    tags: list[str]


@dataclass
class ExerciseCell:
    """Where an exercise's solution cell is in the submission (``index`` None: not found)."""

    exercise: str
    index: int | None = None
    how: str | None = None          # "grade_id", "definition" or "similarity"
    copies: list[int] = field(default_factory=list)


@dataclass
class ProtectedStatus:
    """What became of one protected cell."""

    label: str                      # its grade_id, or "locked cell N"
    kind: str                       # "test" or "locked"
    exercise: str | None
    status: str                     # "intact", "modified", "deleted", "metadata", "hidden-tests"
    index: int | None               # in the submission
    detail: str = ""


@dataclass
class Analysis:
    """The result of :func:`analyse`."""

    chapter_ok: bool
    chapter_message: str
    cells: list[CellRecord]
    exercises: dict[str, ExerciseCell]
    protected: list[ProtectedStatus]
    parameters_index: int | None
    parameters_how: str             # "tag", "content", "definitions" or "missing"
    dropped: dict[int, str]         # submission index -> exercise id (test cells not executed)
    restored: dict[int, int]        # submission index -> released index (locked cells restored)
    notes: list[str] = field(default_factory=list)      # things an instructor should know
    tampering: list[str] = field(default_factory=list)  # edits to protected cells
    overrides: dict[int, list[str]] = field(default_factory=dict)  # submission index -> parameters it sets again

    @property
    def tampered(self) -> bool:
        return bool(self.tampering)

    def exercise_notes(self, exercise_id: str) -> list[str]:
        """Notes about one exercise (its cell's metadata, copies, its test cell)."""
        notes = []
        found = self.exercises.get(exercise_id)
        if found is not None:
            if found.index is not None and found.how == "definition":
                notes.append("its nbgrader metadata was missing; the cell was recognised by the name it defines")
            elif found.index is not None and found.how == "similarity":
                notes.append("its nbgrader metadata was missing; the cell was recognised by its text")
            if len(found.copies) > 1:
                notes.append(f"the exercise cell appears {len(found.copies)} times; the last copy counts")
        for status in self.protected:
            if status.exercise == exercise_id and status.status != "intact":
                notes.append(status.detail)
        return notes


def _record(index: int, cell) -> CellRecord:
    cell_type = cell.get("cell_type") if isinstance(cell, dict) else None
    cell_type = cell_type if cell_type in ("code", "markdown", "raw") else "raw"
    source = cell_source(cell) if isinstance(cell, dict) else ""
    meta = nbgrader_meta(cell) if isinstance(cell, dict) else {}
    grade_id = meta.get("grade_id") if isinstance(meta.get("grade_id"), str) else None
    functions, names = defined_names(source) if cell_type == "code" else ([], [])
    return CellRecord(
        index=index,
        cell_type=cell_type,
        source=source,
        grade_id=grade_id,
        meta=meta,
        checksum=checksum(source, cell_type),
        functions=functions,
        names=names,
        tags=cell_tags(cell) if isinstance(cell, dict) else [],
    )


def _recognise_chapter(spec: ChapterSpec, cells: list[CellRecord]) -> tuple[bool, str]:
    ours = spec.grade_ids
    ids = {c.grade_id for c in cells if c.grade_id}
    if ids & ours:
        return True, ""
    other = sorted({chapter_of_grade_id(i) for i in ids} - {None, spec.number})
    title = next((h for c in cells for h in headings({"cell_type": c.cell_type, "source": c.source})), None)
    if other:
        return False, (
            f"this is not chapter {spec.number} ({spec.stem}): its exercises belong to chapter "
            f"{', '.join(other)}" + (f" ({title!r})" if title else "") + "."
        )
    if not cells:
        return True, ""
    text = "\n".join(c.source for c in cells)
    lines = fingerprint_lines(text)
    overlap = len(lines & spec.fingerprint) / max(1, len(spec.fingerprint))
    if overlap >= _CHAPTER_SIMILARITY:
        return True, ""
    wanted = {name for e in spec.exercises for name in e.functions}
    if wanted & {name for c in cells for name in c.functions}:
        return True, ""
    if not any(c.source.strip() for c in cells):
        return True, ""  # an emptied notebook: graded (everything is missing), not "another chapter"
    return False, (
        f"this does not look like chapter {spec.number} ({spec.stem}): none of its exercises and "
        f"only {overlap:.0%} of its text were found" + (f"; its first heading is {title!r}" if title else "") + "."
    )


def _find_exercise(spec_exercise, cells: list[CellRecord], taken: set[int]) -> ExerciseCell:
    found = ExerciseCell(spec_exercise.id)
    code = [c for c in cells if c.cell_type == "code" and c.index not in taken]
    by_id = [c.index for c in code if c.grade_id == spec_exercise.id]
    if by_id:
        found.index, found.how, found.copies = by_id[-1], "grade_id", by_id
        return found
    if spec_exercise.functions:
        by_name = [c.index for c in code if set(spec_exercise.functions) & set(c.functions)]
        if by_name:
            found.index, found.how, found.copies = by_name[-1], "definition", by_name
            return found
    if spec_exercise.stub:
        scored = [(similarity(c.source, spec_exercise.stub), c.index) for c in code if not c.grade_id]
        scored = [s for s in scored if s[0] >= _SIMILAR_EXERCISE]
        if scored:
            best = max(scored)[1]
            found.index, found.how, found.copies = best, "similarity", [best]
    return found


def _describe_metadata_change(released: dict, submitted: dict) -> str | None:
    changed = []
    for key in ("grade", "solution", "locked", "points", "grade_id"):
        if released.get(key) != submitted.get(key):
            changed.append(f"{key} {released.get(key)!r} -> {submitted.get(key)!r}")
    return ", ".join(changed) or None


# --------------------------------------------------------------------------- parameters set again

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def _target_names(node) -> set[str]:
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, (ast.Tuple, ast.List)):
        return set().union(*(_target_names(e) for e in node.elts)) if node.elts else set()
    if isinstance(node, ast.Starred):
        return _target_names(node.value)
    return set()


def _statements(body):
    """Every statement that runs in the notebook's global scope (not inside functions and classes)."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, _SCOPES):
            continue
        for name in ("body", "orelse", "finalbody"):
            yield from _statements(getattr(stmt, name, None) or [])
        for part in list(getattr(stmt, "handlers", None) or []) + list(getattr(stmt, "cases", None) or []):
            yield from _statements(part.body)


def _walrus_names(node) -> set[str]:
    found: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.NamedExpr):
            found |= _target_names(current.target)
        if not isinstance(current, ast.Lambda):
            stack.extend(c for c in ast.iter_child_nodes(current) if isinstance(c, ast.AST)
                         and not isinstance(c, ast.stmt))
    return found


def _bound_by(stmt) -> set[str]:
    """Global names one statement binds (or deletes), its own nested statements left out."""
    names: set[str] = set()
    if isinstance(stmt, ast.Assign):
        for target in stmt.targets:
            names |= _target_names(target)
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) and getattr(stmt, "value", None) is not None:
        names |= _target_names(stmt.target)
    elif isinstance(stmt, (ast.For, ast.AsyncFor)):
        names |= _target_names(stmt.target)
    elif isinstance(stmt, (ast.With, ast.AsyncWith)):
        for item in stmt.items:
            names |= _target_names(item.optional_vars) if item.optional_vars is not None else set()
    elif isinstance(stmt, ast.Delete):
        for target in stmt.targets:
            names |= _target_names(target)
    elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
        names |= {a.asname or a.name.split(".")[0] for a in stmt.names if a.name != "*"}
    elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        names.add(stmt.name)
        names |= {n for g in ast.walk(stmt) if isinstance(g, ast.Global) for n in g.names}  # `global SMOKE`
    for handler in getattr(stmt, "handlers", None) or []:
        if getattr(handler, "name", None):
            names.add(handler.name)
    if not isinstance(stmt, _SCOPES):
        for child in ast.iter_child_nodes(stmt):
            if not isinstance(child, ast.stmt):
                names |= _walrus_names(child)
    return names


def parameter_bindings(source: str, names=None) -> list[tuple[str, str]]:
    """``(name, statement)`` for each statement of a cell's code that sets one of ``names`` (default: any name)
    in the global scope.

    Assignments, augmented assignments, ``for`` and ``with`` targets, imports, ``del``,
    ``:=``, definitions and ``global`` declarations count, at any depth outside functions
    and classes. Code that is not Python gives nothing.
    """
    tree = parse_python(source)
    if tree is None:
        return []
    found = []
    for stmt in _statements(tree.body):
        hit = sorted(_bound_by(stmt) if names is None else _bound_by(stmt) & set(names))
        if hit:
            text = ast.unparse(stmt)
            found.extend((name, text) for name in hit)
    return found


def chapter_parameters(spec: ChapterSpec) -> tuple[set[str], set[tuple[str, str]]]:
    """The chapter's parameter names (its parameters cell's, and SMOKE, DEVICE, SEED), and the statements of
    the released notebook after that cell that set one of them (``if SMOKE: STEPS = 20``): the chapter's own."""
    names = set(REQUIRED_PARAMETERS)
    own: set[tuple[str, str]] = set()
    if spec.parameters_index is None:
        return names, own
    names |= {n for n, _ in parameter_bindings(cell_source(spec.released_cells[spec.parameters_index]))}
    for cell in spec.released_cells[spec.parameters_index + 1:]:
        if cell.get("cell_type") == "code":
            own |= set(parameter_bindings(cell_source(cell), names))
    return names, own


def _find_overrides(analysis: Analysis, spec: ChapterSpec) -> None:
    names, own = chapter_parameters(spec)
    after = analysis.parameters_index if analysis.parameters_index is not None else -1
    for record in analysis.cells:
        if (record.cell_type != "code" or record.index <= after or record.index in analysis.dropped
                or record.index in analysis.restored or "injected-parameters" in record.tags):
            continue
        hit = sorted({n for n, stmt in parameter_bindings(record.source, names) if (n, stmt) not in own})
        if hit:
            analysis.overrides[record.index] = hit
    if analysis.overrides:
        where = "; ".join(f"{', '.join(hit)} in cell {index}" for index, hit in analysis.overrides.items())
        analysis.notes.append(
            f"parameters set again after the parameters cell: {where}. The grader kept its own values of the "
            "parameters it injects (SMOKE and DEVICE, and any the instructor added) in force, in these cells and "
            "after them, so your notebook ran as every graded notebook does: set parameters only in the "
            "parameters cell."
        )


def pin_parameters(nb) -> None:
    """Put the grader's parameters back in the cells that set them again; call after papermill.

    The values are those papermill injected (``nb.metadata.papermill.parameters``). In a cell
    that sets one of them, each assignment to it is followed on its line by the grader's value
    (``SMOKE = False; SMOKE = True``), so the rest of that cell runs with it too; the grader's
    cell after it (see :func:`executable_notebook`) puts them back whatever the cell did.
    """
    injected = ((nb.get("metadata") or {}).get("papermill") or {}).get("parameters") or {}
    for at, cell in enumerate(nb.cells):
        info = (cell.get("metadata") or {}).get(GRADER_KEY) or {}
        if info.get("role") != "pin":
            continue
        values = {n: _literal(injected[n]) for n in info.get("names", []) if n in injected}
        lines = [f"# [grader] cell {info.get('after')} set {', '.join(info.get('names', []))} again; "
                 + ("the grader's values are put back:" if values else "none of them is injected by the grader.")]
        lines += [f"{name} = {value}" for name, value in values.items()]
        cell.source = "\n".join(lines)
        if values and at > 0 and nb.cells[at - 1].get("cell_type") == "code":
            nb.cells[at - 1].source = _pinned_inline(cell_source(nb.cells[at - 1]), values)


def _pinned_inline(source: str, values: dict[str, str]) -> str:
    """``source`` with ``; NAME = value`` after each assignment to one of ``values``' names (same line numbers)."""
    tree = parse_python(source)
    if tree is None:
        return source
    spots = []
    for stmt in _statements(tree.body):
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and stmt.end_lineno is not None:
            names = sorted(_bound_by(stmt) & set(values))
            if names:
                spots.append((stmt.end_lineno, stmt.end_col_offset, names))
    lines = source.split("\n")
    for lineno, col, names in sorted(spots, reverse=True):
        raw = lines[lineno - 1].encode("utf-8")
        head, tail = raw[:col].decode("utf-8", "replace"), raw[col:].decode("utf-8", "replace")
        lines[lineno - 1] = head + "".join(f"; {n} = {values[n]}" for n in names) + tail
    return "\n".join(lines)


def _literal(value) -> str:
    try:
        from papermill.translators import PythonTranslator

        return PythonTranslator.translate(value)
    except Exception:  # noqa: BLE001 - papermill wrote these values itself; repr is its fallback too
        return repr(value)


def analyse(nb, spec: ChapterSpec) -> Analysis:
    """Match a submission (an nbformat notebook) against ``spec`` (see the module docstring)."""
    raw_cells = list(nb.get("cells", []) or []) if isinstance(nb, dict) else []
    cells = [_record(i, c) for i, c in enumerate(raw_cells)]
    chapter_ok, chapter_message = _recognise_chapter(spec, cells)
    analysis = Analysis(
        chapter_ok=chapter_ok,
        chapter_message=chapter_message,
        cells=cells,
        exercises={},
        protected=[],
        parameters_index=None,
        parameters_how="missing",
        dropped={},
        restored={},
    )
    if not chapter_ok:
        return analysis
    if not cells:
        analysis.notes.append("the notebook has no cells.")

    # --- protected cells (test and locked cells of the released notebook)
    claimed: set[int] = set()
    for protected in spec.protected:
        label = protected.grade_id or f"locked cell {protected.index}"
        released_meta = nbgrader_meta(spec.released_cells[protected.index])
        candidates = [c for c in cells if c.index not in claimed and c.cell_type == protected.cell_type]
        match: CellRecord | None = None
        how = ""
        by_id = [c for c in candidates if protected.grade_id and c.grade_id == protected.grade_id]
        if by_id:
            intact = [c for c in by_id if c.checksum in protected.checksums]
            match, how = (intact or by_id)[0], "grade_id"
            if len(by_id) > 1:
                analysis.notes.append(f"the protected cell {label} appears {len(by_id)} times.")
        if match is None:
            same = [c for c in candidates if c.checksum in protected.checksums | protected.solution_checksums]
            if same:
                match, how = same[0], "checksum"
        if match is None:
            scored = [(similarity(c.source, protected.source), c.index) for c in candidates if not c.grade_id]
            scored = [s for s in scored if s[0] >= _SIMILAR_PROTECTED]
            if scored:
                match, how = cells[max(scored)[1]], "similarity"
        kind = "test" if protected.kind == "test" else "locked"
        if match is None:
            status = ProtectedStatus(label, protected.kind, protected.exercise, "deleted", None,
                                     f"the {kind} cell {label} was deleted"
                                     + ("; the grader ran its own copy of the tests" if kind == "test" else ""))
            analysis.protected.append(status)
            analysis.tampering.append(status.detail)
            continue
        claimed.add(match.index)
        if match.checksum in protected.solution_checksums:
            status = ProtectedStatus(label, protected.kind, protected.exercise, "hidden-tests", match.index,
                                     f"the test cell {label} (cell {match.index}) holds the hidden tests: "
                                     "this notebook was made from the solution notebook")
            analysis.tampering.append(status.detail)
        elif match.checksum not in protected.checksums:
            status = ProtectedStatus(label, protected.kind, protected.exercise, "modified", match.index,
                                     f"the {kind} cell {label} (cell {match.index}) "
                                     "was edited (checksum mismatch)"
                                     + ("; the grader ignored the edit and ran its own copy of the tests"
                                        if protected.kind == "test" else "; the original was restored before running"))
            analysis.tampering.append(status.detail)
        elif how == "grade_id" and _describe_metadata_change(released_meta, match.meta):
            change = _describe_metadata_change(released_meta, match.meta)
            status = ProtectedStatus(label, protected.kind, protected.exercise, "metadata", match.index,
                                     f"the grading metadata of {label} (cell {match.index}) was changed ({change}); "
                                     "points come from the solution notebook, so it changes nothing")
            analysis.tampering.append(status.detail)
        else:
            status = ProtectedStatus(label, protected.kind, protected.exercise, "intact", match.index)
            if how != "grade_id":
                analysis.notes.append(f"the cell {label} (cell {match.index}) has lost its nbgrader metadata.")
        analysis.protected.append(status)
        if match.functions:
            # whatever its metadata says, a cell that defines functions or classes is the student's code
            analysis.notes.append(f"cell {match.index} matched {label} but defines {', '.join(match.functions)}; "
                                  "it was run as student code.")
        elif protected.kind == "test":
            analysis.dropped[match.index] = protected.exercise or label
        elif match.cell_type == "code":
            analysis.restored[match.index] = protected.index

    # --- exercise cells
    taken = set(analysis.dropped)
    for exercise in spec.exercises:
        found = _find_exercise(exercise, cells, taken)
        analysis.exercises[exercise.id] = found
        if found.index is None and exercise.solution_index is not None:
            analysis.notes.append(f"the exercise cell {exercise.id} was not found (deleted or renamed).")

    # --- the parameters cell
    code_cells = [c for c in cells if c.cell_type == "code"]
    tagged = [c.index for c in code_cells if "parameters" in c.tags]
    if tagged:
        analysis.parameters_index, analysis.parameters_how = tagged[0], "tag"
    else:
        same = [c.index for c in code_cells if spec.parameters_checksum and c.checksum == spec.parameters_checksum]
        defines = [c.index for c in code_cells if {"SMOKE", "DEVICE"} <= set(c.names)]
        if same:
            analysis.parameters_index, analysis.parameters_how = same[0], "content"
        elif defines:
            analysis.parameters_index, analysis.parameters_how = defines[0], "definitions"
        if analysis.parameters_index is None:
            analysis.notes.append("no parameters cell was found: the parameters were injected at the top.")
        else:
            analysis.notes.append(
                f"the parameters cell (cell {analysis.parameters_index}) had lost its 'parameters' tag; "
                "the grader re-tagged it."
            )
    _find_overrides(analysis, spec)
    return analysis


def executable_notebook(nb, analysis: Analysis, spec: ChapterSpec):
    """The notebook the grader executes (a new object; ``nb`` is untouched).

    Every cell carries ``metadata[GRADER_KEY]`` with its ``origin`` (index in the
    submission), its ``role`` ("student", "exercise", "test", "locked") and, for
    exercise cells and test placeholders, the ``exercise`` id. After each cell that
    sets parameters again comes a grader cell (``role`` "pin", no ``origin``) that
    :func:`pin_parameters` fills once papermill has injected the parameters.
    """
    import nbformat

    out = nbformat.v4.new_notebook()
    out.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    out.metadata["language_info"] = {"name": "python"}
    out.metadata["papermill"] = {}  # papermill.parameterize_notebook writes the parameters here
    exercise_at = {}
    for exercise_id, found in analysis.exercises.items():
        for index in found.copies or ([found.index] if found.index is not None else []):
            exercise_at[index] = exercise_id
    for record in analysis.cells:
        info = {"origin": record.index, "role": "student"}
        if "injected-parameters" in record.tags:
            continue  # papermill injects a fresh one
        if record.index in analysis.dropped:
            exercise_id = analysis.dropped[record.index]
            info.update(role="test", exercise=exercise_id)
            cell = nbformat.v4.new_markdown_cell(
                f"*[grader] The test cell of `{exercise_id}` is not run here: the grader runs its own copy "
                "of the tests in a separate process after the whole notebook has run.*"
            )
        elif record.cell_type == "code":
            source = record.source
            if record.index in analysis.restored:
                source = cell_source(spec.released_cells[analysis.restored[record.index]])
                info["role"] = "locked"
            cell = nbformat.v4.new_code_cell(source)
            if record.index in exercise_at:
                info.update(role="exercise", exercise=exercise_at[record.index])
            tags = [t for t in record.tags if t not in ("parameters", "injected-parameters")]
            if record.index == analysis.parameters_index:
                tags.append("parameters")
            cell.metadata["tags"] = tags
        elif record.cell_type == "markdown":
            cell = nbformat.v4.new_markdown_cell(record.source)
        else:
            cell = nbformat.v4.new_raw_cell(record.source)
        cell.metadata.setdefault("tags", [])  # papermill expects every cell to have a tags list
        cell.metadata[GRADER_KEY] = info
        out.cells.append(cell)
        if record.index in analysis.overrides:
            pin = nbformat.v4.new_code_cell(f"# [grader] the grader's parameters are put back here "
                                            f"(cell {record.index} set {', '.join(analysis.overrides[record.index])})")
            pin.metadata["tags"] = []
            pin.metadata[GRADER_KEY] = {"role": "pin", "after": record.index,
                                        "names": list(analysis.overrides[record.index])}
            out.cells.append(pin)
    return out
