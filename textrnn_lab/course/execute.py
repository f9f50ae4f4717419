"""Running one notebook with papermill: new parameters in, the executed notebook out.

:func:`execute_notebook` checks that the notebook has a ``parameters`` cell,
injects new values (``SMOKE``, ``DEVICE``, ``SEED`` ...), runs it in a Jupyter
kernel with ``TEXTRNN_LAB_RUN_DIR`` pointing at the output folder, and reports
a failing cell in one line that names the cell in the *input* notebook (not
papermill's copy with the injected cell). The kernel's own stderr goes to a log
next to the output, which is deleted when it holds only routine start-up lines.
The result is an :class:`ExecResult`.

papermill, nbclient and the Jupyter kernel machinery are imported inside the
functions that need them, so importing this module stays cheap.
"""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import CourseError, NotebookError
from ..runtime.paths import RUN_DIR_ENV
from ..runtime.text import first_line
from .cells import cell_source, cell_tags, find_parameters_cell, read_notebook


@dataclass
class ExecResult:
    """What :func:`execute_notebook` did: where the executed notebook is, how long it took,
    and the one-line error (``None`` when every cell ran)."""

    input_path: Path
    output_path: Path
    duration_s: float
    error: str | None = None
    cell_index: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class _RunDirEnvironment:
    """The environment a kernel inherits from ``os.environ``, set for one run and restored.

    ``TEXTRNN_LAB_RUN_DIR`` points ``metrics.record`` at the output folder, and the
    matplotlib backend is the inline one: a non-interactive ``MPLBACKEND=Agg`` left
    in the caller's environment (test suites, headless shells) would otherwise make
    every ``plt.show()`` draw nothing into the executed notebook.
    """

    def __init__(self, run_dir: Path):
        self.values = {RUN_DIR_ENV: str(run_dir), "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
        self.previous: dict[str, str | None] = {}

    def __enter__(self):
        for key, value in self.values.items():
            self.previous[key] = os.environ.get(key)
            os.environ[key] = value
        return self

    def __exit__(self, *exc):
        for key, value in self.previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        return False


# Lines the kernel process writes to its own stderr that say nothing about the notebook:
# ipykernel >= 7 warns about unencrypted local TCP at every start, and on a busy machine
# the shutdown may interrupt an idle kernel (a cell that ran too long is reported by the run itself).
_HARMLESS_KERNEL_LINES = (
    re.compile(r"^\[IPKernelApp\] WARNING \| Kernel is running over TCP without encryption"),
    re.compile(r"^\[IPKernelApp\] ERROR \| KeyboardInterrupt caught in kernel\.?$"),
)


def _kernel_manager_class(stderr_handle):
    """A kernel manager that sends the kernel process's own stderr (start-up warnings,
    C-level crash messages) to ``stderr_handle`` instead of the console."""
    from jupyter_client.manager import AsyncKernelManager

    class _LoggedKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw):
            kw.setdefault("stderr", stderr_handle)
            return await super().start_kernel(**kw)

    return _LoggedKernelManager


def _tidy_kernel_log(path: Path) -> None:
    """Delete the kernel log if it holds nothing but the harmless start-up lines."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return
    useful = [line for line in lines if line.strip() and not any(p.match(line) for p in _HARMLESS_KERNEL_LINES)]
    if not useful:
        path.unlink(missing_ok=True)


def _original_cell_index(nb, executed_index: int, injected: bool) -> int | None:
    """Map an index in papermill's executed notebook back to the input notebook."""
    if not injected:
        return executed_index
    param = next((i for i, c in enumerate(nb.cells) if "parameters" in cell_tags(c)), -1)
    if any("injected-parameters" in cell_tags(c) for c in nb.cells):
        return executed_index  # papermill replaced the old injected cell in place
    if param < 0:
        return executed_index - 1 if executed_index > 0 else None
    if executed_index == param + 1:
        return None  # the injected parameters cell itself
    return executed_index - 1 if executed_index > param + 1 else executed_index


def _last_started_cell(output_path: Path) -> int | None:
    """Index (in the executed notebook) of the last cell papermill started, if it saved one."""
    try:
        data = json.loads(Path(output_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    last = None
    for index, cell in enumerate(data.get("cells", [])):
        meta = cell.get("metadata", {}).get("papermill", {})
        if cell.get("cell_type") == "code" and meta.get("start_time"):
            last = index
    return last


def _execution_error_message(nb, input_path: Path, exc, injected: bool, timeout) -> tuple[str, int | None]:
    index = _original_cell_index(nb, exc.cell_index, injected)
    where = f"In [{exc.exec_count}]" if exc.exec_count is not None else "not run"
    if index is None:
        place = f"the injected parameters cell ({where})"
    else:
        opening = first_line(cell_source(nb.cells[index]), 60, strip_ansi=True)
        place = f"cell {index} ({where}" + (f": {opening!r})" if opening else ")")
    if exc.ename == "CellExecutionError" and not exc.evalue:
        limit = f" within the {timeout} s time limit" if timeout else ""
        what = f"the cell did not finish{limit} (timeout, or the kernel died)"
    else:
        what = f"{exc.ename}: {first_line(exc.evalue, strip_ansi=True)}".rstrip(": ")
    return f"{input_path.name} failed in {place}: {what}", index


def execute_notebook(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    parameters: dict | None = None,
    kernel_name: str = "python3",
    cwd: str | os.PathLike | None = None,
    timeout: float | None = None,
    progress: bool = False,
    raise_on_error: bool = True,
) -> ExecResult:
    """Run ``input_path`` with papermill, injecting ``parameters``, into ``output_path``.

    The notebook must have a cell tagged ``parameters`` (checked first). The kernel
    runs in ``cwd`` (default: the notebook's own directory) with
    ``TEXTRNN_LAB_RUN_DIR`` set to the output's directory, so
    ``metrics.record`` writes next to the executed notebook. ``timeout`` is a
    per-cell limit in seconds (``None``: none). What the kernel process itself
    writes to stderr (not the cells' output) goes to ``<output>.kernel.log``,
    which is deleted again when it holds only routine start-up warnings.

    When a cell fails, the executed notebook is still written (up to and including
    the failing cell) and a :class:`NotebookError` naming the cell and the
    exception is raised; with ``raise_on_error=False`` the same one-line message is
    returned in ``ExecResult.error`` instead. The raised error carries the
    result as ``error.result``.
    """
    input_path = Path(input_path)
    output_path = Path(output_path)
    parameters = dict(parameters or {})
    nb = read_notebook(input_path)
    find_parameters_cell(nb, input_path)
    if output_path.resolve() == input_path.resolve():
        raise NotebookError(
            f"refusing to overwrite {input_path} with its executed copy.",
            hint="give an output path different from the input notebook.",
        )
    output_path.parent.mkdir(parents=True, exist_ok=True)
    run_cwd = Path(cwd) if cwd is not None else input_path.resolve().parent

    import papermill
    from papermill.exceptions import PapermillExecutionError

    error: str | None = None
    cell_index: int | None = None
    kernel_log = output_path.with_suffix(".kernel.log")
    start = time.perf_counter()
    with _RunDirEnvironment(output_path.resolve().parent), open(kernel_log, "wb") as log_handle:
        try:
            papermill.execute_notebook(
                str(input_path),
                str(output_path),
                parameters=parameters,
                kernel_name=kernel_name,
                cwd=str(run_cwd),
                progress_bar=progress,
                log_output=False,
                execution_timeout=timeout,
                kernel_manager_class=_kernel_manager_class(log_handle),
            )
        except PapermillExecutionError as exc:
            error, cell_index = _execution_error_message(nb, input_path, exc, bool(parameters), timeout)
        except CourseError:
            raise
        except Exception as exc:  # kernel missing, kernel died at start-up, I/O...
            name = type(exc).__name__
            if name == "NoSuchKernel":
                raise NotebookError(
                    f"there is no Jupyter kernel named {kernel_name!r}.",
                    hint="install one with `python -m ipykernel install --user --name python3`, or pass kernel_name.",
                ) from None
            error = f"{input_path.name} could not be executed: {name}: {first_line(exc, strip_ansi=True)}"
            executed_index = _last_started_cell(output_path)
            if executed_index is not None:
                cell_index = _original_cell_index(nb, executed_index, bool(parameters))
                if cell_index is not None:
                    opening = first_line(cell_source(nb.cells[cell_index]), 60, strip_ansi=True)
                    error = (f"{input_path.name} stopped in cell {cell_index}"
                             + (f" ({opening!r})" if opening else "") + f": {name}: {first_line(exc, strip_ansi=True)}")
    _tidy_kernel_log(kernel_log)
    result = ExecResult(
        input_path=input_path,
        output_path=output_path,
        duration_s=time.perf_counter() - start,
        error=error,
        cell_index=cell_index,
    )
    if error is not None and raise_on_error:
        notes = []
        if output_path.exists():
            notes.append(f"the executed notebook, with the outputs up to the failure, is {output_path}")
        if kernel_log.exists():
            notes.append(f"the kernel's own messages are in {kernel_log}")
        hint = "; ".join(notes) or None
        err = NotebookError(error, hint=hint)
        err.result = result  # type: ignore[attr-defined]
        err.cell_index = cell_index  # type: ignore[attr-defined]
        raise err
    return result
