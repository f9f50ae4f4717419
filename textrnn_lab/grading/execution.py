"""Running a submission's cells in a sandboxed kernel, one cell at a time.

:func:`run_notebook` executes the grading notebook (the student's cells, the
parameters injected by papermill) with nbclient in a kernel started through
:mod:`.sandbox`, in the submission's own temporary folder, and then asks the
kernel to hand over the objects the tests need (:data:`EXPORT_CODE`, pickled
with cloudpickle into a folder with an unguessable name). No test code is ever
sent to this kernel.

What can go wrong, and what happens:

* a cell raises: recorded, the next cell runs (``allow_errors``);
* a cell runs past the per-cell time limit: the kernel is interrupted
  (``KeyboardInterrupt``) and the next cell runs; a kernel that does not answer
  the interrupt is killed and treated as a crash;
* the kernel dies (``os._exit``, a segfault, killed for memory): the notebook is
  run again in a fresh kernel without that cell, at most ``max_attempts`` times,
  so the exercises that come after it are still graded;
* the whole notebook runs past its time limit: the running cell is interrupted,
  the cells after it are not run, and what was defined so far is still exported;
* a flood of output: each cell keeps at most ``max_cell_output`` bytes and the
  notebook ``max_total_output`` bytes; the rest is dropped with a note.
"""
from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from .matching import GRADER_KEY, pin_parameters
from .sandbox import Isolation, Limits, give_to_sandbox, launcher_prefix

#: Runs in the student's kernel after all of the student's cells: pickles the named
#: objects into FOLDER, one file each, and logs one JSON line per name.
EXPORT_CODE = '''\
def _textrnn_grader_export(names, folder):
    import json, os
    import cloudpickle
    space = globals()
    with open(os.path.join(folder, "exported.jsonl"), "a") as log:
        for name in names:
            if name not in space:
                entry = {"name": name, "status": "undefined"}
            else:
                try:
                    data = cloudpickle.dumps(space[name])
                    with open(os.path.join(folder, name + ".pkl"), "wb") as handle:
                        handle.write(data)
                    entry = {"name": name, "status": "ok", "bytes": len(data)}
                except BaseException as exc:
                    entry = {"name": name, "status": "error", "error": (type(exc).__name__ + ": " + str(exc))[:300]}
            log.write(json.dumps(entry) + "\\n")
            log.flush()
_textrnn_grader_export(%(names)r, %(folder)r)
del _textrnn_grader_export
'''

_TRUNCATED = "\n[grader] output truncated here: this cell printed more than {limit} bytes.\n"
_ENV_KEEP = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TERM", "VIRTUAL_ENV", "CONDA_PREFIX",
             "CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH", "SSL_CERT_FILE", "TEXTRNN_LAB_DATA")


def kernel_environment(workdir: Path, threads: int) -> dict[str, str]:
    """The environment of a sandboxed process: an allow-list of the grader's, plus the course's settings.

    Tokens and other secrets in the instructor's environment are not passed on.
    """
    from ..runtime import paths

    env = {k: v for k, v in os.environ.items() if k in _ENV_KEEP or k.startswith("LC_")}
    env[paths.RUN_DIR_ENV] = str(workdir / "runs")
    root = paths.repo_root()
    env.update(
        TEXTRNN_LAB_ROOT=str(root),
        TEXTRNN_LAB_DATA=os.environ.get("TEXTRNN_LAB_DATA", str(paths.data_dir())),
        MPLBACKEND="Agg",
        MPLCONFIGDIR=str(workdir / ".matplotlib"),  # writable even where everything else is read-only
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        TF_CPP_MIN_LOG_LEVEL="2",
        TF_ENABLE_ONEDNN_OPTS="0",
        PYTHONDONTWRITEBYTECODE="1",
        PYDEVD_DISABLE_FILE_VALIDATION="1",
        OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
        OPENBLAS_NUM_THREADS=str(threads),
        TMPDIR=os.environ.get("TMPDIR", "/tmp"),
    )
    return env


@dataclass
class CellRun:
    """What happened to one code cell of the grading notebook."""

    index: int
    status: str                 # "ok", "error", "timeout", "crashed", "skipped", "not-run"
    seconds: float = 0.0
    error: str = ""             # "NameError: name 'x' is not defined", or why it was skipped


@dataclass
class ExecutionReport:
    """The outcome of :func:`run_notebook`."""

    cells: dict[int, CellRun] = field(default_factory=dict)
    attempts: int = 0
    ended: str = "complete"     # "complete", "notebook-timeout", "crashed", "kernel-failed"
    message: str = ""
    exported: dict[str, dict] = field(default_factory=dict)  # name -> {"status": ..., ...}
    export_dir: Path | None = None
    truncated: list[int] = field(default_factory=list)
    kernel_start_s: float = 0.0
    cells_s: float = 0.0
    export_s: float = 0.0
    stop_s: float = 0.0

    def problems(self) -> list[CellRun]:
        return [c for c in self.cells.values() if c.status in ("timeout", "crashed", "skipped")]


def _message_size(msg: dict) -> int:
    content = msg.get("content") or {}
    if msg.get("msg_type") == "stream":
        return len(content.get("text") or "")
    if msg.get("msg_type") == "error":
        return sum(len(line) for line in content.get("traceback") or [])
    data = content.get("data") or {}
    return sum(len(v) if isinstance(v, str) else len(json.dumps(v, default=str)) for v in data.values())


def _client_class():
    import nbformat
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    class SandboxedKernelManager(AsyncKernelManager):
        """A kernel manager whose kernel command runs through the sandbox launcher."""

        def __init__(self, *args, sandbox_prefix=(), sandbox_isolation=None, **kwargs):
            super().__init__(*args, **kwargs)
            self._sandbox_prefix = list(sandbox_prefix)
            self._sandbox_isolation = sandbox_isolation or Isolation(False)

        def format_kernel_cmd(self, extra_arguments=None):
            return self._sandbox_prefix + super().format_kernel_cmd(extra_arguments)

        def write_connection_file(self, **kwargs):
            super().write_connection_file(**kwargs)
            # the kernel runs as the sandbox's user: it may read the file, in a folder it cannot write
            give_to_sandbox(Path(self.connection_file), self._sandbox_isolation)

    class CappedClient(NotebookClient):
        """An nbclient that keeps a bounded amount of output per cell and per notebook."""

        def __init__(self, *args, max_cell_output: int, max_total_output: int, **kwargs):
            super().__init__(*args, **kwargs)
            self._cap_cell = max_cell_output
            self._cap_total = max_total_output
            self._used: dict[int, int] = {}
            self._total = 0
            self.truncated: set[int] = set()

        def output(self, outs, msg, display_id, cell_index):
            size = _message_size(msg)
            used = self._used.get(cell_index, 0)
            if used + size > self._cap_cell or self._total + size > self._cap_total:
                if cell_index not in self.truncated:
                    self.truncated.add(cell_index)
                    limit = self._cap_cell if used + size > self._cap_cell else self._cap_total
                    outs.append(nbformat.v4.new_output("stream", name="stderr", text=_TRUNCATED.format(limit=limit)))
                return None
            self._used[cell_index] = used + size
            self._total += size
            return super().output(outs, msg, display_id, cell_index)

    return SandboxedKernelManager, CappedClient


def _error_of(cell) -> str:
    for output in cell.get("outputs", []) or []:
        if output.get("output_type") == "error":
            name = str(output.get("ename", "Error"))
            value = str(output.get("evalue", "")).strip().splitlines()
            return f"{name}: {value[0][:300]}" if value else name
    return ""


def _note(cell, text: str) -> None:
    import nbformat

    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=f"[grader] {text}\n")]


def _death(km) -> str:
    """How a dead kernel ended: 'exit status 3', 'signal SIGSEGV' or a list of the usual causes."""
    import signal

    process = getattr(getattr(km, "provisioner", None), "process", None)
    code = None
    if process is not None:
        try:
            code = process.wait(timeout=2)
        except Exception:  # noqa: BLE001 - unknown is fine
            code = None
    if code is None:
        return "os._exit, a crash, or out of memory"
    if code < 0 or code > 128:
        number = -code if code < 0 else code - 128
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        extra = {"SIGSEGV": ": a segmentation fault", "SIGKILL": ": killed, often for memory",
                 "SIGABRT": ": aborted"}.get(name, "")
        return f"{name}{extra}"
    return f"it exited with status {code}, e.g. through os._exit({code})"


def _stop_kernel(km) -> None:
    """Shut a kernel down now and kill whatever is left in its process group."""
    from jupyter_core.utils import run_sync

    try:
        run_sync(km.shutdown_kernel)(now=True)
    except Exception:  # noqa: BLE001 - already dead is fine
        pass
    pgid = getattr(getattr(km, "provisioner", None), "pgid", None)
    if pgid:
        try:
            os.killpg(pgid, 9)
        except OSError:
            pass


def run_notebook(nb, workdir: Path, export_names: list[str], **options) -> ExecutionReport:
    """Execute ``nb`` (modified in place: outputs, notes) in ``workdir``; see the module docstring.

    ``workdir`` is the kernel's working folder, the one place it may write; the grader's
    own files for the kernel (connection file, log) go in ``private`` (default: ``workdir``),
    a folder the student cannot write when it is sandboxed (:func:`.sandbox.prepare_folders`).

    Options: ``private``, ``limits``, ``isolation``, ``cell_timeout``, ``notebook_timeout`` (seconds),
    ``threads``, ``max_attempts``, ``max_cell_output``, ``max_total_output`` (bytes),
    ``startup_timeout``, ``export_timeout``, ``interrupt_grace``. Whatever
    interrupts it (SIGTERM, Ctrl-C), no kernel is left running.
    """
    live: list = []
    pin_parameters(nb)  # the grader's parameters put back where the student's cells set them again (see matching)
    previous = os.getcwd()
    # The kernel's Unix sockets are named relative to the working folder: a socket path may not
    # exceed ~107 bytes, and temporary folders can be deep. Kernel and worker both stand in it.
    os.chdir(workdir)
    try:
        return _run_notebook(nb, Path(workdir).resolve(), export_names, _live=live, **options)
    except BaseException:
        for km in live:
            if not isinstance(km, int):
                _stop_kernel(km)
        raise
    finally:
        os.chdir(previous)
        for fd in live:
            if isinstance(fd, int):
                os.close(fd)


def _run_notebook(
    nb,
    workdir: Path,
    export_names: list[str],
    *,
    limits: Limits,
    isolation: Isolation,
    private: Path | None = None,
    cell_timeout: float,
    notebook_timeout: float,
    threads: int = 1,
    max_attempts: int = 3,
    max_cell_output: int = 1_000_000,
    max_total_output: int = 10_000_000,
    startup_timeout: float = 120,
    export_timeout: float = 120,
    interrupt_grace: float = 5,
    _live: list,
) -> ExecutionReport:
    from jupyter_core.utils import run_sync
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    manager_class, client_class = _client_class()
    report = ExecutionReport()
    workdir = Path(workdir)
    env = kernel_environment(workdir, threads)
    started = time.monotonic()
    deadline = started + notebook_timeout
    skip: dict[int, CellRun] = {}
    private = Path(private).resolve() if private is not None else workdir
    # The kernel's log is opened once, never by name again: a student who replaces it by a link
    # (where it could: without a sandbox, or in its own folder) gets nothing appended elsewhere.
    log_fd = os.open(private / ".kernel.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
                     | os.O_CLOEXEC, 0o600)
    _live.append(log_fd)
    if private != workdir:
        isolation = Isolation(isolation.enabled, isolation.hide, (*isolation.keep, str(private)))

    def log_tail() -> str:
        try:
            size = os.fstat(log_fd).st_size
            data = os.pread(log_fd, 4096, max(0, size - 4096)) if size else b""
        except OSError:
            return ""
        lines = data.decode("utf-8", "replace").strip().splitlines()
        return lines[-1][:200] if lines else ""

    def new_client():
        km = manager_class(
            sandbox_prefix=launcher_prefix(limits, isolation),
            sandbox_isolation=isolation,
            kernel_name="python3",
            transport="ipc",
            ip=".kernel-ipc",  # relative: see run_notebook
            connection_file=str(private / ".kernel.json"),
        )
        client = client_class(
            nb,
            km=km,
            timeout=int(cell_timeout),
            startup_timeout=int(startup_timeout),
            allow_errors=True,
            interrupt_on_timeout=False,
            record_timing=False,
            kernel_name="python3",
            resources={"metadata": {"path": str(workdir)}},
            max_cell_output=max_cell_output,
            max_total_output=max_total_output,
        )
        _live.append(km)
        return km, client

    stop = _stop_kernel

    def run_code(client, code: str, timeout: float):
        """Run grader code (never stored in the notebook) as a temporary last cell."""
        import nbformat

        cell = nbformat.v4.new_code_cell(code)
        nb.cells.append(cell)
        try:
            client.timeout = max(1, int(timeout))
            client.execute_cell(cell, len(nb.cells) - 1, store_history=False)
            return _error_of(cell)
        finally:
            nb.cells.pop()

    code_indices = [i for i, c in enumerate(nb.cells) if c.get("cell_type") == "code"]
    km = client = None
    for attempt in range(1, max_attempts + 1):
        report.attempts = attempt
        report.cells = dict(skip)
        restart = hung = False
        km, client = new_client()
        t0 = time.monotonic()
        try:
            client.start_new_kernel(env=env, cwd=str(workdir), stdout=log_fd, stderr=log_fd)
            client.start_new_kernel_client()
        except Exception as exc:  # noqa: BLE001 - a kernel that cannot start is a recorded failure
            stop(km)
            report.ended = "kernel-failed"
            tail = log_tail()
            report.message = (f"the Python kernel could not start ({type(exc).__name__}: {exc})"
                              + (f"; {tail}" if tail else ""))
            return report
        report.kernel_start_s += time.monotonic() - t0

        for index in code_indices:
            cell = nb.cells[index]
            if index in skip:
                _note(cell, f"not run: {skip[index].error}")
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 1:
                report.cells[index] = CellRun(index, "not-run", 0.0,
                                              "the notebook's time limit was reached before this cell")
                _note(cell, "not run: the notebook's time limit was reached before this cell.")
                report.ended = "notebook-timeout"
                continue
            limit = min(cell_timeout, remaining)
            client.timeout = max(1, int(limit))
            t_cell = time.monotonic()
            try:
                client.execute_cell(cell, index)
            except CellTimeoutError:
                seconds = time.monotonic() - t_cell
                whole = limit < cell_timeout
                why = (f"the notebook ran past its time limit of {notebook_timeout:.0f} s in this cell" if whole
                       else f"the cell ran past the time limit of {cell_timeout:.0f} s")
                run = CellRun(index, "timeout", seconds, why)
                report.cells[index] = run
                try:
                    run_sync(km.interrupt_kernel)()
                    run_code(client, "pass", interrupt_grace)  # answers once the interrupt has landed
                    answered = True
                except Exception:  # noqa: BLE001 - CellTimeoutError, DeadKernelError: the kernel is gone
                    answered = False
                _note_append(cell, f"{why}; the cell was interrupted.")
                if whole:
                    report.ended = "notebook-timeout"
                    if not answered:
                        restart = False
                        hung = True  # killed now: nothing can be copied out of a kernel that does not answer
                        report.ended = "crashed"
                        report.message = "the kernel did not answer after the notebook's time limit"
                        break
                    continue
                if not answered:
                    run.error = why + "; the kernel did not answer the interrupt and was restarted"
                    skip[index] = run
                    restart = True
                    break
                continue
            except DeadKernelError:
                run = CellRun(index, "crashed", time.monotonic() - t_cell,
                              f"the Python kernel died while running this cell ({_death(km)})")
                report.cells[index] = run
                skip[index] = run
                _note(cell, run.error + "; it was skipped when the notebook was run again.")
                restart = True
                break
            seconds = time.monotonic() - t_cell
            report.cells_s += seconds
            error = _error_of(cell)
            report.cells[index] = CellRun(index, "error" if error else "ok", seconds, error)
        report.truncated = sorted(set(report.truncated) | set(client.truncated))
        if restart and attempt < max_attempts and deadline - time.monotonic() > 5:
            stop(km)
            continue
        if restart:
            stop(km)
            report.ended = "crashed"
            report.message = (f"the kernel died or hung {len(skip)} time(s); "
                              f"the notebook could not be run to the end in {attempt} attempt(s)")
            return report
        break
    if hung:
        stop(km)
        return report

    # --- hand over the objects the tests need (no test code is sent to this kernel)
    t0 = time.monotonic()
    folder = workdir / f".grader-export-{secrets.token_hex(16)}"
    folder.mkdir(mode=0o700)
    give_to_sandbox(folder, isolation)
    report.export_dir = folder
    try:
        error = run_code(client, EXPORT_CODE % {"names": list(export_names), "folder": str(folder)}, export_timeout)
        if error:
            report.message = ((report.message + "; " if report.message else "")
                              + f"exporting your definitions failed: {error}")
    except DeadKernelError:
        report.message = ((report.message + "; " if report.message else "")
                          + "the kernel died while the grader copied your definitions")
    except CellTimeoutError:
        report.message = ((report.message + "; " if report.message else "")
                          + "copying your definitions out of the kernel timed out")
    except Exception as exc:  # noqa: BLE001
        report.message = (report.message + "; " if report.message else "") + f"copying your definitions failed: {exc}"
    finally:
        report.export_s = time.monotonic() - t0
        t_stop = time.monotonic()
        stop(km)
        report.stop_s = time.monotonic() - t_stop
    report.exported = read_export_log(folder)
    return report


def _note_append(cell, text: str) -> None:
    import nbformat

    outputs = list(cell.get("outputs", []) or [])
    outputs.append(nbformat.v4.new_output("stream", name="stderr", text=f"[grader] {text}\n"))
    cell.outputs = outputs


def read_export_log(folder: Path) -> dict[str, dict]:
    """``{name: entry}`` from the export log; the last entry per name wins; junk lines are ignored."""
    found: dict[str, dict] = {}
    path = Path(folder) / "exported.jsonl"
    try:
        data = read_regular_file(path, 1_000_000, under=Path(folder).parent)
    except OSError:
        return found
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            found[entry["name"]] = entry
    return found


def read_regular_file(path: Path, limit: int, under: Path | None = None) -> bytes:
    """Read a file the student's code could have planted: no symlinks, regular files only, at most ``limit`` bytes.

    With ``under`` (a folder the student cannot replace), no part of ``path`` below it
    may be a symbolic link either (the student may own the folders in between).
    """
    import stat

    nofollow = getattr(os, "O_NOFOLLOW", 0)
    path = Path(path)
    if under is None:
        fd = os.open(path, os.O_RDONLY | nofollow)
    else:
        parts = path.relative_to(under).parts
        fd = os.open(under, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            for part in parts[:-1]:
                inner = os.open(part, os.O_RDONLY | nofollow | getattr(os, "O_DIRECTORY", 0), dir_fd=fd)
                os.close(fd)
                fd = inner
            inner = os.open(parts[-1], os.O_RDONLY | nofollow, dir_fd=fd)
        finally:
            os.close(fd)
        fd = inner
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path.name} is not a regular file")
        if info.st_size > limit:
            raise OSError(f"{path.name} is larger than {limit} bytes")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise OSError(f"{path.name} is larger than {limit} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def cell_roles(nb) -> dict[int, dict]:
    """``{index: metadata[GRADER_KEY]}`` of the grading notebook's cells."""
    return {i: dict(c.get("metadata", {}).get(GRADER_KEY, {}) or {}) for i, c in enumerate(nb.cells)}
