"""Grading a folder of submissions: :func:`grade` (``textrnn-lab grade``).

Given a chapter and submissions (notebooks, folders of notebooks, or folders of
students' folders), :func:`grade` grades each one in a worker process
(:mod:`.worker`), ``workers`` at a time, and writes under ``out``:

* ``gradebook.csv`` (:mod:`.gradebook`), rewritten atomically after each
  submission; a second run skips what is already graded unless ``force``;
* ``feedback/<student>.md`` and ``.html`` (:mod:`.feedback`);
* ``executed/<student>.ipynb``, the notebook as the grader ran it, with its verdicts.

A student's id comes from the path alone (the folder of ``bob/00_*.ipynb``, the
stem of a loose ``bob.ipynb``), in one spelling (:func:`.gradebook.student_id`)
used for the grade book's rows, for what a later run counts as graded and (made
file-safe, :func:`_slug`) for the feedback and executed files. Two paths that give
one id are never renamed apart: both are reported, in one ``clash`` row, and
neither is graded until one is renamed (see :func:`find_submissions`).

Every submission ends as a recorded grade with a status (see :mod:`.results`),
whatever it does: a broken file, another chapter, cells deleted or moved, a
kernel killed by ``os._exit`` or a segfault, an endless loop, a memory bomb, a
flood of output, edited test cells, faked outputs, patched checks.

Threat model
------------
Students hand in notebooks, i.e. code, and some will try to get points they did
not earn or to see what they should not. What the grader does about it:

*Notebook content is not trusted.* Outputs saved in the notebook are discarded
before anything runs, so faked PASS lines or forged check outputs count for
nothing. The student's copies of the test cells are not run at all; grades come
only from the grader's own copy of the tests, taken from ``solutions/``. Edited,
deleted or duplicated protected cells, changed grading metadata and a notebook
that holds the hidden tests are detected by checksum (as nbgrader does) and
reported in the grade book (status ``review``). Points always come from the
solution notebook, never from the submission's metadata. Parameters set again
after the parameters cell (``SMOKE = False``) are reported, and the values the
grader injected are put back after each such cell.

*The verdict is reached where no student code ever runs.* The student's cells
run in a kernel. The student's functions are then called in a separate test
process (:mod:`.checker`, in the sandbox, a forked child per exercise) on inputs
the grader chooses, and the tests themselves (the self-check's comparisons with
the references, and the hidden tests) run in the grading worker, a process in
which no student code runs and nothing from the student's side is unpickled
(:mod:`.remote`). Each call travels as plain data (:mod:`.wire`: JSON, a tensor
as its little-endian bytes with a dtype and shape, read with numpy and never
with pickle; a tensor subclass is read through a plain view, any other object
of the student's arrives as an opaque placeholder), and so does what the call
did to its arguments (a gradient scaled, a bias set, a random generator
advanced); a loss function among the arguments is called back in the worker.
So a tensor that says it equals anything, an object whose ``__reduce__`` runs
code, patches of ``torch``, ``math``, ``builtins`` or ``textrnn_lab.checks``
(in the notebook or at call time), reading the stack for the hidden tests or a
result channel: none of it reaches the process that decides, and nothing the
notebook prints is read as a result. The hidden tests are read from
``solutions/`` by the grader and never leave the worker: they are never written
anywhere, never sent to the kernel or to the test process, and never quoted in
the feedback (a failing hidden test is reported by its number).

*What an exercise asks the student to write, the student must write.* While the
student's functions run, the course's own answers (``lm.input_target_pairs``,
``lm.next_char_probs``, ``gradients.clipping.clip_grad_norm`` ...) are replaced
by tripwires that raise, and the built-ins an exercise forbids
(``F.one_hot``, ``torch.nn.utils.clip_grad_norm_``; ``forbidden=`` in the
checks) by tripwires that record the call: an answer that calls either gets
status ``uses-reference`` and no points, with a message that names the call.

*Feedback quotes nothing the student should not see.* A check's message names
the grader's inputs and describes what the student's code returned by type,
shape and numbers, never by a string it returned, an object's ``repr`` or a
class name it made up; an exception is named only when it is one of Python's
own classes, and its message (and the function's name) is quoted only when it
is text of the submission itself (:func:`.spec.quotable_text`), so a host file
or a test the student's code read cannot be quoted back. Submissions
that are symbolic links (a notebook linked to the solutions or to another
student's notebook, a student's folder linked to another's) are not graded.
The kernel's environment is an allow-list: tokens and other secrets in the
instructor's environment are not passed on.

*Each submission runs apart.* Its kernel starts in a new temporary folder that
holds only a copy of that submission; kernel and test process get an
allow-listed environment (no tokens), resource limits (address space, file size,
no core dumps; see :mod:`.sandbox`), per-cell and per-notebook wall-clock limits
(a kernel that does not answer an interrupt within 5 s is killed), a per-exercise
test time limit, a cap on the output kept, and they die with their worker, which
dies with the grader (a killed grader leaves no worker, no folder, no feedback
for a grade it never recorded). Where cgroups are writable (as root) the
submission as a whole, kernels, test process and every process they start, is
limited in memory (``memory_mb``, plus 1 GiB for the test process) and in
processes and threads; what it leaves in its working folder is limited too
(1 GiB: past that its kernel is killed); every limit reached is a note in the
grade book and the feedback. Where bubblewrap works (``isolation_available()``)
both run in its sandbox (:mod:`.sandbox`): as uid 65534, never root, without
any capability and with ``no_new_privs``, in their own mount, PID, network and
IPC namespaces, on a read-only root made of the system, the interpreter, the
packages and the course's data, so ``solutions/``, the repository's ``.git``,
the output folder (grade book, other students' feedback) and the submission
folders are not there at all, nothing can be planted for the next submission or
for the grader itself, and the mounts cannot be undone (not even from a user
namespace of the student's own). Each has a private ``/tmp`` holding only its
own working folder, in which its kernel's sockets and connection file are (no
other submission's kernel can be found or reached); other processes are
invisible; there is no network. The grader never opens by name a file the
student could have written without refusing links (``O_NOFOLLOW`` on every part
below a folder of the grader's); the kernel's log is opened once. After each
exercise the test process kills every process left in its namespace. A kernel
that dies or hangs cannot stop the others; a worker that dies is replaced, and
its submission is recorded with status ``error``.

*Limits, honestly.* The student's code is arbitrary code and, in the test
process, answers for itself: it can return any value it likes (hard-coded or
computed any way at all), so a grade says that the function behaved like the
reference on the grader's random inputs, nothing more. Delegation is recognised
by the identity of the callables: code copied from the course's package (its
source is readable, as it is on the student's own machine), a function rebuilt
in the kernel from a reference's code object, or a reference fished out of
memory in the test process is not; and since the record of forbidden calls is
kept in the student's process, code written to hide it can (it still cannot
get the course's answer from the names it was given). That is plagiarism, for a
person reading the code. What the feedback quotes still leaks a little: the
numbers a function returns (six significant digits, up to eight per tensor),
the line number of an exception, which of the submission's own strings it
carries, and pass or fail, so a determined student's code can smuggle a few
bytes per exercise of a file it can read into its own feedback. The grading
worker keeps these guarantees only while the student's processes cannot reach
it: that needs the isolation described here (or a separate machine per
submission).

*Where the sandbox stops.* Without bubblewrap (macOS, a machine where ``bwrap`` is not
installed, containers that forbid namespaces), the student's code runs with the
instructor's user rights: it can read and write any file the instructor can
(``solutions/`` and the grader's own code included), see and signal the
grader's other processes and the other students' kernels, reach their kernels
through their connection files, and use the network; the grader says so when it
starts. Grade untrusted work only where isolation is on (``--isolation on``
refuses to run without it). The sandbox does not stop a kernel exploit, and the
student may read what any user of the machine may read in ``/usr``, ``/etc``
and ``/sys``; there is no seccomp filter. Without writable cgroups (not root,
or a cgroup tree the grader may not change) only the per-process limits hold:
address space per process (coarse: forked processes each get their own), no
limit on processes, and the working folder is watched but its processes are
found by their working folder only. The private ``/tmp`` is a 512 MB tmpfs
counted in the submission's memory; filling it, or hitting the file-size limit,
is reported only when the error reaches the top of a cell.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import queue
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ..course.chapters import CHAPTER_FILE
from ..errors import CourseError
from .gradebook import CLASH, Gradebook, student_id
from .results import ExerciseResult, SubmissionResult
from .sandbox import kill_group

DEFAULT_PARAMETERS = {"SMOKE": True, "DEVICE": "cpu"}


@dataclass
class GradeOptions:
    """How to grade. ``timeout`` is the wall-clock limit for a whole notebook,
    ``cell_timeout`` for one cell (default: the notebook's), ``test_timeout`` for
    the tests of one exercise. ``parameters`` are injected with papermill over
    :data:`DEFAULT_PARAMETERS` (smoke mode on the CPU). ``isolation``: "auto" (use
    namespaces when they work), "on" (refuse to grade without them) or "off"."""

    workers: int = 1
    timeout: float = 900.0
    cell_timeout: float | None = None
    test_timeout: float = 60.0
    parameters: dict = field(default_factory=dict)
    force: bool = False
    memory_mb: int = 6144
    file_mb: int = 256
    isolation: str = "auto"
    threads: int | None = None

    def effective_parameters(self) -> dict:
        return {**DEFAULT_PARAMETERS, **(self.parameters or {})}


@dataclass
class Submission:
    """One submission to grade: the student's id, the notebook (None when missing) and a file-safe slug.

    ``verdict`` is set for the submissions the grader settles itself, without reading a notebook:
    :data:`~.gradebook.CLASH` (several paths give this id: ``sources`` names them all, ``problem``
    says so) and ``"invalid"`` (a symbolically linked student's folder). ``origin`` is the path it
    was found as (the notebook, or the student's folder) and ``name`` the name the id was made
    from, before :func:`~.gradebook.student_id` gave it its one spelling.
    """

    student: str
    path: Path | None
    slug: str = ""
    problem: str | None = None
    origin: Path | None = None
    verdict: str | None = None
    sources: list[str] = field(default_factory=list)
    name: str = ""


@dataclass
class GradeRun:
    """What :func:`grade` did."""

    out: Path
    gradebook: Path
    results: list[SubmissionResult]
    skipped: list[str]
    isolation: str
    seconds: float
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- finding the submissions


#: The id of a submission whose name is nothing but whitespace or invisible characters.
BLANK_ID = "(no name)"
_PLAIN_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
_HASHED_SLUG = re.compile(r".*-[0-9a-f]{8}")


def _slug(student: str) -> str:
    """A file name for ``student``'s feedback and executed notebook, a function of the id alone.

    A plain id (letters, digits, ``._-``) is its own slug; any other gets a readable part and
    ``-`` + 8 hex digits of the id's sha256, so two ids never share a slug (within a run or
    across runs), and a plain id cannot take the hashed slug of another.
    """
    if _PLAIN_SLUG.fullmatch(student) and not _HASHED_SLUG.fullmatch(student):
        return student
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", student).strip("._-")[:60] or "student"
    return f"{readable}-{hashlib.sha256(student.encode('utf-8')).hexdigest()[:8]}"


def _shown(path) -> str:
    """A path as it reads in a one-line message: when a name in it has odd whitespace (leading, trailing or
    doubled spaces, newlines, tabs) or invisible characters, quoted with those escaped (``"\\x20bob.ipynb"``,
    ``"bob\\nsmith.ipynb"``), so that names that differ only there stay distinct in the grade book."""
    text = str(path)
    out = []
    for i, ch in enumerate(text):
        if ch == " " and (i == 0 or i == len(text) - 1 or text[i - 1] in " /" or text[i + 1] in " /"):
            out.append("\\x20")
        elif ch != " " and (ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf")):
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    shown = "".join(out)
    return text if shown == text else f'"{shown}"'


def _notebooks_in(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir()
                      if p.suffix == ".ipynb" and not p.name.startswith(".") and not p.is_dir())
    except OSError:
        return []


def _pick_for_chapter(notebooks: list[Path], spec) -> Path | None:
    exact = [p for p in notebooks if p.name == f"{spec.stem}.ipynb"]
    if exact:
        return exact[0]
    numbered = [p for p in notebooks if p.name.startswith(f"{spec.number}_")]
    if numbered:
        return max(numbered, key=lambda p: p.stat().st_mtime)
    chapter_like = [p for p in notebooks if CHAPTER_FILE.match(p.name)]
    others = [p for p in notebooks if p not in chapter_like]
    if len(others) == 1 and not chapter_like:
        return others[0]
    return None


def find_submissions(
    paths: Iterable[str | os.PathLike], spec, exclude: Iterable[str | os.PathLike] = ()
) -> list[Submission]:
    """The submissions named by ``paths``, each with a unique student id.

    * a file: the student is its name without ``.ipynb``, or, for a chapter-named
      file (``alice/00_setup_and_tour.ipynb``), the folder it is in;
    * a folder: each notebook in it, and each sub-folder holding notebooks (a
      student's folder, whose notebook for this chapter is picked by name). A
      student's folder without one is recorded as ``missing``; a student's folder
      that is a symbolic link (``mallory -> carol``) is not graded, it is recorded
      as ``invalid``.

    Ids come from the path alone, in one spelling (:func:`~.gradebook.student_id`).
    The same notebook named twice is one submission. Different paths that give
    the same id (``bob.ipynb`` and ``bob/``, or ``bob.ipynb`` and ``bob .ipynb``)
    are never renamed: they become one submission with verdict
    :data:`~.gradebook.CLASH` that names them all, and none of them is graded.

    Folders in ``exclude`` (the output folder) are never taken for students' folders.
    """
    excluded = {Path(p).resolve() for p in exclude}
    found: list[Submission] = []

    def add(name: str, path: Path | None, origin: Path, problem: str | None = None,
            verdict: str | None = None) -> None:
        student = student_id(name) or BLANK_ID
        found.append(Submission(student, path, problem=problem, origin=origin, verdict=verdict, name=name))

    def student_folder(folder: Path, name: str, notebooks: list[Path]) -> None:
        if folder.is_symlink():
            try:
                target = os.readlink(folder)
            except OSError:
                target = "?"
            add(name, None, folder, verdict="invalid",
                problem=f"{_shown(folder)} is a symbolic link (to {_shown(target)}), not a student's own folder; "
                        "it was not graded (copy the student's own folder into the submissions)")
            return
        chosen = _pick_for_chapter(notebooks, spec)
        add(name, chosen, folder, problem=None if chosen else f"no notebook for chapter {spec.number} in {name}/")

    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise CourseError(f"there is no submission at {path}.", hint="give notebooks or folders of notebooks.")
        if path.is_file():
            name = Path(os.path.abspath(path)).parent.name if CHAPTER_FILE.match(path.name) else path.stem
            add(name, path, path)
            continue
        notebooks = _notebooks_in(path)
        chapter_named = [p for p in notebooks if CHAPTER_FILE.match(p.name)]
        if chapter_named and len(chapter_named) == len(notebooks):
            # the folder is one student's folder (named on the command line: a link there is the instructor's)
            chosen = _pick_for_chapter(notebooks, spec)
            name = Path(os.path.abspath(path)).name
            add(name, chosen, path, problem=None if chosen else f"no notebook for chapter {spec.number} in {name}/")
        else:
            for p in notebooks:
                if not CHAPTER_FILE.match(p.name):
                    add(p.stem, p, p)
            for p in chapter_named:
                add(p.stem, p, p)
        for sub in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if sub.resolve() in excluded:
                continue
            inner = _notebooks_in(sub)
            if inner:
                student_folder(sub, sub.name, inner)
    return _one_per_id(found)


def _identity(submission: Submission) -> tuple[str, str]:
    """What makes two finds the same submission: the id and the real notebook (or folder) behind it.

    A symbolic link is its own identity (never the file it points to), so a link is never merged with its target.
    """
    where = Path(submission.path or submission.origin or "")
    return submission.student, os.path.abspath(where) if where.is_symlink() else os.path.realpath(where)


def _one_per_id(found: list[Submission]) -> list[Submission]:
    """Duplicates (the same notebook named twice) dropped; several paths with one id made into one CLASH."""
    unique: dict[tuple[str, str], Submission] = {}
    for submission in found:
        unique.setdefault(_identity(submission), submission)
    by_id: dict[str, list[Submission]] = {}
    for submission in unique.values():
        by_id.setdefault(submission.student, []).append(submission)
    result: list[Submission] = []
    for student, group in by_id.items():
        if len(group) == 1:
            submission = group[0]
        else:
            shown = [_shown(s.path or s.origin) for s in group]
            spelled = (" once their names are compared in one spelling (whitespace trimmed and collapsed, "
                       "invisible characters dropped)" if len({s.name for s in group}) > 1 else "")
            submission = Submission(
                student, None, origin=group[0].origin, verdict=CLASH, sources=shown,
                problem=f"{len(group)} submissions have the student id {student!r}{spelled}: {', '.join(shown)}; "
                        "none of them was graded: give each its own file or folder name and grade again",
            )
        submission.slug = _slug(submission.student)
        result.append(submission)
    return result


# --------------------------------------------------------------------------- workers


class _Worker:
    """A ``python -m textrnn_lab.grading.worker`` process, replaced when it dies."""

    def __init__(self, number: int, log_dir: Path):
        self.number = number
        self.log_dir = log_dir
        self.process: subprocess.Popen | None = None
        self.buffer = b""
        self.home = Path(tempfile.mkdtemp(prefix="textrnn-worker-"))

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"worker-{self.number}.log", "ab")
        env = dict(os.environ)
        from ..runtime import paths

        env.setdefault("TEXTRNN_LAB_ROOT", str(paths.repo_root()))
        # the worker's temporary folders (kernel, test process) live in its home, which is
        # removed when the worker is closed: nothing is left behind, even after a SIGKILL
        env["TMPDIR"] = str(self.home)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "textrnn_lab.grading.worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=self.home, env=env,
            start_new_session=True,
        )
        log.close()
        self.buffer = b""

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def run(self, job: dict, backstop: float, stop: threading.Event) -> dict:
        """Send a job, wait for its answer; raises RuntimeError with the reason when none comes."""
        if not self.alive():
            self.start()
        assert self.process is not None
        try:
            self.process.stdin.write((json.dumps(job) + "\n").encode())
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            self.kill()
            raise RuntimeError("the grading worker could not be reached") from None
        deadline = time.monotonic() + backstop
        fd = self.process.stdout.fileno()
        while b"\n" not in self.buffer:
            if stop.is_set():
                self.kill(grace=10)
                raise RuntimeError("grading was interrupted")
            if time.monotonic() > deadline:
                self.kill(grace=5)
                raise RuntimeError(f"the grading worker did not finish within {backstop:.0f} s and was stopped")
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    code = self.process.wait()
                    self.process = None
                    raise RuntimeError(f"the grading worker died (exit status {code})")
                self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def kill(self, grace: float = 0.0) -> None:
        """Stop the worker: SIGTERM first (it cleans up its kernel and folders), SIGKILL after ``grace`` seconds."""
        if self.process is None:
            return
        if grace > 0 and self.process.poll() is None:
            try:
                self.process.terminate()
                self.process.wait(timeout=grace)
            except (OSError, subprocess.TimeoutExpired):
                pass
        kill_group(self.process.pid)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.process = None

    def close(self) -> None:
        import shutil

        if self.alive():
            try:
                self.process.stdin.close()
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()
        time.sleep(0.2)  # let the kernel and test process, killed with their worker, go
        shutil.rmtree(self.home, ignore_errors=True)


def _precheck(job: dict, spec, submission: Submission, out: Path) -> SubmissionResult | None:
    """The final result of a submission that needs no kernel, or None (then a worker grades it)."""
    from .feedback import write_feedback
    from .worker import _now, precheck

    t0 = time.monotonic()
    result = SubmissionResult(student=submission.student, chapter=spec.number, source=job.get("source") or "",
                              status="graded", graded_at=_now())
    try:
        if precheck(job, spec, result) is not None:
            return None
        result.feedback = [str(p) for p in write_feedback(result, out, submission.slug, spec.title)]
    except Exception:  # noqa: BLE001 - anything odd is left to a worker, which records it whatever happens
        return None
    result.timings["wall_s"] = round(time.monotonic() - t0, 3)
    return result


def _failed_result(spec, submission: Submission, message: str, status: str = "error",
                   exercise_message: str | None = None) -> SubmissionResult:
    from .worker import _now

    source = "; ".join(submission.sources) or str(submission.path or submission.origin or "")
    result = SubmissionResult(student=submission.student, chapter=spec.number,
                              source=source, status=status, message=message, graded_at=_now())
    result.exercises = [ExerciseResult(e.id, e.title, 0, e.points, "not-graded", exercise_message or message)
                        for e in spec.exercises]
    return result


def _settled(spec, submission: Submission, book: Gradebook, out: Path) -> SubmissionResult | None:
    """The result of a submission the grader settles itself (a clash, a linked folder), or None."""
    from .feedback import write_feedback

    if submission.verdict is None:
        return None
    message = submission.problem or ""
    if submission.verdict == CLASH:
        earlier = book.total(submission.student, spec.number)
        if earlier is not None and earlier["status"] != CLASH:
            message += (f"; an earlier run graded {submission.student!r} {earlier['points']}/{earlier['max_points']} "
                        f"({earlier['status']}): this row replaces that grade until the clash is resolved")
        # no feedback file: the id is shared by several students' work, so the file would be no one's
        return _failed_result(spec, submission, message, CLASH,
                              f"not graded: {len(submission.sources)} submissions have this student id")
    result = _failed_result(spec, submission, message, submission.verdict)
    try:
        result.feedback = [str(p) for p in write_feedback(result, out, submission.slug, spec.title)]
    except OSError as exc:
        result.notes.append(f"the feedback file could not be written: {exc}")
    return result


# --------------------------------------------------------------------------- the run


class _Lock:
    """An exclusive lock on the output folder, so two runs never interleave their writes."""

    def __init__(self, folder: Path):
        self.path = folder / ".grading.lock"
        self.handle = None

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "w")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.handle.close()
            raise CourseError(f"another `textrnn-lab grade` is writing to {self.path.parent}.",
                              hint="wait for it to finish, or choose another --out folder.") from None
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()
        return False


def _isolation(options: GradeOptions, spec, out: Path, submissions: list[Submission], sources: list[Path]):
    from ..runtime import paths
    from .sandbox import Isolation, hide_plan, isolation_available

    if options.isolation not in ("auto", "on", "off"):
        raise CourseError(f"isolation must be auto, on or off, not {options.isolation!r}.")
    if options.isolation == "off":
        return Isolation(False), "off (asked for): student code can read every file the grader can"
    works, reason = isolation_available()
    if not works:
        if options.isolation == "on":
            raise CourseError(f"isolation was required but is not available: {reason}.",
                              hint="install bubblewrap (`make setup` does, as root where apt-get works) on Linux, "
                                   "or pass --isolation off.")
        return Isolation(False), f"none ({reason}): student code can read every file the grader can"
    root = paths.repo_root()
    secret = [spec.solution_path.resolve().parent, root / ".git", out.resolve()]
    secret += [p.resolve() for p in sources]
    secret += [s.path.resolve().parent for s in submissions if s.path is not None]
    keep = None
    from .sandbox import _needed_paths

    keep = _needed_paths() + [Path(tempfile.gettempdir()).resolve(), root / "pyproject.toml"]
    described = f"namespaces ({reason}); solutions, output and submissions hidden"
    return Isolation(True, tuple(hide_plan(secret, keep))), described


def grade(
    chapter,
    submissions: Iterable[str | os.PathLike],
    out: str | os.PathLike,
    options: GradeOptions | None = None,
    log: Callable[[str], None] | None = None,
) -> GradeRun:
    """Grade ``submissions`` of ``chapter`` into ``out`` (see the module docstring)."""
    from .feedback import write_feedback
    from .spec import load_spec

    options = options or GradeOptions()
    log = log or (lambda line: None)
    started = time.monotonic()
    spec = load_spec(chapter)
    sources = [Path(p) for p in submissions]
    out = Path(out)
    found = find_submissions(sources, spec, exclude=[out, out / "executed", out / "feedback"])
    if options.workers < 1:
        raise CourseError(f"--workers must be at least 1, not {options.workers}.")
    cell_timeout = options.cell_timeout or options.timeout
    threads = options.threads or max(1, (os.cpu_count() or 1) // options.workers)

    with _Lock(out):
        book = Gradebook.load(out / "gradebook.csv")
        warnings = [book.warning] if book.warning else []
        for warning in warnings:
            log(f"warning: {warning}")
        for submission in found:
            if submission.verdict == CLASH:
                warnings.append(submission.problem)
                log(f"warning: {submission.problem}")
        # a clash is reported on every run (a grade recorded earlier under its id included) until it is resolved
        todo = [s for s in found
                if s.verdict == CLASH or options.force or not book.graded(s.student, spec.number)]
        skipped = [s.student for s in found if s not in todo]
        for student in skipped:
            log(f"  {student}: already graded (use --force to grade again)")
        isolation, description = _isolation(options, spec, out, found, sources)
        log(f"grading {len(todo)} submission(s) of chapter {spec.number} ({spec.stem}) with {options.workers} "
            f"worker(s); isolation: {description}")
        if not todo:
            book.save()
            return GradeRun(out, book.path, [], skipped, description, time.monotonic() - started, warnings)

        job_base = {
            "chapter": str(spec.solution_path),
            "out": str(out.resolve()),
            "parameters": options.effective_parameters(),
            "timeout": float(options.timeout),
            "cell_timeout": float(min(cell_timeout, options.timeout)),
            "test_timeout": float(options.test_timeout),
            "limits": {"memory_mb": options.memory_mb, "file_mb": options.file_mb},
            "isolate": isolation.enabled,
            "hide": list(isolation.hide),
            "threads": threads,
        }
        backstop = options.timeout + len(spec.exercises) * (options.test_timeout + 40) + 300

        def job_for(number: int, submission: Submission) -> dict:
            return dict(job_base, id=number, student=submission.student, slug=submission.slug,
                        source=str(submission.path.absolute()) if submission.path else None, problem=submission.problem)

        results: list[SubmissionResult] = []

        def record(result: SubmissionResult) -> None:
            results.append(result)
            book.put(result)
            book.save()
            log(f"  [{len(results)}/{len(todo)}] {result.student}: {result.summary()} "
                f"({result.timings.get('wall_s', 0):.1f} s)")

        # what needs no kernel (missing, unreadable, another chapter) is settled here, without a worker
        jobs: queue.Queue = queue.Queue()
        queued = 0
        for number, submission in enumerate(todo):
            early = _settled(spec, submission, book, out) or _precheck(job_for(number, submission), spec,
                                                                        submission, out)
            if early is not None:
                record(early)
            else:
                jobs.put((number, submission))
                queued += 1
        if not queued:
            return GradeRun(out, book.path, results, skipped, description, time.monotonic() - started, warnings)
        answers: queue.Queue = queue.Queue()
        stop = threading.Event()
        workers = [_Worker(n, out / ".logs") for n in range(min(options.workers, queued))]

        def serve(worker: _Worker) -> None:
            while not stop.is_set():
                try:
                    number, submission = jobs.get_nowait()
                except queue.Empty:
                    return
                job = job_for(number, submission)
                t0 = time.monotonic()
                try:
                    answer = worker.run(job, backstop, stop)
                    result = SubmissionResult.from_dict(answer["result"])
                except Exception as exc:  # noqa: BLE001 - recorded as this submission's grade
                    if stop.is_set():
                        return
                    result = _failed_result(spec, submission, f"{exc}; this submission was not graded")
                    try:
                        result.feedback = [str(p) for p in write_feedback(result, out, submission.slug, spec.title)]
                    except OSError:
                        pass
                result.timings["wall_s"] = round(time.monotonic() - t0, 3)
                answers.put(result)

        threads_ = [threading.Thread(target=serve, args=(w,), daemon=True) for w in workers]
        previous_handler = None
        if threading.current_thread() is threading.main_thread():
            previous_handler = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            for thread in threads_:
                thread.start()
            while len(results) < len(todo):
                try:
                    result = answers.get(timeout=0.5)
                except queue.Empty:
                    if not any(t.is_alive() for t in threads_) and answers.empty():
                        break
                    continue
                record(result)
        except KeyboardInterrupt:
            stop.set()
            for thread in threads_:
                thread.join(timeout=15)  # each worker is stopped by its own thread, cleanly if it can
            for worker in workers:
                worker.kill()
            raise
        finally:
            stop.set()
            for thread in threads_:
                thread.join(timeout=30)
            for worker in workers:
                worker.close()
            if previous_handler is not None:
                signal.signal(signal.SIGTERM, previous_handler)
        return GradeRun(out, book.path, results, skipped, description, time.monotonic() - started, warnings)


def _raise_interrupt(signum, frame):  # pragma: no cover - signal handler
    raise KeyboardInterrupt
