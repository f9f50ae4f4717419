"""A labelled CSV read and checked, its labels turned into class ids, and the stratified split.

::

    data = read_labelled_texts("reviews.csv", text_column="text", label_column="label")
    data.texts[:2], data.labels[:2], data.label_names     # ['Great!', 'Meh.'], [1, 0], ['bad', 'good']
    train_index, test_index = stratified_split(data.labels, test_fraction=0.2, seed=0)

Every way a file can be unusable for a classifier is one :class:`~textrnn_lab.errors.DataError`
that says what to change: a missing file or column, a file that is not UTF-8, empty texts
or labels, fewer than two classes, a class with a single example (it cannot be in both
the training and the held-out part), or a label column of decimal numbers (a score, not
a class). The file checks themselves come from :func:`textrnn_lab.data.userfiles.read_labelled_csv`.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from ..data.userfiles import read_labelled_csv
from ..errors import DataError


@dataclass
class LabelledTexts:
    """Texts with class ids: ``labels[i]`` indexes ``label_names``."""

    texts: list[str]
    labels: list[int]
    label_names: list[str]
    source: str = ""
    counts: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index: Sequence[int]) -> "LabelledTexts":
        """The rows ``index`` (in that order), with the same label names."""
        texts = [self.texts[i] for i in index]
        labels = [self.labels[i] for i in index]
        counts = Counter(self.label_names[y] for y in labels)
        return LabelledTexts(texts, labels, list(self.label_names), self.source,
                             {name: counts.get(name, 0) for name in self.label_names})


def _label_strings(values, path: Path, column: str) -> list[str]:
    """Labels as text; a column of decimal numbers is refused (a score needs bins first)."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(values):
        return [str(v) for v in values]
    if pd.api.types.is_float_dtype(values):
        fractional = values[(values % 1) != 0]
        if len(fractional):
            shown = ", ".join(f"{v:g}" for v in fractional.unique()[:3])
            raise DataError(
                f"the label column {column!r} of {path} holds decimal numbers ({shown}, ...): "
                "that is a score, not a class.",
                hint="a classifier needs one class name per row: bin the scores first, e.g. "
                     "'positive' where the score is above 0 and 'negative' otherwise, or use --label-column "
                     "to pick the column that holds the class",
            )
        return [str(int(v)) for v in values]
    return [str(v).strip() for v in values]


def check_classes(labels: Sequence[str], where: str, min_per_class: int = 2) -> None:
    """At least two classes, each with at least ``min_per_class`` examples, or one :class:`DataError`."""
    counts = Counter(labels)
    if len(counts) < 2:
        only = next(iter(counts), None)
        raise DataError(f"every row of {where} has the same label {only!r}; a classifier needs two classes or more.",
                        hint="add examples of another class")
    rare = sorted(name for name, n in counts.items() if n < min_per_class)
    if rare:
        shown = ", ".join(f"{name!r} ({counts[name]})" for name in rare[:5])
        raise DataError(
            f"{where} has {'a class' if len(rare) == 1 else 'classes'} with fewer than {min_per_class} "
            f"examples: {shown}; such a class cannot be both learned and tested.",
            hint="add examples of it, merge it into another class, or delete its rows",
        )


def read_labelled_texts(path, text_column: str = "text", label_column: str = "label",
                        label_names: Sequence[str] | None = None, min_per_class: int = 2) -> LabelledTexts:
    """Read a labelled CSV (or TSV) into :class:`LabelledTexts`, refusing anything a classifier cannot use.

    ``label_names``: the classes of an already trained model (a test file must not bring a new
    one); by default the sorted labels of this file. ``min_per_class``: the fewest examples a
    class may have (2: one to learn from, one to test on; a test file passes 1).
    """
    p = Path(path).expanduser() if path is not None else path
    frame = read_labelled_csv(p, text_column=text_column, label_column=label_column)
    labels = _label_strings(frame[label_column], p, label_column)
    texts = [str(t) for t in frame[text_column]]
    if label_names is None:
        check_classes(labels, str(p), min_per_class)
        label_names = sorted(set(labels))
    else:
        label_names = [str(name) for name in label_names]
        unknown = sorted(set(labels) - set(label_names))
        if unknown:
            raise DataError(
                f"{p} has labels the training file does not have: {', '.join(repr(u) for u in unknown[:5])}.",
                hint=f"the model knows only {', '.join(repr(n) for n in label_names)}; fix or drop those rows",
            )
    index = {name: i for i, name in enumerate(label_names)}
    counts = Counter(labels)
    return LabelledTexts(texts, [index[y] for y in labels], list(label_names), str(p),
                         {name: counts.get(name, 0) for name in label_names})


def stratified_split(labels: Sequence[int], test_fraction: float = 0.2,
                     seed: int = 0) -> tuple[list[int], list[int]]:
    """``(train_index, test_index)``: each class split ``1 - test_fraction`` / ``test_fraction``.

    Every class keeps at least one example on each side (so a class needs two); within a
    class the rows are shuffled with ``seed``; both lists come back sorted.
    """
    if not 0 < test_fraction < 1:
        raise DataError(f"test_fraction must be between 0 and 1, not {test_fraction!r}.")
    gen = torch.Generator().manual_seed(int(seed))
    by_class: dict[int, list[int]] = {}
    for i, y in enumerate(labels):
        by_class.setdefault(int(y), []).append(i)
    train, test = [], []
    for y in sorted(by_class):
        rows = by_class[y]
        if len(rows) < 2:
            raise DataError(f"class {y} has a single example, which cannot be both trained and tested on.",
                            hint="add examples of it, or delete it")
        order = [rows[i] for i in torch.randperm(len(rows), generator=gen).tolist()]
        n_test = min(len(rows) - 1, max(1, round(test_fraction * len(rows))))
        test.extend(order[:n_test])
        train.extend(order[n_test:])
    return sorted(train), sorted(test)


def stratified_sample(labels: Sequence[int], size: int, seed: int = 0) -> list[int]:
    """Exactly ``size`` row numbers, drawn without replacement, the classes in their proportions (sorted).

    Each class gets its share of ``size`` rounded by largest remainder, and at least one row
    while ``size`` allows it.
    """
    n = len(labels)
    if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= n:
        raise DataError(f"cannot draw {size!r} examples from {n}.")
    gen = torch.Generator().manual_seed(int(seed))
    by_class: dict[int, list[int]] = {}
    for i, y in enumerate(labels):
        by_class.setdefault(int(y), []).append(i)
    classes = sorted(by_class)
    exact = {y: size * len(by_class[y]) / n for y in classes}
    quota = {y: min(len(by_class[y]), max(1, int(exact[y]))) for y in classes}
    while sum(quota.values()) > size:  # more classes than rows asked for: the largest classes first
        y = min((y for y in classes if quota[y] > 0), key=lambda c: (exact[c], c))
        quota[y] -= 1
    for y in sorted(classes, key=lambda c: (int(exact[c]) - exact[c], c)):
        if sum(quota.values()) >= size:
            break
        if quota[y] < len(by_class[y]):
            quota[y] += 1
    for y in classes:                  # classes already full leave room to the others
        quota[y] += min(len(by_class[y]) - quota[y], size - sum(quota.values()))
    chosen = []
    for y in classes:
        rows = by_class[y]
        chosen.extend(rows[i] for i in torch.randperm(len(rows), generator=gen)[:quota[y]].tolist())
    return sorted(chosen)
