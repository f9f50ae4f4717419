"""How good a classifier is: accuracy, macro-F1 and the confusion matrix, from class ids.

::

    matrix = confusion_matrix(y_true, y_pred, num_classes)   # LongTensor[C, C], rows: true class
    accuracy(y_true, y_pred), macro_f1(y_true, y_pred, num_classes)

Macro-F1 averages the F1 of each class, so a rare class counts as much as a
frequent one: a model that always answers the majority class has a high accuracy
on unbalanced data but a low macro-F1. A class never predicted and never present
is left out of the mean.
"""
from __future__ import annotations

from typing import Sequence

import torch


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int) -> torch.Tensor:
    """``matrix[i, j]``: the examples of true class ``i`` predicted as ``j``; ``LongTensor[C, C]``."""
    true = torch.as_tensor(list(y_true), dtype=torch.long)
    pred = torch.as_tensor(list(y_pred), dtype=torch.long)
    flat = torch.bincount(true * num_classes + pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def accuracy(y_true: Sequence[int], y_pred: Sequence[int]) -> float:
    """The fraction of predictions equal to the true class."""
    true, pred = list(y_true), list(y_pred)
    return sum(int(a) == int(b) for a, b in zip(true, pred)) / max(1, len(true))


def per_class_f1(matrix: torch.Tensor) -> torch.Tensor:
    """F1 of each class from a confusion matrix (NaN for a class neither present nor predicted)."""
    matrix = matrix.double()
    hits = matrix.diag()                       # [C]
    predicted = matrix.sum(dim=0)              # [C]
    present = matrix.sum(dim=1)                # [C]
    f1 = 2 * hits / (predicted + present)      # [C], = 2PR / (P + R)
    return torch.where(predicted + present > 0, f1, torch.full_like(f1, float("nan")))


def macro_f1(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int) -> float:
    """The mean of the per-class F1 over the classes that are present or predicted."""
    f1 = per_class_f1(confusion_matrix(y_true, y_pred, num_classes))
    return float(f1[~f1.isnan()].mean()) if (~f1.isnan()).any() else 0.0


def format_confusion(matrix: torch.Tensor, label_names: Sequence[str]) -> str:
    """The confusion matrix as a text table: one row per true class, one column per predicted class."""
    names = [str(n) for n in label_names]
    corner = "true \\ predicted"
    first = max([len(n) for n in names] + [len(corner)])
    width = max([len(n) for n in names] + [len(str(int(matrix.max()))) if matrix.numel() else 1])
    head = corner.ljust(first) + "  " + " ".join(n.rjust(width) for n in names)
    rows = [n.ljust(first) + "  " + " ".join(str(int(v)).rjust(width) for v in row)
            for n, row in zip(names, matrix.tolist())]
    return "\n".join([head, *rows])
