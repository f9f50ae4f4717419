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

    @register("00.one_hot", hint="...")
    def _one_hot(obj, rng, cases):   # rng: numpy.random.Generator
        ...                          # raise CheckFailed("...") on a mismatch

The module ``chapterNN`` is imported the first time a check of chapter NN is
asked for. Inputs are fresh random values on every call unless ``seed`` is given.
The registry is private module state and the reference implementations are
bound when the check modules are imported; a grader runs the checks in its own
fresh process, so nothing a notebook patches can change a grade.
"""
from __future__ import annotations

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
from typing import Callable

import numpy as np

from ..errors import CourseError
from ..runtime.display import CHECK_MIME, display_bundle
from ..runtime.display import in_ipython as _in_ipython
from ..runtime.text import first_line

__all__ = [
    "CHECK_MIME", "CheckFailed", "CheckResult", "RaisedByStudent", "UnknownCheck",
    "assert_passed", "available_checks", "check", "forbidden_calls", "register",
]

DEFAULT_CASES = 25
TODO_MESSAGE = "not done yet: replace `raise NotImplementedError()` with your code"
STATUSES = ("pass", "fail", "todo", "error")

_NAME = re.compile(r"^(\d{2})\.([A-Za-z_][A-Za-z0-9_]*)$")


class CheckFailed(Exception):
    """Raised by a check function at the first input where the student's answer differs."""


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


@dataclass(frozen=True)
class _Check:
    name: str
    func: Callable
    hint: str | None
    cases: int
    forbidden: tuple[str, ...] = ()


# The registry: private module state, filled by the chapterNN modules on import.
_REGISTRY: dict[str, _Check] = {}


def register(name: str, *, hint: str | None = None, cases: int = DEFAULT_CASES, forbidden: tuple[str, ...] = ()):
    """Decorator for a check function ``func(obj, rng, cases)``; it may return a pass message.

    ``forbidden``: dotted names of what the exercise asks the student to write instead
    of calling (the course's reference, ``"torch.nn.functional.one_hot"``); a grader
    makes them unreachable or records their calls (see :func:`forbidden_calls`).
    """
    if not _NAME.match(name):
        raise ValueError(f"check names look like '00.one_hot', not {name!r}")

    def decorate(func: Callable) -> Callable:
        _REGISTRY[name] = _Check(name=name, func=func, hint=hint, cases=int(cases), forbidden=tuple(forbidden))
        return func

    return decorate


def forbidden_calls(name: str) -> tuple[str, ...]:
    """The dotted names the exercise checked by ``name`` must not call (its reference, a built-in that does it)."""
    return _lookup(name).forbidden


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one :func:`check`."""

    name: str
    status: str  # "pass", "fail", "todo" or "error"
    message: str
    hint: str | None = None
    cases: int = 0
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
            text += f" | hint: {self.hint}"
        return text

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


def _payload(result: CheckResult) -> dict:
    """The display bundle for ``result``: the machine-readable MIME type and an empty text fallback."""
    return {CHECK_MIME: result.to_dict(), "text/plain": ""}


def _show(result: CheckResult) -> None:
    print(result.line, flush=True)
    if _in_ipython():
        display_bundle(_payload(result))


def _run(spec: _Check, obj, cases: int, seed) -> CheckResult:
    rng = np.random.default_rng(seed)
    try:
        message = spec.func(obj, rng, cases)
    except Exception as exc:  # the student's code raised: never a traceback wall
        if isinstance(exc, CheckFailed) and _raised_by_a_check(exc):
            message = first_line(exc, 500) or "the answer differs from the reference."
            return CheckResult(spec.name, "fail", message, spec.hint, cases)
        if _is_todo(exc):
            return CheckResult(spec.name, "todo", TODO_MESSAGE, spec.hint, cases, error=exc)
        return CheckResult(spec.name, "error", _error_message(exc), spec.hint, cases, error=exc)
    if not isinstance(message, str) or not message:
        message = f"{cases} random cases agree with the reference."
    return CheckResult(spec.name, "pass", message, spec.hint, cases)


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
    With ``strict=True`` a result other than pass raises ``AssertionError``.
    An unknown ``name`` raises :class:`UnknownCheck` listing the known checks.
    """
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
