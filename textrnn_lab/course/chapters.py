"""Which chapters the course has: ``NN_slug.ipynb`` notebooks, found and named.

A chapter is a notebook ``NN_slug.ipynb`` in ``solutions/`` (the reference
version) with a student twin of the same name in ``chapters/``.
:func:`list_chapters` finds them, :func:`resolve_chapter` turns what a person
types ("01", "1", a file name, a slug, a path) into a :class:`Chapter`, and
:data:`CHAPTER_FILE` is the one definition of a chapter's file name, used by
release and the grader too.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..errors import NotebookError
from ..runtime import paths
from .cells import cell_source

#: A chapter's file name, ``NN_slug.ipynb``; group 1 is the number ``NN``.
CHAPTER_FILE = re.compile(r"^(\d{2})_[A-Za-z0-9_\-]+\.ipynb$")


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
        for line in cell_source(cell).splitlines():
            stripped = line.strip()
            if stripped.startswith("#"):
                title = stripped.lstrip("#").strip()
                if title:
                    return title
    return None


def _chapter_from_path(path: Path, chapters_directory: Path | None = None) -> Chapter:
    path = Path(path)
    stem = path.stem
    match = CHAPTER_FILE.match(path.name)
    number = match.group(1) if match else stem.split("_", 1)[0]
    student_dir = chapters_directory if chapters_directory is not None else paths.chapters_dir()
    return Chapter(
        number=number,
        stem=stem,
        title=_notebook_title(path) or stem,
        solution=path,
        student=Path(student_dir) / path.name,
    )


def chapter_files(directory: str | os.PathLike) -> list[Path]:
    """The ``NN_slug.ipynb`` files directly in ``directory``, sorted by name."""
    return sorted(p for p in Path(directory).iterdir() if p.is_file() and CHAPTER_FILE.match(p.name))


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
    return [_chapter_from_path(p, chapters_directory) for p in chapter_files(directory)]


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
