"""The grader's test process: runs the chapter's tests on the student's definitions.

The student's kernel never sees a test. Once the student's notebook has run, the
objects the tests need (``one_hot``, ``perplexity``) are pickled out of the kernel
(:mod:`.execution`) and handed to this process, which is started fresh for each
submission through the sandbox launcher::

    python -m textrnn_lab.grading.checker CHAPTER

Before any student byte arrives it imports the trusted modules (torch, numpy,
``textrnn_lab.checks`` and the chapter's check module, whose reference
implementations are bound at import time) and keeps its own references to the
check functions. Then it reads one exercise at a time on stdin (a JSON header
line followed by the pickled objects), and for each one forks a child that:

* starts a new session in an empty temporary folder, with stdin, stdout and
  stderr on ``/dev/null`` and every other descriptor closed but its result pipe;
* runs the grader's import lines, then unpickles the student's objects (the only
  point where student code can start to run in this process);
* runs the visible self-check with ``checks`` bound to a grader wrapper (its own
  reference to the real ``check``, a fixed seed per student and exercise; a result
  other than PASS ends the exercise) and then each hidden test on its own;
* writes one JSON result, tagged with the exercise's nonce, on its pipe.

The parent enforces a time limit per exercise (kill the child's process group),
turns a child that dies (segfault, ``os._exit``, memory) into a status, refuses
anything but exactly one well-formed result, and answers one JSON line per
exercise on stdout. Exercises are sent one by one, so while exercise *k* runs,
the tests of the later exercises are not in this process yet.
"""
from __future__ import annotations

import builtins
import json
import os
import select
import signal
import sys
import tempfile
import time
import traceback

from ..runtime.text import first_line
from .sandbox import kill_group

STATUS_NAMES = {
    signal.SIGSEGV: "SIGSEGV, a segmentation fault",
    signal.SIGKILL: "SIGKILL, killed (often: out of memory)",
    signal.SIGABRT: "SIGABRT, aborted",
    signal.SIGBUS: "SIGBUS, a bus error",
    signal.SIGFPE: "SIGFPE, an arithmetic fault",
    signal.SIGXCPU: "SIGXCPU, the CPU time limit",
    signal.SIGXFSZ: "SIGXFSZ, the file size limit",
}
_RESULT_LIMIT = 64_000


class _NotPassed(Exception):
    """Raised by the grader's ``checks.check`` wrapper when a self-check does not pass."""

    def __init__(self, result):
        super().__init__(result.line)
        self.result = result


class GraderChecks:
    """Stands in for ``textrnn_lab.checks`` in the test code: ``check`` runs the real
    check quietly with the grader's seed and raises unless it passed."""

    def __init__(self, module, seed: int):
        self._module = module
        self._check = module.check  # bound before any student object is loaded
        self._seed = seed
        self.results: list = []

    def check(self, name, obj, *args, **kwargs):
        kwargs.pop("quiet", None)
        kwargs.pop("strict", None)
        kwargs.setdefault("seed", self._seed)
        result = self._check(name, obj, *args, quiet=True, **kwargs)
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


def _where(exc: BaseException) -> str:
    """' (line 3 in one_hot)' for the deepest frame of student code in the traceback."""
    library = _library_prefixes()
    frames = traceback.extract_tb(exc.__traceback__)
    student = [
        f for f in frames
        if not f.filename.startswith("<grader")
        and not os.path.realpath(f.filename).startswith(library)
        and "site-packages" not in f.filename
    ]
    if not student:
        return ""
    frame = student[-1]
    return f" (line {frame.lineno}" + (f" in {frame.name}" if frame.name not in ("<module>", "") else "") + ")"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {first_line(exc)}".rstrip(": ") + _where(exc)


def run_tests(job: dict, blobs: dict[str, bytes], checks_module) -> dict:
    """Run one exercise's tests (in the forked child). Returns the result dict."""
    import cloudpickle

    namespace: dict = {"__name__": "__textrnn_grader__", "__builtins__": builtins}
    for statement in job.get("imports", []):
        exec(compile(statement, "<grader: imports>", "exec"), namespace)  # noqa: S102 - the course's own imports
    proxy = GraderChecks(checks_module, int(job.get("seed", 0)))
    for name, value in list(namespace.items()):
        if value is checks_module:
            namespace[name] = proxy
    hidden = list(job.get("hidden", []))
    base = {"status": "error", "message": "", "hint": None, "cases": 0, "hidden_passed": 0, "hidden_total": len(hidden)}

    for name in job.get("objects", []):
        try:
            namespace[name] = cloudpickle.loads(blobs[name])
        except BaseException as exc:  # noqa: BLE001 - any failure to rebuild the object is reported
            return {**base, "message": f"the grader could not load your `{name}` in its test process: {_describe(exc)}"}

    visible = job.get("visible", "")
    if visible.strip():
        try:
            exec(compile(visible, "<grader: self-check>", "exec"), namespace)  # noqa: S102
        except _NotPassed as failed:
            result = failed.result
            status = {"fail": "failed", "todo": "todo", "error": "error"}.get(result.status, "failed")
            return {**base, "status": status, "message": result.message,
                    "hint": result.hint if result.status == "fail" else None, "cases": result.cases}
        except NotImplementedError:
            return {**base, "status": "todo", "message": "not done yet: the exercise still raises NotImplementedError"}
        except BaseException as exc:  # noqa: BLE001
            return {**base, "message": f"the self-check could not run: {_describe(exc)}"}
    cases = sum(r.cases for r in proxy.results)
    passed_checks = [r for r in proxy.results if r.passed]
    summary = passed_checks[-1].message if passed_checks else ""
    for number, statement in enumerate(hidden, start=1):
        try:
            exec(compile(statement, f"<grader: hidden test {number}>", "exec"), namespace)  # noqa: S102
        except AssertionError as exc:
            detail = first_line(exc)
            return {**base, "status": "failed", "cases": cases, "hidden_passed": number - 1,
                    "message": f"hidden test {number} of {len(hidden)} failed" + (f": {detail}" if detail else "")
                    + (" (the self-check passed)" if summary else "")}
        except NotImplementedError:
            return {**base, "status": "todo", "cases": cases, "hidden_passed": number - 1,
                    "message": "not done yet: the exercise still raises NotImplementedError"}
        except _NotPassed as failed:
            result = failed.result
            return {**base, "status": "failed", "cases": cases, "hidden_passed": number - 1,
                    "message": f"hidden test {number} of {len(hidden)} failed: "
                               f"{result.status.upper()} {result.message}"}
        except BaseException as exc:  # noqa: BLE001
            return {**base, "status": "error", "cases": cases, "hidden_passed": number - 1,
                    "message": f"hidden test {number} of {len(hidden)} raised {_describe(exc)}"}
    message = (summary or "the self-check passed").rstrip(". ")
    if hidden:
        message += f"; the {len(hidden)} hidden test(s) passed too"
    message += "."
    return {**base, "status": "passed", "message": message, "cases": cases, "hidden_passed": len(hidden)}


def _child(job: dict, blobs: dict[str, bytes], write_fd: int, checks_module) -> None:
    """The forked child: isolate, run, write one result, exit. Never returns."""
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.closerange(3, write_fd)
        os.closerange(write_fd + 1, 65536)
        os.chdir(tempfile.mkdtemp(prefix="textrnn-test-"))
        try:
            result = run_tests(job, blobs, checks_module)
        except BaseException as exc:  # noqa: BLE001
            result = {"status": "error", "message": f"the test process failed: {_describe(exc)}"}
        result["nonce"] = job.get("nonce")
        data = (json.dumps(result, default=str)[:_RESULT_LIMIT] + "\n").encode("utf-8")
        view = memoryview(data)
        while view:
            written = os.write(write_fd, view)
            view = view[written:]
    except BaseException:  # noqa: BLE001
        pass
    finally:
        os._exit(0)


def run_exercise(job: dict, blobs: dict[str, bytes], checks_module) -> dict:
    """Fork a child for one exercise and turn whatever happens to it into a result."""
    timeout = float(job.get("timeout", 60))
    read_fd, write_fd = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_fd)
        _child(job, blobs, write_fd, checks_module)
    os.close(write_fd)
    chunks: list[bytes] = []
    size = 0
    status = None
    timed_out = False
    eof = False
    deadline = started + timeout
    while True:
        if not eof:
            ready, _, _ = select.select([read_fd], [], [], 0.05)
            if ready:
                chunk = os.read(read_fd, 65536)
                if not chunk:
                    eof = True
                elif size < 2 * _RESULT_LIMIT:
                    chunks.append(chunk)
                    size += len(chunk)
        if status is None:
            done, code = os.waitpid(pid, os.WNOHANG)
            if done:
                status = code
        if status is not None and (eof or time.monotonic() > deadline):
            break
        if status is not None and not eof:
            # the child is gone; a grandchild may still hold the pipe: take what is there
            ready, _, _ = select.select([read_fd], [], [], 0.2)
            if not ready:
                break
            continue
        if time.monotonic() > deadline:
            timed_out = True
            kill_group(pid)
            _, status = os.waitpid(pid, 0)
            break
    kill_group(pid)  # anything the child left behind in its session
    os.close(read_fd)
    seconds = round(time.monotonic() - started, 3)
    base = {"seconds": seconds, "hint": None, "cases": 0}
    if timed_out:
        return {**base, "status": "timeout",
                "message": f"the tests did not finish within {timeout:.0f} s (an infinite loop, or far too slow)"}
    lines = [line for line in b"".join(chunks).decode("utf-8", "replace").splitlines() if line.strip()]
    results = []
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            value = None
        results.append(value)
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = STATUS_NAMES.get(number) or signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return {**base, "status": "crashed", "message": f"your code crashed the test process ({name})"}
    if len(results) != 1 or not isinstance(results[0], dict) or results[0].get("nonce") != job.get("nonce"):
        if not results:
            code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
            return {**base, "status": "crashed",
                    "message": f"your code ended the test process early (exit status {code})"}
        return {**base, "status": "error", "forged": True,
                "message": "the test process produced more than one result, or a malformed one: "
                           "something other than the grader wrote to its result channel"}
    result = dict(results[0])
    result.pop("nonce", None)
    result["seconds"] = seconds
    return result


def _clear_namespace() -> None:
    """In a PID namespace of its own (the checker is PID 1 there), kill every other process and reap it:
    nothing a test started, not even a process that left its session, survives into the next exercise."""
    if os.getpid() != 1:
        return
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != 1:
            try:
                os.kill(int(name), signal.SIGKILL)
            except OSError:
                pass
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.01)
            if not any(n.isdigit() and int(n) != 1 for n in os.listdir("/proc")):
                break


def _read_exactly(stream, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            raise EOFError("the job ended early")
        data += chunk
    return bytes(data)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    chapter = args[0] if args else None
    # the protocol channel is a private copy of stdout; anything printed by libraries goes to stderr
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    import numpy  # noqa: F401 - preloaded: trusted modules come before any student byte
    import torch  # noqa: F401

    from textrnn_lab import checks

    if chapter:
        checks.available_checks(chapter)
    channel.write(json.dumps({"ready": True}) + "\n")
    stdin = sys.stdin.buffer
    while True:
        header = stdin.readline()
        if not header:
            break
        try:
            job = json.loads(header)
        except ValueError:
            channel.write(json.dumps({"status": "error", "message": "the grader sent a malformed job"}) + "\n")
            break
        if job.get("done"):
            break
        blobs = {}
        for name, size in job.get("sizes", {}).items():
            blobs[name] = _read_exactly(stdin, int(size))
        result = run_exercise(job, blobs, checks)
        _clear_namespace()
        result["exercise"] = job.get("exercise")
        channel.write(json.dumps(result, default=str) + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a process
    sys.exit(main())
