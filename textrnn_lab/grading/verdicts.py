"""The verdict of one exercise, and what of the student's side it may quote.

Shared by the two sides of :mod:`.remote`:

* on the grader's side, :class:`GraderChecks` (``checks`` as the test code sees it),
  :func:`run_tests` (the self-check, then each hidden test, on the student's
  functions as proxies), :func:`forbidden_verdict` (status ``uses-reference``) and
  :func:`describe_exception` (what feedback quotes of an exception: only Python's
  own class names, and a message or a name only when it is text of the submission);
* on the student's side, :func:`install_tripwires`: the course's references and the
  built-ins an exercise forbids, replaced wherever a module holds them.
"""
from __future__ import annotations

import builtins
import importlib
import os
import sys
import traceback
import types
from dataclasses import replace

from ..runtime.text import first_line
from .wire import ProtocolFailure

# --------------------------------------------------------------------------- what may be quoted to the student

#: Names of the exception classes a message may name (Python's own); any other class is described, not named.
EXCEPTION_NAMES = frozenset(name for name, value in vars(builtins).items()
                            if isinstance(value, type) and issubclass(value, BaseException))
_NOT_QUOTED = "its message is not quoted: the grader quotes only text that appears in your notebook"


def _exception_name(exc: BaseException) -> str:
    from textrnn_lab.checks import RaisedByStudent

    if isinstance(exc, RaisedByStudent):
        name = exc.type_name
        return name if name in EXCEPTION_NAMES else "an exception of a class defined in your code"
    name = type(exc).__name__
    if name in EXCEPTION_NAMES and getattr(builtins, name, None) is type(exc):
        return name
    return "an exception of a class defined in your code"


def _safe_text(exc: BaseException) -> str:
    from textrnn_lab.checks import RaisedByStudent

    if isinstance(exc, RaisedByStudent):
        return first_line(exc.text)
    try:
        return first_line(exc)
    except BaseException:  # noqa: BLE001 - a __str__ of the student's that raises
        return ""


def describe_exception(exc: BaseException, quotable=frozenset()) -> str:
    """``"ValueError: I give up (line 2 in one_hot)"``: an exception of the student's code, for its feedback.

    The message and the function's name are quoted only when they are text of the
    submission itself (``quotable``: its string constants and names, see
    :func:`textrnn_lab.grading.spec.quotable_text`), so the student's code cannot
    make the feedback carry a host file or a hidden test. Only Python's own
    exception classes are named.
    """
    from textrnn_lab.checks import RaisedByStudent

    text = _safe_text(exc)
    shown = text if text and text in quotable else ""
    message = _exception_name(exc) + (f": {shown}" if shown else "")
    if isinstance(exc, RaisedByStudent):
        lineno, function = exc.lineno, exc.function
    else:
        frame = _student_frame(exc)
        lineno, function = (frame.lineno, frame.name) if frame is not None else (None, None)
    parts = []
    if isinstance(lineno, int) and 0 < lineno < 1_000_000:
        parts.append(f"line {lineno}" + (f" in {function}" if function in quotable else ""))
    if text and not shown:
        parts.append(_NOT_QUOTED)
    return message + (f" ({'; '.join(parts)})" if parts else "")


# --------------------------------------------------------------------------- what the student's code may not call


class ReferenceUnavailable(BaseException):
    """Raised where the student's code calls the course's reference answer while it is graded.

    A BaseException, so that the student's ``except Exception`` does not hide it.
    """


_STUDENT_DEPTH = [0]  # > 0 while a function of the student's runs (or its objects are unpickled)


def _resolve(dotted: str):
    """The object a dotted name (``"torch.nn.functional.one_hot"``) stands for, or None."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attribute in parts[cut:]:
                obj = getattr(obj, attribute)
        except AttributeError:
            return None
        return obj
    return None


def _tripwire(original, dotted: str, calls: list[str]):
    reference = dotted.startswith("textrnn_lab.")

    def tripwire(*args, **kwargs):
        if _STUDENT_DEPTH[0] > 0:
            if dotted not in calls:
                calls.append(dotted)
            if reference:
                raise ReferenceUnavailable(f"{dotted} is the course's own answer to this exercise: "
                                           "it cannot be called while the exercise is graded")
        return original(*args, **kwargs)

    tripwire.__name__ = getattr(original, "__name__", "tripwire")
    tripwire.__qualname__ = getattr(original, "__qualname__", tripwire.__name__)
    tripwire.__module__ = getattr(original, "__module__", None)
    tripwire.__doc__ = getattr(original, "__doc__", None)
    return tripwire


def install_tripwires(names) -> list[str]:
    """Replace each named callable, wherever a module holds it, by a tripwire; return the list of calls.

    While student code runs (:data:`_STUDENT_DEPTH`), a call of the course's reference
    (a ``textrnn_lab.`` name) is recorded and raises :class:`ReferenceUnavailable`; a
    call of a forbidden built-in (``torch.nn.utils.clip_grad_norm_``) is recorded and
    answered. The grader's own code (the checks bind their references at import, the
    hidden tests run outside student code) is not affected.
    """
    calls: list[str] = []
    targets: dict[int, tuple[object, str]] = {}
    for dotted in names:
        obj = _resolve(dotted)
        if obj is not None and callable(obj):
            targets.setdefault(id(obj), (obj, dotted))
    if not targets:
        return calls
    wires = {key: _tripwire(obj, dotted, calls) for key, (obj, dotted) in targets.items()}
    holders = [m for m in list(sys.modules.values()) if isinstance(m, types.ModuleType)]
    for _obj, dotted in targets.values():
        parent = _resolve(dotted.rsplit(".", 1)[0])
        if parent is not None:
            holders.append(parent)
    for holder in holders:
        try:
            space = vars(holder)
        except TypeError:
            continue
        for attribute, value in list(space.items()):
            key = id(value)
            if key in targets and targets[key][0] is value:
                try:
                    setattr(holder, attribute, wires[key])
                except (AttributeError, TypeError):
                    pass
    return calls


def forbidden_for(visible: str, checks_module) -> list[str]:
    """The forbidden names of the checks a test cell's visible part calls."""
    from .spec import check_calls

    names: list[str] = []
    for check_name in check_calls(visible):
        try:
            names.extend(n for n in checks_module.forbidden_calls(check_name) if n not in names)
        except Exception:  # noqa: BLE001 - an unknown check is reported when the test runs
            continue
    return names


def forbidden_verdict(result: dict, calls: list[str]) -> dict:
    """The result once the forbidden calls are known: a reference called, or a built-in in a passing
    answer, is status ``uses-reference`` (no points); a failing answer keeps its status with a note."""
    if not calls:
        return result
    shown = ", ".join(f"`{c}`" for c in calls)
    if result.get("status") == "passed" or any(c.startswith("textrnn_lab.") for c in calls):
        return {**result, "status": "uses-reference", "hint": None, "forbidden": list(calls),
                "message": f"your code calls {shown}, which this exercise asks you to write yourself, "
                           "so it earns no points"}
    message = (result.get("message") or "").rstrip(". ")
    return {**result, "forbidden": list(calls),
            "message": message + f"; your code also calls {shown}, which this exercise asks you to write yourself."}


class _NotPassed(Exception):
    """Raised by the grader's ``checks.check`` wrapper when a self-check does not pass."""

    def __init__(self, result):
        super().__init__(result.line)
        self.result = result


class GraderChecks:
    """Stands in for ``textrnn_lab.checks`` in the test code: ``check`` runs the real
    check quietly with the grader's seed and raises unless it passed."""

    def __init__(self, module, seed: int, quotable=frozenset()):
        self._module = module
        self._check = module.check  # bound before any student object is loaded
        self._seed = seed
        self._quotable = quotable
        self.results: list = []

    def check(self, name, obj, *args, **kwargs):
        kwargs.pop("quiet", None)
        kwargs.pop("strict", None)
        kwargs.setdefault("seed", self._seed)
        result = self._check(name, obj, *args, quiet=True, **kwargs)
        if result.status == "error" and result.error is not None:
            result = replace(result, message=describe_exception(result.error, self._quotable))
        self.results.append(result)
        if not result.passed:
            raise _NotPassed(result)
        return result

    def __getattr__(self, attribute):
        return getattr(self._module, attribute)


def _library_prefixes() -> tuple[str, ...]:
    import sysconfig

    prefixes = {os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        value = sysconfig.get_paths().get(key)
        if value:
            prefixes.add(os.path.realpath(value))
    return tuple(sorted(p.rstrip(os.sep) + os.sep for p in prefixes))


def _student_frame(exc: BaseException):
    """The deepest frame of student code in the traceback, or None."""
    library = _library_prefixes()
    frames = traceback.extract_tb(exc.__traceback__)
    student = [
        f for f in frames
        if not f.filename.startswith("<grader")
        and not os.path.realpath(f.filename).startswith(library)
        and "site-packages" not in f.filename
    ]
    return student[-1] if student else None


def _raised_by_the_test(exc: BaseException, filename: str) -> bool:
    """True when the innermost frame of ``exc`` is the grader's own code ``filename`` (an assert that failed)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and frames[-1].filename == filename


def run_tests(namespace, proxy, visible, hidden, base, quotable) -> dict:
    """The self-check, then each hidden test, in the grader's process; the student's functions in
    ``namespace`` are :class:`~.remote.RemoteFunction` proxies."""
    from textrnn_lab.checks import RaisedByStudent

    if visible.strip():
        try:
            exec(compile(visible, "<grader: self-check>", "exec"), namespace)  # noqa: S102
        except ProtocolFailure:
            raise
        except _NotPassed as failed:
            result = failed.result
            if not any(result is r for r in proxy.results):  # raised by the student's code, not by the wrapper
                return {**base, "message": "the self-check could not run: "
                                           f"{describe_exception(failed, quotable)}"}
            status = {"fail": "failed", "todo": "todo", "error": "error"}.get(result.status, "failed")
            return {**base, "status": status, "message": result.message,
                    "hint": result.hint if result.status == "fail" else None, "cases": result.cases}
        except RaisedByStudent as exc:
            if exc.todo:
                return {**base, "status": "todo",
                        "message": "not done yet: the exercise still raises NotImplementedError"}
            return {**base, "message": f"the self-check could not run: {describe_exception(exc, quotable)}"}
        except BaseException as exc:  # noqa: BLE001
            return {**base, "message": f"the self-check could not run: {describe_exception(exc, quotable)}"}
    cases = sum(r.cases for r in proxy.results)
    passed_checks = [r for r in proxy.results if r.passed]
    summary = passed_checks[-1].message if passed_checks else ""
    for number, statement in enumerate(hidden, start=1):
        filename = f"<grader: hidden test {number}>"
        try:
            exec(compile(statement, filename, "exec"), namespace)  # noqa: S102
        except ProtocolFailure:
            raise
        except RaisedByStudent as exc:
            if exc.todo:
                return {**base, "status": "todo", "cases": cases, "hidden_passed": number - 1,
                        "message": "not done yet: the exercise still raises NotImplementedError"}
            return {**base, "status": "error", "cases": cases, "hidden_passed": number - 1,
                    "message": f"hidden test {number} of {len(hidden)} raised {describe_exception(exc, quotable)}"}
        except AssertionError as exc:
            if not _raised_by_the_test(exc, filename):  # raised by the student's code, not by the assert
                return {**base, "status": "error", "cases": cases, "hidden_passed": number - 1,
                        "message": f"hidden test {number} of {len(hidden)} raised {describe_exception(exc, quotable)}"}
            detail = first_line(exc)
            return {**base, "status": "failed", "cases": cases, "hidden_passed": number - 1,
                    "message": f"hidden test {number} of {len(hidden)} failed" + (f": {detail}" if detail else "")
                    + (" (the self-check passed)" if summary else "")}
        except NotImplementedError:
            return {**base, "status": "todo", "cases": cases, "hidden_passed": number - 1,
                    "message": "not done yet: the exercise still raises NotImplementedError"}
        except _NotPassed as failed:
            result = failed.result
            if not any(result is r for r in proxy.results):
                return {**base, "status": "error", "cases": cases, "hidden_passed": number - 1,
                        "message": f"hidden test {number} of {len(hidden)} raised "
                                   f"{describe_exception(failed, quotable)}"}
            return {**base, "status": "failed", "cases": cases, "hidden_passed": number - 1,
                    "message": f"hidden test {number} of {len(hidden)} failed: "
                               f"{result.status.upper()} {result.message}"}
        except BaseException as exc:  # noqa: BLE001
            return {**base, "status": "error", "cases": cases, "hidden_passed": number - 1,
                    "message": f"hidden test {number} of {len(hidden)} raised {describe_exception(exc, quotable)}"}
    message = (summary or "the self-check passed").rstrip(". ")
    if hidden:
        message += f"; the {len(hidden)} hidden test(s) passed too"
    message += "."
    return {**base, "status": "passed", "message": message, "cases": cases, "hidden_passed": len(hidden)}
