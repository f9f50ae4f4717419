"""One submission from start to finish, in a worker process.

:func:`grade_submission` takes a job (a JSON-able dict made by :mod:`.grader`)
and returns a :class:`~.results.SubmissionResult`; it never raises. The steps:

1. read the file (size cap, clear errors: empty, not JSON, not a notebook);
2. match it against the chapter (:mod:`.matching`): wrong chapter, tampering, the
   notebook to execute;
3. inject the parameters with papermill (``SMOKE=True, DEVICE="cpu"`` unless the
   instructor says otherwise) and run it cell by cell in a sandboxed kernel, in a
   fresh temporary folder that holds only a copy of the submission
   (:mod:`.execution`), while the test process starts in parallel;
4. test each exercise in the test process (:mod:`.checker`);
5. write the executed notebook (with the grader's verdicts in it) and the
   student's feedback (:mod:`.feedback`).

``python -m textrnn_lab.grading.worker`` serves jobs: one JSON line in on stdin,
one JSON line out (on a private copy of stdout, so nothing else can write there).
"""
from __future__ import annotations

import hashlib
import json
import os
import queue
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from ..runtime.files import atomic_write
from .results import ExerciseResult, SubmissionResult
from .sandbox import Isolation, Limits, SubmissionCgroup, kill_group, launcher_prefix, prepare_folders

MAX_SUBMISSION_BYTES = 64 * 1024 * 1024
MAX_OBJECT_BYTES = 512 * 1024 * 1024

_SPECS: dict = {}


def _spec(path: str):
    from .spec import load_spec

    key = (path, os.stat(path).st_mtime_ns)
    if key not in _SPECS:
        _SPECS.clear()
        _SPECS[key] = load_spec(Path(path))
    return _SPECS[key]


def exercise_seed(student: str, exercise: str) -> int:
    """The seed of a student's random check inputs: fixed per student and exercise (regrading gives the same)."""
    return int.from_bytes(hashlib.sha256(f"{student}\0{exercise}".encode()).digest()[:4], "big") & 0x7FFFFFFF


# --------------------------------------------------------------------------- the test process


class CheckerClient:
    """The worker's end of a :mod:`.checker` process (started early, used once per exercise)."""

    def __init__(self, chapter: str, limits: Limits, isolation: Isolation, threads: int):
        from .execution import kernel_environment

        self.chapter = chapter
        # the grader's folder (the log) around the process's own working folder, which it cannot leave
        self.root = Path(tempfile.mkdtemp(prefix="textrnn-check-"))
        self.folder = prepare_folders(self.root, isolation)
        self.log_path = self.root / ".checker.log"
        log = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        command = launcher_prefix(limits, isolation) + [sys.executable, "-m", "textrnn_lab.grading.checker", chapter]
        try:
            self.process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=self.folder,
                env=kernel_environment(self.folder, threads), start_new_session=True,
            )
        finally:
            os.close(log)
        self.lines: queue.Queue = queue.Queue()
        self.ready = False
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _next(self, timeout: float):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            return "timeout"
        if line is None:
            return None
        try:
            return json.loads(line)
        except ValueError:
            return {}

    def log_tail(self) -> str:
        from .execution import read_regular_file

        try:
            lines = read_regular_file(self.log_path, 1 << 20).decode("utf-8", "replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1][:300] if lines else ""

    def run(self, job: dict, blobs: dict[str, bytes], timeout: float) -> dict:
        """Send one exercise and wait for its result (``{"status": "lost"}`` when the process is gone)."""
        if not self.ready:
            first = self._next(120)
            if not isinstance(first, dict) or not first.get("ready"):
                return {"status": "lost", "message": "the grader's test process did not start"
                        + (f" ({self.log_tail()})" if self.log_tail() else "")}
            self.ready = True
        from .remote import run_remote

        return run_remote(self, job, blobs, timeout)  # the tests run here; the student's calls in the process

    def close(self) -> None:
        """Stop the test process at once (it holds nothing worth waiting for) and remove its folder."""
        kill_group(self.process.pid)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


# --------------------------------------------------------------------------- the submission's limits

CHECKER_MB = 1024  # the test process's share of the submission's memory, on top of the kernel's
MAX_TASKS = 256  # processes and threads of a submission, besides 4 per thread of computation


def _disk_usage(folder: Path, cap: int = 100_000) -> int:
    """Bytes used under ``folder`` (links not followed); a folder of more than ``cap`` entries counts as full."""
    used = entries = 0
    for top, dirs, files in os.walk(folder):
        for name in dirs + files:
            entries += 1
            try:
                used += os.lstat(os.path.join(top, name)).st_blocks * 512
            except OSError:
                pass
        if entries > cap:
            return 1 << 62
    return used


class DiskWatch:
    """Watches what a submission leaves in its working folder while its notebook runs; past ``disk_mb`` its
    kernel is killed and the folder emptied (the notebook is run again without the cell that wrote it)."""

    def __init__(self, folder: Path, disk_mb: int | None, group: SubmissionCgroup):
        self.folder, self.limit, self.group = Path(folder), (disk_mb or 0) << 20, group
        self.hits = 0
        self._stop = threading.Event()
        if self.limit:
            threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            if _disk_usage(self.folder) <= self.limit:
                continue
            self.hits += 1
            if not self.group.kill("kernel"):
                self._kill_by_folder()
            for entry in os.scandir(self.folder):
                if entry.name.startswith((".grader-export-", ".kernel-ipc")) or entry.name.endswith(".ipynb"):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    try:
                        os.unlink(entry.path)
                    except OSError:
                        pass

    def _kill_by_folder(self) -> None:
        """Without cgroups: kill the processes that stand in the working folder."""
        import signal

        for pid in os.listdir("/proc"):
            try:
                if pid.isdigit() and os.readlink(f"/proc/{pid}/cwd") == str(self.folder):
                    os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass

    def stop(self) -> None:
        self._stop.set()


def limit_notes(report, limits: Limits, group: SubmissionCgroup, watch: DiskWatch | None) -> list[str]:
    """Every limit the submission ran into, in words, for the grade book and the feedback."""
    notes = list(group.hits())
    if watch is not None and watch.hits:
        notes.append(f"your notebook wrote more than {limits.disk_mb} MB in its working folder: its kernel was "
                     "stopped and the files removed")
    errors = " ".join(c.error for c in report.cells.values() if c.error)
    if "[Errno 27]" in errors or "File too large" in errors:
        notes.append(f"a file your notebook wrote reached the size limit of {limits.file_mb} MB")
    if "[Errno 28]" in errors:
        notes.append("your notebook filled the space it may use (its working folder or /tmp)")
    if "MemoryError" in errors:
        notes.append(f"a process of your notebook reached the memory limit of {limits.memory_mb} MB")
    if "[Errno 11]" in errors and not any("processes and threads" in n for n in notes):
        notes.append("your notebook could not start more processes or threads (a limit was reached)")
    return notes


# --------------------------------------------------------------------------- grading one submission


def _now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def _short(path: str, text: str) -> str:
    """An error message with the submission's full path replaced by its file name."""
    return text.replace(str(path), Path(path).name)


def _not_graded(spec, result: SubmissionResult, status: str, message: str) -> SubmissionResult:
    result.status = status
    result.message = message
    result.exercises = [
        ExerciseResult(e.id, e.title, 0, e.points, "not-graded", message) for e in spec.exercises
    ]
    return result


def _read_submission(path: Path):
    from ..course.cells import read_notebook
    from ..errors import NotebookError

    if path.is_symlink():
        # a link could point at the solutions or at another student's notebook: only real files are graded
        raise NotebookError(f"{path.name} is a symbolic link, not a notebook file.",
                            hint="copy the student's notebook itself into the submissions folder.")
    size = path.stat().st_size
    if size > MAX_SUBMISSION_BYTES:
        raise NotebookError(f"{path.name} is {size / 1e6:.0f} MB, more than a notebook should ever be "
                            f"({MAX_SUBMISSION_BYTES / 1e6:.0f} MB).")
    return read_notebook(path)


def _exercise_verdict(exercise, analysis, report, exercise_runs, checker_result) -> ExerciseResult:
    """Combine what happened in the kernel and in the test process into one exercise result."""
    from .results import ExerciseResult

    notes = analysis.exercise_notes(exercise.id)
    last = exercise_runs[-1] if exercise_runs else None
    if last is not None and last.status == "error":
        notes.append(f"when your notebook ran, this exercise's cell raised {last.error}")
    if last is not None and last.status == "timeout":
        notes.append(last.error)
    status = checker_result.get("status", "error")
    message, hint = checker_result.get("message", ""), checker_result.get("hint")
    if status == "lost":
        status = "crashed"
    points = exercise.points if status == "passed" else 0
    return ExerciseResult(exercise.id, exercise.title, points, exercise.points, status, message, hint, notes)


def _missing_verdict(exercise, analysis, report, exercise_runs, missing: list[str]) -> ExerciseResult:
    notes = analysis.exercise_notes(exercise.id)
    last = exercise_runs[-1] if exercise_runs else None
    names = ", ".join(f"`{n}`" for n in missing)
    entries = [report.exported.get(n, {}) for n in missing]
    if last is not None and last.status in ("crashed", "timeout", "skipped"):
        status = "timeout" if last.status == "timeout" else "crashed"
        message = f"your exercise cell could not run: {last.error}"
    elif last is not None and last.status == "not-run":
        status, message = "timeout", f"your exercise cell was never run: {last.error}"
    elif report.ended in ("crashed", "kernel-failed") or not report.exported:
        status = "crashed" if report.ended != "kernel-failed" else "error"
        why = report.message or "the kernel stopped before the end of the notebook"
        message = f"{names} could not be tested: {why}"
    elif any(e.get("status") == "error" for e in entries):
        errors = "; ".join(e.get("error", "") for e in entries if e.get("status") == "error")
        status, message = "error", f"the grader could not copy {names} out of your notebook to test it ({errors})"
    else:
        status = "missing"
        message = f"{names} is not defined after your notebook ran"
        found = analysis.exercises.get(exercise.id)
        if found is None or found.index is None:
            message += " (the exercise cell was not found: was it deleted or renamed?)"
        elif last is not None and last.status == "error":
            message += f" (your exercise cell raised {last.error})"
    return ExerciseResult(exercise.id, exercise.title, 0, exercise.points, status, message, None, notes)


def _annotate_executed(nb, result: SubmissionResult) -> None:
    """Put the grader's verdicts into the executed notebook: a summary on top, one note per test placeholder."""
    import nbformat

    from .matching import GRADER_KEY
    from .results import format_points

    by_id = {e.exercise: e for e in result.exercises}
    for cell in nb.cells:
        info = cell.get("metadata", {}).get(GRADER_KEY, {}) or {}
        if info.get("role") == "test" and info.get("exercise") in by_id:
            e = by_id[info["exercise"]]
            cell.source = (f"**[grader] {e.title} (`{e.exercise}`): {e.status}, "
                           f"{format_points(e.points)} / {format_points(e.max_points)} points.** {e.message}")
    lines = [f"**[grader] {result.student}: {format_points(result.points)} / {format_points(result.max_points)} "
             f"points ({result.status}).** Graded {result.graded_at}."]
    for note in result.tampering + result.notes:
        lines.append(f"* {note}")
    header = nbformat.v4.new_markdown_cell("\n".join(lines))
    header.metadata[GRADER_KEY] = {"role": "summary"}
    nb.cells.insert(0, header)


def _write_notebook(nb, path: Path) -> None:
    import nbformat

    try:
        text = nbformat.writes(nb, version=4)
    except Exception:  # noqa: BLE001 - odd student metadata must not lose the executed notebook
        text = json.dumps(nb, indent=1, default=str)
    atomic_write(path, text.encode("utf-8"))


def grade_submission(job: dict) -> SubmissionResult:
    """Grade one submission (see the module docstring); never raises."""
    started = time.monotonic()
    result = SubmissionResult(student=job["student"], chapter="", source=job.get("source") or "", status="graded",
                              graded_at=_now())
    try:
        spec = _spec(job["chapter"])
        result.chapter = spec.number
        _grade(job, spec, result)
    except Exception as exc:  # noqa: BLE001 - a grader bug is recorded, never fatal to the run
        traceback.print_exc()
        result.status = "error"
        result.message = f"the grader failed on this submission: {type(exc).__name__}: {exc}"
        if not result.exercises and result.chapter:
            _not_graded(_spec(job["chapter"]), result, "error", result.message)
    result.timings["total_s"] = round(time.monotonic() - started, 3)
    try:
        from .feedback import write_feedback

        _stop_if_orphaned()  # a grade nobody will record gets no feedback file
        title = _spec(job["chapter"]).title if result.chapter else None
        result.feedback = [str(p) for p in write_feedback(result, Path(job["out"]), job["slug"], title)]
    except Exception as exc:  # noqa: BLE001
        traceback.print_exc()
        result.notes.append(f"the feedback file could not be written: {exc}")
    return result


def precheck(job: dict, spec, result: SubmissionResult):
    """The checks that need no kernel: a missing, unreadable or wrong-chapter notebook ends here.

    Returns the notebook and its analysis when it is to be executed, or None when
    ``result`` is already final.
    """
    from ..errors import CourseError
    from .matching import analyse

    if not job.get("source"):
        _not_graded(spec, result, "missing", job.get("problem") or "no notebook for this chapter was found")
        return None
    source = Path(job["source"])
    try:
        nb = _read_submission(source)
    except CourseError as exc:
        _not_graded(spec, result, "invalid", _short(str(source), exc.message))
        return None
    except (OSError, RecursionError, MemoryError, ValueError) as exc:
        _not_graded(spec, result, "invalid", f"{source.name} cannot be read: {getattr(exc, 'strerror', None) or exc}")
        return None
    analysis = analyse(nb, spec)
    if not analysis.chapter_ok:
        _not_graded(spec, result, "wrong-chapter", analysis.chapter_message)
        return None
    return nb, analysis


def _grade(job: dict, spec, result: SubmissionResult) -> None:
    from papermill.parameterize import parameterize_notebook

    from .execution import cell_roles, read_regular_file, run_notebook
    from .matching import executable_notebook
    from .spec import quotable_text

    timings = result.timings
    t0 = time.monotonic()
    checked = precheck(job, spec, result)
    if checked is None:
        return
    nb, analysis = checked
    source = Path(job["source"])
    grading_nb = executable_notebook(nb, analysis, spec)
    grading_nb = parameterize_notebook(grading_nb, dict(job.get("parameters") or {}), kernel_name="python3",
                                       language="python")
    timings["prepare_s"] = round(time.monotonic() - t0, 3)

    limits = Limits(**job.get("limits", {}))
    isolation = Isolation(bool(job.get("isolate")), tuple(job.get("hide", ())))
    threads = int(job.get("threads", 1))
    # the submission as a whole (kernels, test process, whatever they start): memory and tasks, where cgroups work
    group = SubmissionCgroup(limits.memory_mb and limits.memory_mb + CHECKER_MB, MAX_TASKS + 4 * threads)
    kernel_limits = replace(limits, cgroups=group.part("kernel"))
    limits = replace(limits, cgroups=group.part("checker"))
    root = Path(tempfile.mkdtemp(prefix="textrnn-grade-"))  # the grader's: the kernel's connection file and log
    checker = watch = None
    try:
        workdir = prepare_folders(root, isolation)  # the kernel's own, the one folder it may write
        shutil.copyfile(source, workdir / (job["slug"] + ".ipynb"))
        checker = CheckerClient(spec.number, limits, isolation, threads)
        names = sorted({n for e in spec.exercises for n in e.objects})
        watch = DiskWatch(workdir, limits.disk_mb, group)
        report = run_notebook(
            grading_nb, workdir, names, private=root, limits=kernel_limits, isolation=isolation,
            cell_timeout=float(job["cell_timeout"]), notebook_timeout=float(job["timeout"]), threads=threads,
        )
        watch.stop()
        timings.update(kernel_start_s=round(report.kernel_start_s, 3), cells_s=round(report.cells_s, 3),
                       export_s=round(report.export_s, 3), stop_s=round(report.stop_s, 3), attempts=report.attempts)
        roles = cell_roles(grading_nb)

        t_tests = time.monotonic()
        forged = False
        lost: list[str] = []
        quotable = quotable_text(cell.source for cell in grading_nb.cells if cell.get("cell_type") == "code")
        for exercise in spec.exercises:
            indices = [i for i, info in roles.items()
                       if info.get("role") == "exercise" and info.get("exercise") == exercise.id]
            runs = [report.cells[i] for i in indices if i in report.cells]
            missing = [n for n in exercise.objects if report.exported.get(n, {}).get("status") != "ok"]
            if missing:
                result.exercises.append(_missing_verdict(exercise, analysis, report, runs, missing))
                continue
            blobs, unreadable = {}, None
            for name in exercise.objects:
                try:
                    blobs[name] = read_regular_file(report.export_dir / f"{name}.pkl", MAX_OBJECT_BYTES,
                                                    under=workdir)
                except OSError as exc:
                    unreadable = f"the grader could not read your `{name}` ({exc})"
                    break
            if unreadable:
                result.exercises.append(ExerciseResult(exercise.id, exercise.title, 0, exercise.points, "error",
                                                       unreadable, None, analysis.exercise_notes(exercise.id)))
                continue
            if checker is None or checker.process.poll() is not None:
                if checker is not None:
                    checker.close()
                checker = CheckerClient(spec.number, limits, isolation, threads)
            checker_job = {
                "exercise": exercise.id,
                "nonce": secrets.token_hex(16),
                "imports": exercise.imports,
                "visible": exercise.visible,
                "hidden": exercise.hidden,
                "objects": exercise.objects,
                "seed": exercise_seed(result.student, exercise.id),
                "timeout": float(job["test_timeout"]),
                "quotable": quotable,  # what feedback may quote of the student's side: the submission's own text
            }
            answer = checker.run(checker_job, blobs, float(job["test_timeout"]))
            if answer.get("forged"):
                forged = True
            if answer.get("status") == "lost":
                lost.append(f"{exercise.id}: {answer.get('message')}")
                print(f"{job['slug']}: test process lost on {exercise.id} (exit status {checker.process.poll()}); "
                      f"its log ends: {checker.log_tail()}", file=sys.stderr)  # for the instructor: the worker's log
                checker.close()
                checker = None
            result.exercises.append(_exercise_verdict(exercise, analysis, report, runs, answer))
        timings["tests_s"] = round(time.monotonic() - t_tests, 3)

        # what the instructor should know about the run
        result.tampering = list(analysis.tampering)
        if forged:
            result.tampering.append("a test process received more than one result: something other than the grader "
                                    "wrote to its result channel")
        result.tampering.extend(lost)  # the test process does not die by itself: something killed it
        result.notes.extend(analysis.notes)
        exercise_cells = {i for i, info in roles.items() if info.get("role") == "exercise"}
        raised: list[str] = []

        def where(index: int) -> str:
            origin = roles.get(index, {}).get("origin")
            return f"cell {origin}" if origin is not None else f"the injected cell {index}"

        for run in sorted(report.cells.values(), key=lambda r: r.index):
            if run.status == "timeout" and run.error.startswith("the notebook ran past"):
                result.notes.append(f"the notebook ran past its time limit of {float(job['timeout']):.0f} s in "
                                    f"{where(run.index)}; the cells after it were not run")
            elif run.index in exercise_cells:
                continue  # reported with the exercise
            elif run.status in ("crashed", "timeout"):
                result.notes.append(f"{where(run.index)}: {run.error}")
            elif run.status == "error":
                raised.append(f"{where(run.index)} ({run.error})")
        if raised:
            shown = "; ".join(raised[:5]) + (f"; and {len(raised) - 5} more" if len(raised) > 5 else "")
            result.notes.append(f"cells that raised an error when the notebook ran: {shown}")
        if report.message:
            result.notes.append(report.message)
        for index in report.truncated:
            origin = roles.get(index, {}).get("origin")
            where_printed = origin if origin is not None else index
            result.notes.append(f"cell {where_printed} printed too much; its output was truncated")
        if report.attempts > 1:
            result.notes.append(f"the notebook was run {report.attempts} times, "
                                "skipping the cells that killed or hung the kernel")
        result.notes.extend(limit_notes(report, limits, group, watch))
        if result.tampering:
            result.status = "review"

        t_write = time.monotonic()
        executed_path = Path(job["out"]) / "executed" / f"{job['slug']}.ipynb"
        _annotate_executed(grading_nb, result)
        _stop_if_orphaned()
        _write_notebook(grading_nb, executed_path)
        result.executed = str(executed_path)
        timings["write_s"] = round(time.monotonic() - t_write, 3)
    finally:
        t_clean = time.monotonic()
        if watch is not None:
            watch.stop()
        if checker is not None:
            checker.close()
        group.close()
        shutil.rmtree(root, ignore_errors=True)
        timings["cleanup_s"] = round(time.monotonic() - t_clean, 3)


# --------------------------------------------------------------------------- the worker process


def _terminate(signum, frame):  # pragma: no cover - signal handler
    raise SystemExit(128 + signum)  # unwinds the finally blocks: kernel, test process and folders cleaned up


_PARENT: int | None = None  # the grader that started this worker


def _orphaned() -> bool:
    """Whether the grader that started this worker is gone (killed): then nothing it asked for may be written."""
    return _PARENT is not None and os.getppid() != _PARENT


def _stop_if_orphaned() -> None:
    if _orphaned():
        raise SystemExit("the grader is gone")


def _watch_parent(parent: int) -> None:
    """Stop the worker (SIGTERM: kernel, test process and folders cleaned up) as soon as its grader dies."""
    import signal

    while os.getppid() == parent:
        time.sleep(0.25)
    os.kill(os.getpid(), signal.SIGTERM)


def main() -> int:
    import signal

    global _PARENT
    signal.signal(signal.SIGTERM, _terminate)
    _PARENT = os.getppid()
    threading.Thread(target=_watch_parent, args=(_PARENT,), daemon=True).start()
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray prints (libraries, children) go to stderr, never into the protocol
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            job = json.loads(line)
            result = grade_submission(job)
            _stop_if_orphaned()
            channel.write(json.dumps({"id": job.get("id"), "result": result.to_dict()}, default=str) + "\n")
    finally:
        home = os.environ.get("TMPDIR", "")
        if _orphaned() and Path(home).name.startswith("textrnn-worker-"):
            shutil.rmtree(home, ignore_errors=True)  # the grader that would have removed it is gone
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a process
    sys.exit(main())
