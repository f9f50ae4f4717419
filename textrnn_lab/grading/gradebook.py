"""The grade book: ``gradebook.csv``, one row per submission and exercise plus a total.

Columns: ``student, chapter, exercise, points, max_points, status, message``. Each
student's exercise rows are followed by a row whose exercise is ``TOTAL`` (its
status is the submission's status, its message the notes an instructor should
read). The file is rewritten whole after every graded submission, atomically
(a temporary file, fsync, rename), so whatever interrupts a run, the file on disk
is complete and holds every submission graded so far. A later run skips the
(student, chapter) pairs that already have a ``TOTAL`` row, unless forced; a
``TOTAL`` row with status :data:`CLASH` (several submissions with one id, none
graded) does not count as graded.

Student ids are compared in one spelling, :func:`student_id` (Unicode NFC,
whitespace trimmed and collapsed, control and invisible format characters
dropped): the spelling written to the file, the one looked up by a later run and
the one the grader names feedback files after.

Text that came from a student (names, error messages) is written so that a
spreadsheet does not run it as a formula.
"""
from __future__ import annotations

import csv
import io
import os
import time
import unicodedata
from pathlib import Path

from .results import SubmissionResult, format_points

COLUMNS = ("student", "chapter", "exercise", "points", "max_points", "status", "message")
TOTAL = "TOTAL"
#: The status of a TOTAL row that stands for several submissions with the same student id (none of them graded).
CLASH = "clash"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ESCAPED = _FORMULA_START + ("'",)


def student_id(text) -> str:
    """A student's id in its one spelling: NFC, whitespace trimmed and collapsed, no control or format characters.

    ``"  bob "``, ``"bob\\n"`` and ``"bob\\u200b"`` (a zero-width space) all give ``"bob"``; ``"bob  smith"``
    gives ``"bob smith"``.
    """
    value = unicodedata.normalize("NFC", str(text if text is not None else ""))
    value = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in value)  # \n, \t, \x07 ...
    value = "".join(ch for ch in value if unicodedata.category(ch) != "Cf")  # zero-width spaces, BOMs, bidi marks
    return " ".join(value.split())


def _safe(text) -> str:
    """One line, and never the start of a spreadsheet formula (a leading quote is doubled, so it reads back)."""
    value = " ".join(str(text if text is not None else "").split())
    if value.startswith(_ESCAPED):
        value = "'" + value
    return value


def _unsafe(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:2] in _ESCAPED else text


def rows_for(result: SubmissionResult) -> list[dict]:
    """The grade book rows of one submission."""
    rows = []
    for e in result.exercises:
        message = e.message
        if e.hint and e.status == "failed":
            message += f" | hint: {e.hint}"
        if e.notes:
            message += " | " + "; ".join(n.rstrip(".") for n in e.notes)
        rows.append({
            "student": result.student, "chapter": result.chapter, "exercise": e.exercise,
            "points": format_points(e.points), "max_points": format_points(e.max_points),
            "status": e.status, "message": message,
        })
    notes = [result.message] * bool(result.message) + result.tampering + result.notes
    total_message = "; ".join(n.rstrip(".") for n in notes)
    rows.append({
        "student": result.student, "chapter": result.chapter, "exercise": TOTAL,
        "points": format_points(result.points), "max_points": format_points(result.max_points),
        "status": result.status, "message": total_message,
    })
    return rows


class Gradebook:
    """The rows of ``gradebook.csv``, grouped by (student, chapter), in memory."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.groups: dict[tuple[str, str], list[dict]] = {}
        self.warning: str | None = None

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Gradebook":
        """Read an existing grade book; an unreadable one is set aside (renamed), never overwritten blindly."""
        book = cls(path)
        if not book.path.exists():
            return book
        try:
            text = book.path.read_text(encoding="utf-8")
            reader = csv.DictReader(io.StringIO(text))
            if reader.fieldnames is None and not text.strip():
                return book
            if tuple(reader.fieldnames or ()) != COLUMNS:
                raise ValueError(f"unexpected columns {reader.fieldnames}")
            for row in reader:
                row = {k: _unsafe(row.get(k) or "") for k in COLUMNS}
                row["student"] = student_id(row["student"])
                book.groups.setdefault((row["student"], row["chapter"]), []).append(row)
        except (OSError, ValueError, csv.Error) as exc:
            aside = book.path.with_name(f"{book.path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
            os.replace(book.path, aside)
            book.groups.clear()
            book.warning = f"{book.path} could not be read ({exc}); it was moved to {aside.name} and a new one started."
        return book

    def total(self, student: str, chapter: str) -> dict | None:
        """The TOTAL row of (student, chapter), or None; ``student`` in any spelling (see :func:`student_id`)."""
        return next((r for r in self.groups.get((student_id(student), chapter), []) if r["exercise"] == TOTAL), None)

    def graded(self, student: str, chapter: str) -> bool:
        """True when (student, chapter) already has a TOTAL row (one that is not a :data:`CLASH`)."""
        row = self.total(student, chapter)
        return row is not None and row["status"] != CLASH

    def put(self, result: SubmissionResult) -> None:
        rows = rows_for(result)
        for row in rows:
            row["student"] = student_id(row["student"])
        self.groups[(student_id(result.student), result.chapter)] = rows

    def text(self) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for key in sorted(self.groups, key=lambda k: (k[1], k[0])):
            for row in self.groups[key]:
                writer.writerow({k: _safe(row.get(k, "")) for k in COLUMNS})
        return out.getvalue()

    def save(self) -> Path:
        from ..runtime.files import atomic_write

        return atomic_write(self.path, self.text().encode("utf-8"))

    def totals(self, chapter: str | None = None) -> list[dict]:
        return [r for (s, c), rows in sorted(self.groups.items()) for r in rows
                if r["exercise"] == TOTAL and (chapter is None or c == chapter)]
