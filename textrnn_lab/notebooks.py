"""Chapter discovery, the parameters cell, and running notebooks with papermill.

A chapter is a notebook ``NN_slug.ipynb`` in ``solutions/`` (the reference
version) with a student twin of the same name in ``chapters/``. Every notebook
has a code cell tagged ``parameters`` that defines at least ``SMOKE``,
``DEVICE`` and ``SEED``; :func:`execute_notebook` runs a notebook with new
values for those through papermill, and :func:`run_chapters` runs several
chapters and writes a summary (``summary.md`` and ``summary.json``).

Machine-readable results travel inside the executed notebooks as display
outputs with the MIME types :data:`CHECK_MIME` and :data:`METRICS_MIME`;
:func:`collect_outputs` reads them back.

papermill, nbclient and the Jupyter kernel machinery are imported inside the
functions that need them, so importing this module stays cheap.
"""
from __future__ import annotations

import ast
import json
import math
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from . import paths
from .errors import CourseError, NotebookError

CHECK_MIME = "application/vnd.textrnn-lab.check+json"
METRICS_MIME = "application/vnd.textrnn-lab.metrics+json"

#: The parameters every chapter's parameters cell must define.
REQUIRED_PARAMETERS = ("SMOKE", "DEVICE", "SEED")

_CHAPTER_FILE = re.compile(r"^(\d{2})_[A-Za-z0-9_\-]+\.ipynb$")
_RUN_DIR_ENV = "TEXTRNN_LAB_RUN_DIR"


# --------------------------------------------------------------------------- chapters


@dataclass(frozen=True)
class Chapter:
    """One chapter: ``number`` ("01"), ``stem`` ("01_rnn_text_generation"), its title,
    the reference notebook (``solution``) and the student notebook (``student``)."""

    number: str
    stem: str
    title: str
    solution: Path
    student: Path

    @property
    def filename(self) -> str:
        return f"{self.stem}.ipynb"

    def __str__(self) -> str:
        return f"{self.number} {self.stem}"


def _notebook_title(path: Path) -> str | None:
    """The text of the first markdown heading, or None (never raises)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
        cells = data.get("cells", [])
    except (OSError, ValueError, AttributeError):
        return None
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        for line in str(source).splitlines():
            stripped = line.strip()
            if stripped.startswith("#"):
                title = stripped.lstrip("#").strip()
                if title:
                    return title
    return None


def _chapter_from_path(path: Path, chapters_directory: Path | None = None) -> Chapter:
    path = Path(path)
    stem = path.stem
    match = _CHAPTER_FILE.match(path.name)
    number = match.group(1) if match else stem.split("_", 1)[0]
    student_dir = chapters_directory if chapters_directory is not None else paths.chapters_dir()
    return Chapter(
        number=number,
        stem=stem,
        title=_notebook_title(path) or stem,
        solution=path,
        student=Path(student_dir) / path.name,
    )


def list_chapters(directory: str | os.PathLike | None = None) -> list[Chapter]:
    """The chapters in ``directory`` (default ``solutions/``), sorted by file name.

    Only files named ``NN_slug.ipynb`` count. When ``directory`` is given, the
    student twins are looked for in ``<directory>/../chapters``.
    """
    if directory is None:
        directory = paths.solutions_dir()
        chapters_directory = paths.chapters_dir()
    else:
        directory = Path(directory)
        chapters_directory = directory.resolve().parent / "chapters"
    directory = Path(directory)
    if not directory.is_dir():
        raise NotebookError(
            f"the notebook directory {directory} does not exist.",
            hint="run from the course repository, or set TEXTRNN_LAB_ROOT to it.",
        )
    found = sorted(p for p in directory.iterdir() if p.is_file() and _CHAPTER_FILE.match(p.name))
    return [_chapter_from_path(p, chapters_directory) for p in found]


def _known_chapters_hint(chapters: Sequence[Chapter]) -> str:
    if not chapters:
        return "there are no chapters (no NN_name.ipynb files in solutions/)."
    return "known chapters: " + ", ".join(f"{c.number} ({c.stem})" for c in chapters)


def resolve_chapter(name: str | os.PathLike | Chapter, directory: str | os.PathLike | None = None) -> Chapter:
    """Find a chapter by number ("01" or "1"), stem, file name, slug or path.

    An unknown name is a :class:`NotebookError` whose hint lists the known chapters.
    """
    if isinstance(name, Chapter):
        return name
    text = os.fspath(name).strip()
    candidate = Path(text).expanduser()
    looks_like_path = isinstance(name, os.PathLike) or os.sep in text or "/" in text
    if looks_like_path or (candidate.suffix == ".ipynb" and candidate.is_file()):
        if candidate.is_file():
            if directory is not None:
                chapters_directory = Path(directory).resolve().parent / "chapters"
            else:
                chapters_directory = None
            return _chapter_from_path(candidate, chapters_directory)
        if looks_like_path:
            raise NotebookError(
                f"there is no notebook at {candidate}.",
                hint="give a chapter number such as 01, a chapter name, or the path of an existing .ipynb file.",
            )
    chapters = list_chapters(directory)
    key = text[: -len(".ipynb")] if text.endswith(".ipynb") else text
    if key.isdigit():
        number = key.zfill(2)
        matches = [c for c in chapters if c.number == number]
    else:
        matches = [c for c in chapters if c.stem == key]
        if not matches:  # the slug alone: "rnn_text_generation"
            matches = [c for c in chapters if c.stem.split("_", 1)[-1] == key]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise NotebookError(
            f"chapter {text!r} is ambiguous: " + ", ".join(c.stem for c in matches) + ".",
            hint="name the chapter by its full file name.",
        )
    raise NotebookError(f"unknown chapter {text!r}.", hint=_known_chapters_hint(chapters))


# --------------------------------------------------------------------------- reading


def read_notebook(path: str | os.PathLike):
    """Read a notebook (as nbformat v4) with clear errors for the usual problems."""
    import nbformat

    path = Path(path)
    if not path.exists():
        raise NotebookError(f"notebook {path} does not exist.", hint="check the file name, or list the chapters with `textrnn-lab list`.")
    if path.is_dir():
        raise NotebookError(f"{path} is a directory, not a notebook.")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise NotebookError(f"cannot read {path}: {exc.strerror or exc}.") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotebookError(f"{path} is not UTF-8 text (byte {exc.start}); it is not a notebook.") from None
    if not text.strip():
        raise NotebookError(
            f"{path} is empty.",
            hint="restore it from git (`git checkout -- <file>`) or regenerate it (`make release`).",
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).",
            hint="a merge conflict or a hand edit may have broken it; restore it from git.",
        ) from None
    if not isinstance(data, dict) or "nbformat" not in data or not ("cells" in data or "worksheets" in data):
        raise NotebookError(
            f"{path} is JSON but not a Jupyter notebook (no 'nbformat' and 'cells').",
        )
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises a variety of types for odd files
        raise NotebookError(f"{path} is not a readable notebook: {type(exc).__name__}: {exc}.") from None


def _cell_tags(cell) -> list:
    tags = cell.get("metadata", {}).get("tags", [])
    return list(tags) if isinstance(tags, (list, tuple)) else []


def _describe(path) -> str:
    return str(path) if path is not None else "the notebook"


def find_parameters_cell(nb, path: str | os.PathLike | None = None) -> int:
    """Index of the first cell tagged ``parameters``; a clear :class:`NotebookError` if none."""
    for index, cell in enumerate(nb.cells):
        if "parameters" in _cell_tags(cell):
            if cell.get("cell_type") != "code":
                raise NotebookError(
                    f"{_describe(path)}: the cell tagged 'parameters' (cell {index}) is a {cell.get('cell_type')} cell.",
                    hint="move the tag to the code cell that defines SMOKE, DEVICE and SEED.",
                )
            return index
    raise NotebookError(
        f"{_describe(path)} has no cell tagged 'parameters'; tag the cell that defines SMOKE, DEVICE and SEED "
        "(in JupyterLab: select the cell, open the property inspector (gear icon) and add the tag 'parameters').",
        hint='or add "tags": ["parameters"] to that cell\'s metadata.',
    )


def _source_text(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _without_magics(source: str) -> str:
    # IPython magics and shell escapes are not Python; blank them, keeping line numbers.
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        lines.append("" if stripped.startswith(("%", "!")) else line)
    return "\n".join(lines)


def parse_parameters(nb, path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Names and literal default values assigned in the parameters cell.

    Only top-level simple assignments with literal values count
    (``SMOKE = False``, ``SIZES: list = [1, 2]``, ``A = B = 0``); anything else is ignored.
    """
    index = find_parameters_cell(nb, path)
    source = _without_magics(_source_text(nb.cells[index]))
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise NotebookError(
            f"{_describe(path)}: the parameters cell (cell {index}) is not valid Python: {exc.msg} (line {exc.lineno}).",
        ) from None
    values: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        try:
            literal = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                values[target.id] = literal
    return values


# --------------------------------------------------------------------------- executing


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
        self.values = {_RUN_DIR_ENV: str(run_dir), "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
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


# Lines the kernel process writes to its own stderr at every start that say nothing
# about the notebook (ipykernel >= 7 warns about unencrypted local TCP).
_HARMLESS_KERNEL_LINES = (
    re.compile(r"^\[IPKernelApp\] WARNING \| Kernel is running over TCP without encryption"),
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


def _one_line(text: Any, limit: int = 300) -> str:
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", str(text or "")).strip()
    first = text.splitlines()[0].strip() if text else ""
    return first if len(first) <= limit else first[: limit - 3] + "..."


def _original_cell_index(nb, executed_index: int, injected: bool) -> int | None:
    """Map an index in papermill's executed notebook back to the input notebook."""
    if not injected:
        return executed_index
    param = next((i for i, c in enumerate(nb.cells) if "parameters" in _cell_tags(c)), -1)
    if any("injected-parameters" in _cell_tags(c) for c in nb.cells):
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
        first_line = _one_line(_source_text(nb.cells[index]), 60)
        place = f"cell {index} ({where}" + (f": {first_line!r})" if first_line else ")")
    if exc.ename == "CellExecutionError" and not exc.evalue:
        what = "the cell did not finish" + (f" within the {timeout} s time limit" if timeout else "") + " (timeout, or the kernel died)"
    else:
        what = f"{exc.ename}: {_one_line(exc.evalue)}".rstrip(": ")
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
            error = f"{input_path.name} could not be executed: {name}: {_one_line(exc)}"
            executed_index = _last_started_cell(output_path)
            if executed_index is not None:
                cell_index = _original_cell_index(nb, executed_index, bool(parameters))
                if cell_index is not None:
                    first_line = _one_line(_source_text(nb.cells[cell_index]), 60)
                    error = (f"{input_path.name} stopped in cell {cell_index}"
                             + (f" ({first_line!r})" if first_line else "") + f": {name}: {_one_line(exc)}")
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


def collect_outputs(nb, mime: str) -> list[dict]:
    """The payloads of every display output with MIME type ``mime``, in notebook order.

    ``nb`` may be a notebook object or a path.
    """
    if isinstance(nb, (str, os.PathLike)):
        nb = read_notebook(nb)
    found: list[dict] = []
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []) or []:
            if output.get("output_type") not in ("display_data", "execute_result", "update_display_data"):
                continue
            data = output.get("data", {}) or {}
            if mime not in data:
                continue
            payload = data[mime]
            if isinstance(payload, str):
                try:
                    payload = json.loads(payload)
                except ValueError:
                    continue
            if isinstance(payload, dict):
                found.append(dict(payload))
    return found


# --------------------------------------------------------------------------- running chapters


@dataclass
class RunSummary:
    """The outcome of one chapter in :func:`run_chapters`."""

    number: str
    stem: str
    title: str
    status: str  # "ok" or "failed"
    duration_s: float
    device: str
    output: str
    metrics: dict = field(default_factory=dict)
    checks: dict = field(default_factory=dict)  # status -> count
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict:
        return asdict(self)


def _read_metrics_file(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if isinstance(data, dict) and isinstance(data.get("values"), dict):
        return dict(data["values"])
    return dict(data) if isinstance(data, dict) else {}


def _gather_metrics(chapter: Chapter, out_dir: Path, nb) -> dict:
    values: dict = {}
    for name in (chapter.number, chapter.stem):
        values.update(_read_metrics_file(out_dir / f"{name}.metrics.json"))
    if nb is not None:
        for payload in collect_outputs(nb, METRICS_MIME):
            found = payload.get("values", payload)
            if isinstance(found, dict):
                values.update(found)
    return values


def _format_value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.4g}"
    text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _headline(metrics: dict, limit: int = 4) -> str:
    items = [(k, v) for k, v in metrics.items() if k != "device"]
    shown = ", ".join(f"{k}={_format_value(v)}" for k, v in items[:limit])
    if len(items) > limit:
        shown += f", ... (+{len(items) - limit})"
    return shown or "-"


def _write_summaries(summaries: list[RunSummary], out_dir: Path, settings: dict) -> None:
    failed = [s for s in summaries if not s.ok]
    lines = [
        "# Course run summary",
        "",
        f"smoke: {settings['smoke']} | device: {settings['device']} | seed: {settings['seed']} | "
        f"{len(summaries) - len(failed)}/{len(summaries)} chapters ok",
        "",
        "| chapter | status | time | device | checks | headline figures |",
        "|---|---|---|---|---|---|",
    ]
    for s in summaries:
        checks = ", ".join(f"{n} {k}" for k, n in sorted(s.checks.items())) or "-"
        lines.append(
            f"| {_md_escape(s.stem)} | {'ok' if s.ok else '**FAILED**'} | {s.duration_s:.1f} s | "
            f"{_md_escape(s.device)} | {checks} | {_md_escape(_headline(s.metrics))} |"
        )
    for s in summaries:
        heading = s.title if s.title.startswith(s.number) else f"{s.number} {s.title}"
        lines += ["", f"## {_md_escape(heading)}", ""]
        lines += [
            "| | |",
            "|---|---|",
            f"| status | {'ok' if s.ok else 'FAILED'} |",
            f"| time | {s.duration_s:.1f} s |",
            f"| device | {_md_escape(s.device)} |",
            f"| notebook | {_md_escape(s.output)} |",
        ]
        for key, value in s.metrics.items():
            if key != "device":
                lines.append(f"| {_md_escape(key)} | {_md_escape(_format_value(value))} |")
        if s.error:
            lines += ["", f"error: `{s.error.replace('`', chr(39))}`"]
    (out_dir / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    payload = dict(settings)
    payload["ok"] = not failed
    payload["chapters"] = [s.to_dict() for s in summaries]
    (out_dir / "summary.json").write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")


def run_chapters(
    chapters: Iterable[Chapter | str],
    smoke: bool,
    device: str,
    out_dir: str | os.PathLike,
    seed: int = 0,
    *,
    kernel_name: str = "python3",
    timeout: float | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> list[RunSummary]:
    """Execute each chapter's solution notebook into ``out_dir`` and summarise.

    Each chapter runs with ``{"SMOKE": smoke, "DEVICE": device, "SEED": seed}``
    into ``out_dir/<stem>.ipynb``; its metrics come from the notebook's metrics
    outputs and ``out_dir/<number|stem>.metrics.json``. ``summary.md`` and
    ``summary.json`` in ``out_dir`` are rewritten after every chapter. A failing
    chapter does not stop the others; check ``all(s.ok for s in result)``.
    ``log`` (e.g. ``print``) receives one line per chapter.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = {"smoke": bool(smoke), "device": str(device), "seed": int(seed)}
    parameters = {"SMOKE": bool(smoke), "DEVICE": str(device), "SEED": int(seed)}
    summaries: list[RunSummary] = []
    for item in chapters:
        try:
            chapter = resolve_chapter(item)
        except CourseError as exc:
            summary = RunSummary(
                number="??", stem=str(item), title=str(item), status="failed", duration_s=0.0,
                device=str(device), output="", error=exc.message,
            )
            summaries.append(summary)
            _write_summaries(summaries, out_dir, settings)
            if log:
                log(f"FAILED {item}: {exc.message}")
            continue
        output = out_dir / f"{chapter.stem}.ipynb"
        for stale in (output, out_dir / f"{chapter.number}.metrics.json", out_dir / f"{chapter.stem}.metrics.json"):
            if stale.exists():
                stale.unlink()
        if log:
            log(f"running {chapter.stem} ...")
        start = time.perf_counter()
        error: str | None = None
        try:
            result = execute_notebook(
                chapter.solution, output, parameters, kernel_name=kernel_name,
                timeout=timeout, progress=progress, raise_on_error=False,
            )
            error = result.error
            duration = result.duration_s
        except CourseError as exc:
            error, duration = exc.message, time.perf_counter() - start
        except Exception as exc:  # a chapter must never stop the others
            error, duration = f"{type(exc).__name__}: {_one_line(exc)}", time.perf_counter() - start
        executed = None
        if output.exists():
            try:
                executed = read_notebook(output)
            except CourseError:
                executed = None
        metrics = _gather_metrics(chapter, out_dir, executed)
        checks: dict[str, int] = {}
        if executed is not None:
            for payload in collect_outputs(executed, CHECK_MIME):
                status = str(payload.get("status", "unknown"))
                checks[status] = checks.get(status, 0) + 1
        summary = RunSummary(
            number=chapter.number,
            stem=chapter.stem,
            title=chapter.title,
            status="ok" if error is None else "failed",
            duration_s=round(duration, 3),
            device=str(metrics.get("device", device)),
            output=str(output),
            metrics=metrics,
            checks=checks,
            error=error,
        )
        summaries.append(summary)
        _write_summaries(summaries, out_dir, settings)
        if log:
            log(f"{'ok' if summary.ok else 'FAILED'} {chapter.stem} ({summary.duration_s:.1f} s)"
                + (f": {error}" if error else ""))
    if not summaries:
        _write_summaries(summaries, out_dir, settings)
    return summaries
