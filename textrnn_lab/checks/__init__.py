"""Student self-checks: compare an exercise with the reference on random inputs.

In a notebook::

    from textrnn_lab import checks
    checks.check("00.one_hot", one_hot)

prints one line, ``PASS``, ``FAIL`` (with a hint), ``TODO`` (the exercise still
raises ``NotImplementedError``) or ``ERROR`` (the exception type, message and
the line of the student's code where it happened), and under IPython also
displays a bundle with MIME type ``application/vnd.textrnn-lab.check+json``
(``{"check", "status", "message", "cases"}``). It never raises for a wrong
answer unless ``strict=True`` (or use :func:`assert_passed`); graders use that.

Checks live in ``checks/chapterNN.py`` (one module per chapter, built with the
comparison helpers of :mod:`.compare`) and register themselves::

    @register("00.one_hot", hints={"shape": ("the idea", "the shape, in words"),
                                   "*": ("the idea", "the formula, in words")})
    def _one_hot(obj, rng, cases):   # rng: numpy.random.Generator
        ...                          # raise CheckFailed("...", kind="shape") on a mismatch

Hints come in stages: the first failure of a kind (``"type"``, ``"shape"``,
``"dtype"``, ``"values"``, or one a check names) shows the first stage (the
idea), the next failure of that kind the next stage (the shape or the formula),
and so on; a pass starts again from the first. A hint never holds the solution
code (``tests/checks/test_hints.py`` compares every hint with every solution).
In JupyterLab the verdict is one coloured HTML block with the hint on its own
line; its ``text/plain`` form is the one line terminals, nbval and logs see.

The module ``chapterNN`` is imported the first time a check of chapter NN is
asked for. Inputs are fresh random values on every call unless ``seed`` is given.
The registry is private module state and the reference implementations are
bound when the check modules are imported; a grader runs the checks in its own
fresh process, so nothing a notebook patches can change a grade.
"""
from __future__ import annotations

import html
import importlib
import linecache
import os
import pkgutil
import re
import sys
import sysconfig
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from ..errors import CourseError
from ..runtime.display import CHECK_MIME, display_bundle
from ..runtime.display import in_ipython as _in_ipython
from ..runtime.text import first_line

__all__ = [
    "CHECK_MIME", "CheckFailed", "CheckResult", "RaisedByStudent", "UnknownCheck",
    "assert_passed", "available_checks", "check", "forbidden_calls", "hint_stages", "register",
]

DEFAULT_CASES = 25
TODO_MESSAGE = "not done yet: replace `raise NotImplementedError()` with your code"
STATUSES = ("pass", "fail", "todo", "error")

_NAME = re.compile(r"^(\d{2})\.([A-Za-z_][A-Za-z0-9_]*)$")


class CheckFailed(Exception):
    """Raised by a check function at the first input where the student's answer differs.

    ``kind`` says what differed (``"type"``, ``"shape"``, ``"dtype"``, ``"values"`` or a
    name of the check's own) and picks the hints shown for it.
    """

    def __init__(self, message: str = "", kind: str | None = None):
        super().__init__(message)
        self.kind = kind


class UnknownCheck(CourseError, KeyError):
    """No check with this name; the hint lists the checks that exist."""


class RaisedByStudent(Exception):
    """The student's code raised, in another process: what it said, as plain data.

    A grader that runs the student's functions elsewhere raises this where the call
    was made, so the check reports an error (or TODO) as if it had happened here.
    ``type_name``, ``text`` and ``function`` come from the student's side: a grader
    decides what of them it quotes.
    """

    def __init__(self, type_name: str, text: str = "", lineno: int | None = None, function: str | None = None,
                 todo: bool = False):
        super().__init__(text)
        self.type_name, self.text, self.lineno, self.function, self.todo = type_name, text, lineno, function, todo


ANY_KIND = "*"


@dataclass(frozen=True)
class _Check:
    name: str
    func: Callable
    hints: Mapping[str, tuple[str, ...]]  # kind of failure -> stages; ANY_KIND for every other kind
    cases: int
    forbidden: tuple[str, ...] = ()

    def stages(self, kind: str | None) -> tuple[str, ...]:
        if kind is not None and kind in self.hints:
            return self.hints[kind]
        return self.hints.get(ANY_KIND, ())


# The registry: private module state, filled by the chapterNN modules on import.
_REGISTRY: dict[str, _Check] = {}
# How many times in a row each (check, kind of failure) has failed in this process: picks the hint's stage.
_FAILURES: dict[tuple[str, str], int] = {}


def _stage_tuple(value, where: str) -> tuple[str, ...]:
    stages = (value,) if isinstance(value, str) else tuple(value)
    if not stages or not all(isinstance(s, str) and s.strip() for s in stages):
        raise ValueError(f"{where}: hints are non-empty strings, one per stage")
    return stages


def _normalise_hints(hint: str | None, hints) -> dict[str, tuple[str, ...]]:
    if hint is not None and hints is not None:
        raise ValueError("give hint= (one stage) or hints= (stages), not both")
    if hints is None:
        return {} if hint is None else {ANY_KIND: _stage_tuple(hint, "hint")}
    if isinstance(hints, Mapping):
        return {str(kind): _stage_tuple(stages, f"hints[{kind!r}]") for kind, stages in hints.items()}
    return {ANY_KIND: _stage_tuple(hints, "hints")}


def register(
    name: str,
    *,
    hint: str | None = None,
    hints: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    cases: int = DEFAULT_CASES,
    forbidden: tuple[str, ...] = (),
):
    """Decorator for a check function ``func(obj, rng, cases)``; it may return a pass message.

    ``hints``: the stages of the hint (the idea first, then the shape or the formula, in
    words; never the solution code), or a mapping from the kind of failure
    (:class:`CheckFailed`'s ``kind``) to its stages, ``"*"`` for every other kind.
    ``hint``: a single stage for every failure.
    ``forbidden``: dotted names of what the exercise asks the student to write instead
    of calling (the course's reference, ``"torch.nn.functional.one_hot"``); a grader
    makes them unreachable or records their calls (see :func:`forbidden_calls`).
    """
    if not _NAME.match(name):
        raise ValueError(f"check names look like '00.one_hot', not {name!r}")
    staged = _normalise_hints(hint, hints)

    def decorate(func: Callable) -> Callable:
        _REGISTRY[name] = _Check(name=name, func=func, hints=staged, cases=int(cases), forbidden=tuple(forbidden))
        return func

    return decorate


def hint_stages(name: str) -> dict[str, tuple[str, ...]]:
    """Every hint a check can show, by kind of failure (for tests that no hint gives the answer away)."""
    return dict(_lookup(name).hints)


def forbidden_calls(name: str) -> tuple[str, ...]:
    """The dotted names the exercise checked by ``name`` must not call (its reference, a built-in that does it)."""
    return _lookup(name).forbidden


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one :func:`check`."""

    name: str
    status: str  # "pass", "fail", "todo" or "error"
    message: str
    hint: str | None = None  # the stage of the hint this failure shows
    cases: int = 0
    hint_stage: int = 0  # 1-based stage of ``hint`` among ``hint_stages`` (0: no hint)
    hint_stages: int = 0
    shown: bool = field(default=False, compare=False, repr=False)
    error: BaseException | None = field(default=None, compare=False, repr=False)  # what the student's code raised

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    @property
    def line(self) -> str:
        """The one line printed for the student."""
        text = f"{self.status.upper()} {self.name}: {self.message}"
        if self.status == "fail" and self.hint:
            text += f" | {self._hint_label()}: {self.hint}"
        return text

    def _hint_label(self) -> str:
        if self.hint_stages > 1:
            return f"hint {self.hint_stage} of {self.hint_stages}"
        return "hint"

    @property
    def html(self) -> str:
        """The verdict for JupyterLab: a coloured status, the message, and the hint on its own line."""
        colour, background = _COLOURS.get(self.status, _COLOURS["error"])
        parts = [
            f'<div class="textrnn-lab-check textrnn-lab-check-{self.status}" style="margin:2px 0;padding:4px 8px;'
            f'border-left:4px solid {colour};background:{background};text-align:left;white-space:normal;'
            f'word-break:normal;overflow-wrap:break-word;font-family:var(--jp-ui-font-family, sans-serif)">',
            f'<b style="color:{colour}">{self.status.upper()}</b> <code>{html.escape(self.name)}</code>: '
            f"{html.escape(self.message)}",
        ]
        if self.status == "fail" and self.hint:
            more = ""
            if 0 < self.hint_stage < self.hint_stages:
                more = " <i>(a further hint appears if the check fails again)</i>"
            parts.append(f'<div style="margin-top:2px"><b>{html.escape(self._hint_label().capitalize())}:</b> '
                         f"{html.escape(self.hint)}{more}</div>")
        parts.append("</div>")
        return "".join(parts)

    def to_dict(self) -> dict:
        """The display payload (see CONTRIBUTING.md, 'Self-check output')."""
        return {"check": self.name, "status": self.status, "message": self.message, "cases": self.cases}

    def __str__(self) -> str:
        return self.line

    def _ipython_display_(self) -> None:
        # `checks.check(...)` as the last line of a cell: the line is already printed,
        # so IPython must not add the result's repr (the student sees one line).
        if not self.shown:
            _show(self)


# --------------------------------------------------------------------------- registry


def _chapter_modules() -> list[str]:
    here = str(Path(__file__).resolve().parent)
    return sorted(
        m.name[len("chapter"):] for m in pkgutil.iter_modules([here])
        if re.fullmatch(r"chapter\d{2}", m.name)
    )


def _load_chapter(chapter: str) -> bool:
    """Import (or re-import) ``chapterNN``; False if there is no such module."""
    module_name = f"{__name__}.chapter{chapter}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return False
        raise
    if not any(key.startswith(chapter + ".") for key in _REGISTRY):
        # this package was reloaded after the chapter module: register again
        importlib.reload(module)
    return True


def available_checks(chapter: str | None = None) -> list[str]:
    """Names of the registered checks, of one chapter ("00") or of all."""
    chapters = [chapter] if chapter is not None else _chapter_modules()
    for number in chapters:
        _load_chapter(number)
    return sorted(n for n in _REGISTRY if chapter is None or n.startswith(chapter + "."))


def _lookup(name: str) -> _Check:
    match = _NAME.match(name) if isinstance(name, str) else None
    if match is None:
        raise UnknownCheck(
            f"{name!r} is not a check name.",
            hint="check names look like '00.one_hot' (chapter number, a dot, the exercise).",
        )
    chapter = match.group(1)
    if name not in _REGISTRY:
        _load_chapter(chapter)
    if name in _REGISTRY:
        return _REGISTRY[name]
    known = sorted(n for n in _REGISTRY if n.startswith(chapter + "."))
    if known:
        hint = f"chapter {chapter} has: {', '.join(known)}"
    else:
        with_checks = ", ".join(_chapter_modules()) or "none"
        hint = f"there are no checks for chapter {chapter}; chapters with checks: {with_checks}"
    raise UnknownCheck(f"unknown check {name!r}.", hint=hint)


# --------------------------------------------------------------------------- locating the student's code


def _library_dirs() -> tuple[str, ...]:
    dirs = {str(Path(__file__).resolve().parent.parent)}  # the textrnn_lab package
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        value = sysconfig.get_paths().get(key)
        if value:
            dirs.add(str(Path(value).resolve()))
    for entry in sys.path:
        if entry and ("site-packages" in entry or "dist-packages" in entry):
            dirs.add(str(Path(entry).resolve()))
    return tuple(sorted(d.rstrip(os.sep) + os.sep for d in dirs))


def _is_library(filename: str, library: tuple[str, ...]) -> bool:
    if not filename or filename.startswith("<frozen") or filename.startswith("<string"):
        return True
    try:
        resolved = str(Path(filename).resolve())
    except (OSError, ValueError):
        resolved = filename
    return resolved.startswith(library) or "site-packages" in resolved or "dist-packages" in resolved


def _is_notebook_cell(filename: str) -> bool:
    return filename.startswith("<ipython-input") or "ipykernel_" in filename


def _student_frame(exc: BaseException):
    """The deepest traceback frame outside textrnn_lab, the standard library and installed packages."""
    library = _library_dirs()
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _is_library(f.filename, library)]
    return frames[-1] if frames else None


def _where(frame) -> str:
    code = (frame.line or linecache.getline(frame.filename, frame.lineno) or "").strip()
    if len(code) > 80:
        code = code[:77] + "..."
    place = f"line {frame.lineno}"
    if frame.name and frame.name != "<module>":
        place += f" in {frame.name}"
    if not _is_notebook_cell(frame.filename):
        place += f" of {os.path.basename(frame.filename)}"
    return place + (f": `{code}`" if code else "")


_CHECKS_DIR = str(Path(__file__).resolve().parent) + os.sep


def _raised_by_a_check(exc: BaseException) -> bool:
    """A CheckFailed raised by the checks themselves, not by the student's code (which can import it too)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and str(Path(frames[-1].filename).resolve()).startswith(_CHECKS_DIR)


def _is_todo(exc: BaseException) -> bool:
    if isinstance(exc, RaisedByStudent):
        return exc.todo
    if not isinstance(exc, NotImplementedError):
        return False
    if not str(exc):
        return True  # the released stub: `raise NotImplementedError()`
    frame = _student_frame(exc)
    line = (frame.line or "").strip() if frame is not None else ""
    return line.startswith("raise") and "NotImplementedError" in line


def _error_message(exc: BaseException) -> str:
    if isinstance(exc, RaisedByStudent):
        where = f" (at line {exc.lineno}" + (f" in {exc.function}" if exc.function else "") + ")" if exc.lineno else ""
        return f"{exc.type_name}: {first_line(exc.text)}".rstrip(": ") + where
    message = f"{type(exc).__name__}: {first_line(exc)}".rstrip(": ")
    frame = _student_frame(exc)
    if frame is not None:
        message += f" (at {_where(frame)})"
    return message


# --------------------------------------------------------------------------- running


_COLOURS = {  # status -> (text and border colour, background)
    "pass": ("#1a7f37", "rgba(26, 127, 55, 0.08)"),
    "fail": ("#cf222e", "rgba(207, 34, 46, 0.08)"),
    "todo": ("#9a6700", "rgba(154, 103, 0, 0.10)"),
    "error": ("#8250df", "rgba(130, 80, 223, 0.08)"),
}


def _payload(result: CheckResult) -> dict:
    """The display bundle for ``result``: the machine-readable result, the HTML verdict and its one-line text form."""
    return {CHECK_MIME: result.to_dict(), "text/html": result.html, "text/plain": result.line}


def _show(result: CheckResult) -> None:
    # In a notebook one display output carries both forms (JupyterLab shows the HTML, nbval and
    # logs the text); elsewhere the line is printed.
    if _in_ipython():
        display_bundle(_payload(result))
    else:
        print(result.line, flush=True)


def _failed(spec: _Check, message: str, kind: str | None, cases: int) -> CheckResult:
    """A fail result with the next stage of the hint for this kind of failure."""
    stages = spec.stages(kind)
    key = (spec.name, kind or ANY_KIND)
    count = _FAILURES.get(key, 0)
    _FAILURES[key] = count + 1
    if not stages:
        return CheckResult(spec.name, "fail", message, None, cases)
    stage = min(count, len(stages) - 1)
    return CheckResult(spec.name, "fail", message, stages[stage], cases, hint_stage=stage + 1,
                       hint_stages=len(stages))


def _run(spec: _Check, obj, cases: int, seed) -> CheckResult:
    rng = np.random.default_rng(seed)
    try:
        message = spec.func(obj, rng, cases)
    except Exception as exc:  # the student's code raised: never a traceback wall
        if isinstance(exc, CheckFailed) and _raised_by_a_check(exc):
            message = first_line(exc, 500) or "the answer differs from the reference."
            return _failed(spec, message, getattr(exc, "kind", None), cases)
        if _is_todo(exc):
            return CheckResult(spec.name, "todo", TODO_MESSAGE, None, cases, error=exc)
        return CheckResult(spec.name, "error", _error_message(exc), None, cases, error=exc)
    for key in [k for k in _FAILURES if k[0] == spec.name]:
        del _FAILURES[key]  # passed: the next failure starts from the first stage again
    if not isinstance(message, str) or not message:
        message = f"{cases} random cases agree with the reference."
    return CheckResult(spec.name, "pass", message, None, cases)


def check(
    name: str,
    obj,
    *,
    cases: int | None = None,
    seed: int | None = None,
    strict: bool = False,
    quiet: bool = False,
) -> CheckResult:
    """Run the self-check ``name`` ("00.one_hot") on the student's ``obj``.

    ``cases``: how many random inputs (default: the check's own, usually 25);
    ``seed``: fixes the inputs (default: fresh ones every call). Prints one line
    (unless ``quiet``) and, under IPython, displays the machine-readable result.
    With ``strict=True`` a result other than pass raises ``AssertionError``; so does
    every check under ``nbgrader autograde`` (which sets ``NBGRADER_EXECUTION``), where
    a test cell earns its points only if it raises nothing.
    An unknown ``name`` raises :class:`UnknownCheck` listing the known checks.
    """
    strict = strict or os.environ.get("NBGRADER_EXECUTION") == "autograde"
    spec = _lookup(name)
    count = spec.cases if cases is None else cases
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise CourseError(f"cases must be a positive integer, not {cases!r}.")
    result = _run(spec, obj, int(count), seed)
    if not quiet:
        _show(result)
        result = replace(result, shown=True)
    if strict:
        assert_passed(result)
    return result


def assert_passed(result: CheckResult) -> CheckResult:
    """Raise ``AssertionError`` with the result's line unless it passed (for graders and tests)."""
    if not result.passed:
        raise AssertionError(result.line)
    return result
