"""The course as a static web site, built from executed notebooks (``make site``).

``make course`` leaves every chapter executed at its defaults in ``runs/full/``
(figures, generated text, tables and verdicts included); ``make site`` turns
those notebooks into HTML pages with a table of contents, in ``runs/site/``::

    python -m textrnn_lab.course.site --from runs/full --out runs/site
    # then open runs/site/index.html

The builder is Sphinx with MyST-NB (the engine of Jupyter Book 1) and the
book theme, installed by the ``site`` extra. The notebooks are shown as they
ran (``nb_execution_mode = "off"``): nothing is executed again. The pages
need no server; the formulas are typeset by MathJax when the browser can
reach it, and are shown as TeX source otherwise.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

from ..errors import CourseError
from ..runtime import paths
from ..runtime.files import atomic_write
from .cells import read_notebook
from .chapters import chapter_files

TITLE = "textrnn-lab: deep learning for text"

_CONF = '''# Written by textrnn_lab.course.site: the Sphinx settings of the course site.
project = {title!r}
author = "textrnn-lab"
extensions = ["myst_nb"]
master_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
html_theme = "sphinx_book_theme"
html_title = {title!r}
html_theme_options = {{"show_toc_level": 2, "use_download_button": True}}
html_static_path = []
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
# the check and metrics bundles also carry text/html and text/plain, which are shown
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header", "misc.highlighting_failure"]
'''

_INDEX = """# {title}

A workbook for a course on deep learning for text. Each chapter below is shown
as it ran {how}: the code, what it printed, its figures and its tables. The
notebooks themselves are in the repository (`chapters/` for students,
`solutions/` for instructors).

```{{toctree}}
:maxdepth: 1
:caption: Chapters

{entries}
```
"""


def chapter_title(nb, fallback: str) -> str:
    """The first markdown heading of a notebook (``# 01 · Text generation ...``), else ``fallback``."""
    for cell in nb.cells:
        if cell.get("cell_type") == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if match:
                return match.group(1).strip()
    return fallback


def stage(notebooks_dir: str | os.PathLike, source_dir: str | os.PathLike, how: str = "") -> list[Path]:
    """Copy the executed chapters into ``source_dir`` with the Sphinx settings and the table of contents."""
    notebooks = Path(notebooks_dir)
    found = chapter_files(notebooks) if notebooks.is_dir() else []
    if not found:
        raise CourseError(
            f"no executed chapter notebooks (NN_*.ipynb) in {notebooks}.",
            hint="run `make course` first (it writes runs/full/), or `textrnn-lab run --smoke --out runs/smoke` "
                 "and build from there with --from runs/smoke.",
        )
    source = Path(source_dir)
    if source.exists():
        shutil.rmtree(source)
    source.mkdir(parents=True)
    staged = []
    for path in found:
        nb = read_notebook(path)
        if not any(c.get("outputs") for c in nb.cells if c.get("cell_type") == "code"):
            raise CourseError(f"{path} has no outputs: the site shows executed notebooks.",
                              hint="build from the folder `make course` writes (runs/full/).")
        target = source / path.name
        shutil.copy(path, target)
        staged.append(target)
    entries = "\n".join(p.stem for p in staged)
    atomic_write(source / "conf.py", _CONF.format(title=TITLE))
    atomic_write(source / "index.md", _INDEX.format(title=TITLE, how=how or "", entries=entries))
    return staged


def build_site(notebooks_dir: str | os.PathLike | None = None, out_dir: str | os.PathLike | None = None,
               quiet: bool = True) -> Path:
    """Build the site from the executed notebooks in ``notebooks_dir`` (default ``runs/full``) into ``out_dir``.

    Returns the path of ``index.html``. Sphinx's own warnings are kept in
    ``<out_dir>/../<name>-build.log``; a failed build is a :class:`CourseError`
    quoting its last lines.
    """
    notebooks = Path(notebooks_dir) if notebooks_dir is not None else paths.runs_dir() / "full"
    out = Path(out_dir) if out_dir is not None else paths.runs_dir() / "site"
    source = out.parent / f"{out.name}-source"
    how = "at its defaults" if notebooks.name == "full" else f"(executed notebooks from {notebooks.name}/)"
    stage(notebooks, source, how=how)
    try:
        import myst_nb  # noqa: F401
        import sphinx_book_theme  # noqa: F401
    except ImportError as exc:
        raise CourseError(f"the site builder is not installed ({exc.name}).",
                          hint="pip install -e '.[site]' (make setup installs every extra).") from None
    if out.exists():
        shutil.rmtree(out)
    log = out.parent / f"{out.name}-build.log"
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-j", "1", "-d", str(source / "_doctrees"),
               str(source), str(out)]
    if quiet:
        command.insert(3, "-q")
    env = dict(os.environ, PYDEVD_DISABLE_FILE_VALIDATION="1")
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    atomic_write(log, (proc.stdout or "") + (proc.stderr or ""))
    index = out / "index.html"
    if proc.returncode != 0 or not index.is_file():
        tail = "\n".join(((proc.stderr or "") + (proc.stdout or "")).strip().splitlines()[-15:])
        raise CourseError(f"the site build failed (exit status {proc.returncode}):\n{tail}",
                          hint=f"the whole log is in {log}.")
    return index


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m textrnn_lab.course.site", description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="notebooks", default=None,
                        help="folder of executed notebooks (default: runs/full, what make course writes)")
    parser.add_argument("--out", default=None, help="where the site goes (default: runs/site)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        index = build_site(args.notebooks, args.out)
    except CourseError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 1
    print(f"site built in {time.perf_counter() - started:.1f} s: {index}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
