"""A submission (``id,label`` CSV) written, read and checked, and scored against the held labels.

::

    write_submission("runs/challenge09/submission.csv", data.test_ids, predicted_labels)
    score = score_submission("runs/challenge09/submission.csv", "runs/challenge09/organisers/test_labels.json")
    score.accuracy, score.macro_f1, score.per_class

A submission is a UTF-8 CSV file whose first line is ``id,label`` and which has
exactly one row per test id, each with a known label. Anything else (a missing,
unknown or repeated id, an unknown or empty label, another header, another file
type) is one :class:`SubmissionError` that says what to fix.

Accuracy and macro-F1 are chapter 02's (:mod:`textrnn_lab.transfer.metrics`),
here on label names instead of class ids. Macro-F1 is the mean over the classes
of each class's F1 (the harmonic mean of its precision and recall), so every
class counts the same whatever its size; accuracy counts every example the same.
"""
from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..errors import CourseError
from ..runtime.files import atomic_write
from ..transfer.metrics import accuracy as _accuracy
from ..transfer.metrics import confusion_matrix
from ..transfer.metrics import macro_f1 as _macro_f1
from .challenge import read_labels_file

HEADER = ("id", "label")


class SubmissionError(CourseError):
    """A submission file that cannot be scored as it is."""


# --------------------------------------------------------------------------- the metrics (chapter 02's, on labels)


def _as_ids(y_true: Sequence, y_pred: Sequence, labels: Sequence | None) -> tuple[list, list[int], list[int]]:
    if len(y_true) != len(y_pred):
        raise CourseError(f"{len(y_true)} true labels but {len(y_pred)} predictions.")
    if not len(y_true):
        raise CourseError("no labels to score.")
    classes = list(labels) if labels is not None else sorted(set(y_true) | set(y_pred), key=str)
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({str(v) for v in (*y_true, *y_pred) if v not in index})
    if unknown:
        raise CourseError(f"label(s) {', '.join(unknown[:3])} are not among the classes {classes}.")
    return classes, [index[t] for t in y_true], [index[p] for p in y_pred]


def accuracy(y_true: Sequence, y_pred: Sequence) -> float:
    """The share of positions where ``y_pred`` equals ``y_true`` (labels of any kind)."""
    _, true, pred = _as_ids(y_true, y_pred, None)
    return _accuracy(true, pred)


def per_class_scores(y_true: Sequence, y_pred: Sequence, labels: Sequence | None = None) -> dict:
    """``{label: {"precision", "recall", "f1", "support"}}``; classes default to the sorted union of both lists.

    A class never predicted has precision 0, one never present recall 0 (and F1 0 when both are 0).
    """
    classes, true, pred = _as_ids(y_true, y_pred, labels)
    matrix = confusion_matrix(true, pred, len(classes)).double()   # [C, C], rows: true class
    hits, predicted, present = matrix.diag(), matrix.sum(dim=0), matrix.sum(dim=1)
    scores = {}
    for c, name in enumerate(classes):
        precision = float(hits[c] / predicted[c]) if predicted[c] else 0.0
        recall = float(hits[c] / present[c]) if present[c] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[name] = {"precision": precision, "recall": recall, "f1": f1, "support": int(present[c])}
    return scores


def macro_f1(y_true: Sequence, y_pred: Sequence, labels: Sequence | None = None) -> float:
    """Chapter 02's macro-F1 on labels of any kind (classes: ``labels``, or the sorted union of both lists)."""
    classes, true, pred = _as_ids(y_true, y_pred, labels)
    return _macro_f1(true, pred, len(classes))


@dataclass
class Score:
    """What :func:`score_submission` measured."""

    accuracy: float
    macro_f1: float
    n: int
    per_class: dict = field(default_factory=dict)

    def line(self) -> str:
        return f"accuracy={self.accuracy:.4f} macro_f1={self.macro_f1:.4f} (n={self.n})"


# --------------------------------------------------------------------------- the file


def write_submission(path, ids: Sequence[str], labels: Sequence[str]):
    """Write ``id,label`` rows (atomically) and return the path."""
    ids, labels = [str(i) for i in ids], [str(v) for v in labels]
    if len(ids) != len(labels):
        raise SubmissionError(f"{len(ids)} ids but {len(labels)} labels.", hint="give one label per test id")
    if not ids:
        raise SubmissionError("nothing to write: no ids.")
    repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
    if repeated:
        raise SubmissionError(f"id {repeated[0]!r} is given more than once.")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(zip(ids, labels))
    return atomic_write(path, buffer.getvalue())


def _few(items, k: int = 3) -> str:
    items = sorted(items)
    shown = ", ".join(repr(i) for i in items[:k])
    return shown + (f" and {len(items) - k} more" if len(items) > k else "")


def read_submission(path, expected_ids: Sequence[str] | None = None,
                    allowed_labels: Sequence[str] | None = None) -> dict[str, str]:
    """``{id: label}`` from a submission file, checked; the first problem found is a :class:`SubmissionError`.

    ``expected_ids``: the test ids (every one must appear exactly once, and no
    other); ``allowed_labels``: the label names a row may use.
    """
    path = Path(path)
    fix = f"a submission is a CSV file whose first line is {','.join(HEADER)}, then one row per test id"
    if not path.exists():
        raise SubmissionError(f"the submission file {path} does not exist.", hint=fix)
    if not path.is_file():
        raise SubmissionError(f"{path} is a folder, not a submission file.", hint=fix)
    if path.suffix.lower() != ".csv":
        raise SubmissionError(f"{path.name} is not a .csv file (it ends in {path.suffix or 'nothing'!r}).", hint=fix)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark (as spreadsheets write) is fine
    except UnicodeDecodeError:
        raise SubmissionError(f"{path.name} is not UTF-8 text (is it a spreadsheet or another binary file?).",
                              hint=fix) from None
    if not text.strip():
        raise SubmissionError(f"{path.name} is empty.", hint=fix)
    if text.lstrip().startswith(("{", "[")):
        raise SubmissionError(f"{path.name} holds JSON, not CSV.", hint=fix)
    rows = list(csv.reader(io.StringIO(text)))
    header = tuple(cell.strip() for cell in rows[0])
    if header != HEADER:
        shown = ",".join(header)[:60]
        raise SubmissionError(f"{path.name}: the first line must be {','.join(HEADER)!r}, not {shown!r}.", hint=fix)
    found: dict[str, str] = {}
    repeated = []
    for number, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue  # blank lines are harmless
        if len(row) != 2:
            raise SubmissionError(f"{path.name}, line {number}: expected 2 fields (id,label), found {len(row)}.",
                                  hint="quote a label that contains a comma")
        doc_id, label = row[0].strip(), row[1].strip()
        if not doc_id or not label:
            raise SubmissionError(f"{path.name}, line {number}: the {'id' if not doc_id else 'label'} is empty.")
        if doc_id in found:
            repeated.append(doc_id)
        found[doc_id] = label
    if repeated:
        raise SubmissionError(f"{path.name}: {len(set(repeated))} id(s) appear more than once: {_few(set(repeated))}.",
                              hint="give each test id exactly one row")
    if not found:
        raise SubmissionError(f"{path.name} has a header but no rows.", hint=fix)
    if expected_ids is not None:
        expected = {str(i) for i in expected_ids}
        unknown = set(found) - expected
        if unknown:
            raise SubmissionError(f"{path.name}: {len(unknown)} id(s) are not test ids: {_few(unknown)}.",
                                  hint="predict the files of the test/ folder, named by their id")
        missing = expected - set(found)
        if missing:
            raise SubmissionError(f"{path.name}: {len(missing)} of the {len(expected)} test ids are missing: "
                                  f"{_few(missing)}.", hint="give every test id one row")
    if allowed_labels is not None:
        allowed = {str(v) for v in allowed_labels}
        strange = sorted(set(found.values()) - allowed)
        if strange:
            raise SubmissionError(f"{path.name}: unknown label(s) {_few(strange)}.",
                                  hint=f"the labels are: {', '.join(sorted(allowed))}")
    return found


def score_submission(submission, labels_file, label_names: Sequence[str] | None = None) -> Score:
    """Check ``submission`` against the held ``{id: label}`` JSON file and score it: a :class:`Score`.

    ``label_names`` (default: the labels present in the held file) are the labels a row may use.
    """
    held = read_labels_file(labels_file)
    names = sorted(set(held.values())) if label_names is None else [str(n) for n in label_names]
    found = read_submission(submission, expected_ids=list(held), allowed_labels=names)
    ids = sorted(held)
    y_true, y_pred = [held[i] for i in ids], [found[i] for i in ids]
    return Score(accuracy=accuracy(y_true, y_pred), macro_f1=macro_f1(y_true, y_pred, names), n=len(ids),
                 per_class=per_class_scores(y_true, y_pred, names))
