"""What a chapter asks for, read from its solution notebook.

A :class:`ChapterSpec` is everything the grader needs to know about a chapter,
taken from ``solutions/NN_*.ipynb`` (the one source of truth) and its released
student version:

* the exercises: a solution cell (nbgrader ``solution: true``, ``grade_id: G``)
  and its test cell (``grade: true``, ``grade_id: G_test``, ``points: N``).
  Points come from the test cell's metadata, so changing them needs no code change;
* for each exercise, the grader's own test code: the visible self-check (what the
  student sees) and the hidden tests (between the ``HIDDEN TESTS`` markers), split
  into top-level statements so each one is reported on its own;
* the names a test needs: those bound by the notebook's own ``import`` lines are
  imported by the grader itself; the others (the student's functions) are taken
  from the student's kernel;
* the protected cells (test cells and ``locked: true`` cells) of the released
  notebook with a checksum of their source, to detect edits as nbgrader does.
"""
from __future__ import annotations

import ast
import builtins
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..course.cells import cell_source
from ..errors import NotebookError

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*\S)\s*$")
_GRADE_ID_CHAPTER = re.compile(r"^ch(\d{2})_")


# --------------------------------------------------------------------------- small helpers


def normalize_source(text: str) -> str:
    """Source text as compared by checksums: LF, no trailing spaces, no blank lines at either end."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip("\n")


def checksum(text: str, cell_type: str = "code") -> str:
    """sha256 of a cell's normalised source and type (what nbgrader's checksums guard)."""
    return hashlib.sha256(f"{cell_type}\n{normalize_source(text)}".encode("utf-8")).hexdigest()


def nbgrader_meta(cell) -> dict:
    """The cell's ``metadata.nbgrader`` dict (empty when missing or malformed)."""
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    meta = meta.get("nbgrader") if isinstance(meta, dict) else None
    return dict(meta) if isinstance(meta, dict) else {}


def without_magics(source: str) -> str:
    """IPython magics, shell escapes and cell magics blanked out (line numbers kept)."""
    lines = source.split("\n")
    if lines and lines[0].lstrip().startswith("%%"):
        return "\n" * (len(lines) - 1)
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)


def parse_python(source: str) -> ast.Module | None:
    """The AST of a cell's code, or None when it is not valid Python."""
    try:
        return ast.parse(without_magics(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def defined_names(source: str) -> tuple[list[str], list[str]]:
    """(functions and classes, all names) bound at the top level of a cell."""
    tree = parse_python(source)
    if tree is None:
        return [], []
    callables: list[str] = []
    names: list[str] = []

    def add_target(target):
        if isinstance(target, ast.Name):
            names.append(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                add_target(element)
        elif isinstance(target, ast.Starred):
            add_target(target.value)

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            callables.append(node.name)
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                add_target(target)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            add_target(node.target)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    names.append(alias.asname or alias.name.split(".")[0])
    return callables, names


def free_names(code: str) -> list[str]:
    """Names a piece of code reads without binding them itself (builtins excluded), in order of first use."""
    tree = parse_python(code)
    if tree is None:
        return []
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    seen: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            name = node.id
            if name not in bound and not hasattr(builtins, name) and name not in seen:
                seen.append(name)
    return seen


def top_level_imports(source: str) -> dict[str, str]:
    """``{bound name: one-name import statement}`` for the top-level imports of a cell."""
    tree = parse_python(source)
    found: dict[str, str] = {}
    if tree is None:
        return found
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                statement = ast.unparse(ast.Import(names=[alias]))
                found[alias.asname or alias.name.split(".")[0]] = statement
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            for alias in node.names:
                if alias.name == "*":
                    continue
                statement = ast.unparse(ast.ImportFrom(module=node.module, names=[alias], level=0))
                found[alias.asname or alias.name] = statement
    return found


def split_statements(code: str) -> list[str]:
    """The top-level statements of ``code`` as separate source strings (the whole text if it does not parse)."""
    tree = parse_python(code)
    if tree is None:
        return [code] if code.strip() else []
    lines = code.split("\n")
    statements = []
    for node in tree.body:
        start = node.lineno - 1
        if getattr(node, "decorator_list", None):
            start = min(d.lineno for d in node.decorator_list) - 1
        end = node.end_lineno or node.lineno
        statements.append("\n".join(lines[start:end]))
    return statements


def split_hidden(source: str) -> tuple[str, str]:
    """(visible part, hidden part) of a test cell: the hidden part is what lies between the markers."""
    from ..course.release import BEGIN_HIDDEN, END_HIDDEN

    visible: list[str] = []
    hidden: list[str] = []
    inside = False
    for line in source.split("\n"):
        stripped = line.strip()
        if stripped.startswith(BEGIN_HIDDEN):
            inside = True
            continue
        if stripped.startswith(END_HIDDEN):
            inside = False
            continue
        (hidden if inside else visible).append(line)
    return "\n".join(visible).strip("\n"), "\n".join(hidden).strip("\n")


def headings(cell) -> list[str]:
    """The markdown headings of a cell, in order (none for a code cell)."""
    if cell.get("cell_type") != "markdown":
        return []
    return [m.group(1) for m in map(_HEADING.match, cell_source(cell).split("\n")) if m]


def chapter_of_grade_id(grade_id: str) -> str | None:
    """``"ch03_gan_loss"`` -> ``"03"``."""
    match = _GRADE_ID_CHAPTER.match(grade_id or "")
    return match.group(1) if match else None


# --------------------------------------------------------------------------- the spec


@dataclass
class Exercise:
    """One graded exercise of a chapter."""

    id: str                     # "ch00_one_hot": the solution cell's grade_id
    test_id: str                # "ch00_one_hot_test"
    points: float
    title: str                  # "Exercise 1: one-hot vectors (2 points)"
    solution_index: int | None  # cell index in the solution (and released) notebook
    test_index: int
    functions: list[str]        # functions/classes the solution cell defines: the student's answer
    names: list[str]            # every name the solution cell binds
    stub: str                   # the released (student) source of the solution cell
    visible: str                # the visible part of the test cell (the self-check call)
    hidden: list[str]           # hidden tests, one top-level statement each
    imports: list[str]          # import statements the grader runs for the test's names
    objects: list[str]          # names the test takes from the student's kernel
    check_names: list[str] = field(default_factory=list)  # "00.one_hot", called by the visible part

    @property
    def max_points(self) -> float:
        return self.points


@dataclass
class ProtectedCell:
    """A cell the student must not edit: a test cell or a ``locked`` cell of the released notebook."""

    index: int          # in the released notebook
    kind: str           # "test" or "locked"
    grade_id: str | None
    cell_type: str
    source: str         # released source
    checksums: set[str]
    exercise: str | None = None  # the exercise a test cell belongs to
    solution_checksums: set[str] = field(default_factory=set)  # the solution's version (with hidden tests)


@dataclass
class ChapterSpec:
    """Everything the grader knows about a chapter (see the module docstring)."""

    number: str
    stem: str
    title: str
    solution_path: Path
    exercises: list[Exercise]
    protected: list[ProtectedCell]
    released_cells: list[dict]      # the released notebook's cells (as plain dicts)
    parameters_index: int | None     # the parameters cell in the released notebook
    parameters_checksum: str | None
    fingerprint: set[str]           # distinctive lines of the released notebook, to recognise it

    @property
    def max_points(self) -> float:
        return float(sum(e.points for e in self.exercises))

    def exercise(self, exercise_id: str) -> Exercise:
        for exercise in self.exercises:
            if exercise.id == exercise_id:
                return exercise
        raise KeyError(exercise_id)

    @property
    def grade_ids(self) -> set[str]:
        ids = {e.id for e in self.exercises} | {e.test_id for e in self.exercises}
        ids |= {p.grade_id for p in self.protected if p.grade_id}
        return ids


def fingerprint_lines(text: str) -> set[str]:
    """Distinctive lines of a notebook text: stripped, at least 12 characters, not markers or stubs."""
    lines = set()
    for line in text.split("\n"):
        stripped = line.strip()
        if len(stripped) < 12 or stripped.startswith("###") or "YOUR CODE HERE" in stripped:
            continue
        if stripped in ("raise NotImplementedError()",):
            continue
        lines.add(stripped)
    return lines


def _exercise_title(cells, index: int, fallback: str) -> str:
    for cell in reversed(cells[:index]):
        found = headings(cell)
        if found:
            return found[-1]
    return fallback


def quotable_text(sources) -> list[str]:
    """What feedback may quote of the student's side: the text of the submission itself.

    The first lines of the string constants and the names (functions, classes,
    variables, arguments) in the code cells' ``sources``. An exception's message
    or a function's name is quoted only when it is one of these, so it is text the
    student wrote, never a file or a test that the student's code read.
    """
    found: set[str] = set()
    for source in sources:
        tree = parse_python(source)
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                lines = node.value.strip().splitlines()
                if lines and len(lines[0].strip()) <= 300:
                    found.add(lines[0].strip())
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found.add(node.name)
            elif isinstance(node, ast.Name):
                found.add(node.id)
            elif isinstance(node, ast.arg):
                found.add(node.arg)
    found.discard("")
    return sorted(found)[:20_000]


def check_calls(code: str) -> list[str]:
    """Names of the self-checks a piece of code calls: ``checks.check("00.one_hot", ...)`` -> ["00.one_hot"]."""
    tree = parse_python(code)
    found: list[str] = []
    if tree is None:
        return found
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "check"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append(node.args[0].value)
    return found


def load_spec(chapter, solutions_dir=None) -> ChapterSpec:
    """The :class:`ChapterSpec` of ``chapter`` (a number such as ``"00"``, a name, a path or a Chapter).

    The solution must pass :func:`textrnn_lab.course.release.validate_solution`; a chapter
    without exercises cannot be graded (a :class:`NotebookError` says so).
    """
    from ..course.cells import find_parameters_cell, read_notebook
    from ..course.chapters import resolve_chapter
    from ..course.release import release_notebook, validate_solution

    chapter = resolve_chapter(chapter, solutions_dir)
    solution = read_notebook(chapter.solution)
    problems = validate_solution(solution, chapter.solution)
    if problems:
        raise NotebookError(
            f"the solution of chapter {chapter.number} cannot be used for grading:\n  - " + "\n  - ".join(problems),
            hint="fix solutions/ first (see CONTRIBUTING.md, 'Notebook conventions').",
        )
    released = release_notebook(solution, chapter.solution)
    sol_cells = solution.cells
    rel_cells = released.cells

    # What the student may have been given: the release computed now, and chapters/ if it differs.
    given_sources: list[list[str]] = [[cell_source(c) for c in rel_cells]]
    student_path = Path(chapter.student)
    if student_path.is_file():
        try:
            shipped = read_notebook(student_path)
            if len(shipped.cells) == len(rel_cells):
                given_sources.append([cell_source(c) for c in shipped.cells])
        except Exception:  # noqa: BLE001 - a broken chapters/ file only loses the second checksum
            pass

    imports: dict[str, str] = {}
    for cell in rel_cells:
        if cell.get("cell_type") == "code":
            for name, statement in top_level_imports(cell_source(cell)).items():
                imports.setdefault(name, statement)

    solution_cells: dict[str, int] = {}
    test_cells: list[tuple[int, str, float]] = []
    for index, cell in enumerate(sol_cells):
        meta = nbgrader_meta(cell)
        grade_id = meta.get("grade_id")
        if not isinstance(grade_id, str):
            continue
        if meta.get("solution") and not meta.get("grade"):
            solution_cells[grade_id] = index
        elif meta.get("grade") and not meta.get("solution") and cell.get("cell_type") == "code":
            test_cells.append((index, grade_id, float(meta.get("points") or 0)))

    exercises: list[Exercise] = []
    for test_index, test_id, points in test_cells:
        base = test_id[: -len("_test")] if test_id.endswith("_test") else test_id
        solution_index = solution_cells.get(base)
        exercise_id = base if solution_index is not None else test_id
        functions, names = ([], [])
        stub = ""
        if solution_index is not None:
            functions, names = defined_names(cell_source(sol_cells[solution_index]))
            stub = cell_source(rel_cells[solution_index])
        visible, hidden = split_hidden(cell_source(sol_cells[test_index]))
        needed = free_names(visible + "\n" + hidden)
        # a name the notebook binds by an import is imported by the grader itself;
        # anything else (the student's functions, the chapter's variables) comes from the kernel
        test_imports = [imports[n] for n in needed if n in imports]
        objects = [n for n in needed if n not in imports]
        points_int = int(points) if float(points).is_integer() else points
        exercises.append(
            Exercise(
                id=exercise_id,
                test_id=test_id,
                points=points_int,
                title=_exercise_title(sol_cells, solution_index if solution_index is not None else test_index,
                                      exercise_id),
                solution_index=solution_index,
                test_index=test_index,
                functions=functions,
                names=names,
                stub=stub,
                visible=visible,
                hidden=split_statements(hidden),
                imports=test_imports,
                objects=objects,
                check_names=check_calls(visible),
            )
        )
    if not exercises:
        raise NotebookError(f"chapter {chapter.number} has no graded exercise (no test cell with points).")

    by_test_index = {e.test_index: e.id for e in exercises}
    protected: list[ProtectedCell] = []
    for index, cell in enumerate(rel_cells):
        meta = nbgrader_meta(cell)
        if not (meta.get("grade") and not meta.get("solution")) and not meta.get("locked"):
            continue
        if meta.get("solution"):
            continue  # a solution cell is the student's to edit even if marked locked by mistake
        kind = "test" if meta.get("grade") else "locked"
        sums = {checksum(sources[index], cell.get("cell_type", "code")) for sources in given_sources}
        protected.append(
            ProtectedCell(
                index=index,
                kind=kind,
                grade_id=meta.get("grade_id") if isinstance(meta.get("grade_id"), str) else None,
                cell_type=cell.get("cell_type", "code"),
                source=cell_source(cell),
                checksums=sums,
                exercise=by_test_index.get(index),
                solution_checksums={checksum(cell_source(sol_cells[index]), cell.get("cell_type", "code"))} - sums,
            )
        )

    try:
        parameters_index = find_parameters_cell(released, chapter.student)
        parameters_checksum = checksum(cell_source(rel_cells[parameters_index]))
    except NotebookError:
        parameters_index, parameters_checksum = None, None

    text = "\n".join(cell_source(c) for c in rel_cells)
    return ChapterSpec(
        number=chapter.number,
        stem=chapter.stem,
        title=chapter.title,
        solution_path=Path(chapter.solution),
        exercises=exercises,
        protected=protected,
        released_cells=[dict(c) for c in rel_cells],
        parameters_index=parameters_index,
        parameters_checksum=parameters_checksum,
        fingerprint=fingerprint_lines(text),
    )
