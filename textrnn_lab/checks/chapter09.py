"""Checks for chapter 09 (the BERT-LSTM challenge).

* ``09.last_real_state``: ``f(outputs [B, T, H], mask [B, T]) -> [B, H]``, each row's output at its last real
  token of a right-padded batch (the fix of ``outputs[:, -1, :]``);
* ``09.macro_f1``: ``f(y_true, y_pred) -> float``, the unweighted mean of the per-class F1 scores over the
  classes found in either list.

The references are bound as default arguments when this module is imported, so
patching ``textrnn_lab.transfer`` or ``textrnn_lab.bert_lstm`` later changes nothing.
"""
from __future__ import annotations

import torch

from ..bert_lstm.scoring import accuracy as _ref_accuracy
from ..bert_lstm.scoring import macro_f1 as _ref_macro_f1
from ..bert_lstm.scoring import per_class_scores as _ref_per_class
from ..transfer.encoder_rnn import last_real_position as _ref_last_real_position
from . import CheckFailed, register
from .compare import as_float, expect_callable, expect_close, expect_tensor, plain

# --------------------------------------------------------------------------- the last real position


def _padded_case(rng, case: int):
    """(outputs [B, T, H], mask [B, T], description) for one case: right padding, rows of different lengths."""
    if case == 0:
        lengths, hidden = [4, 2, 1], 3       # a full row, a half row, a single token
    elif case == 1:
        lengths, hidden = [1, 5], 2
    elif case == 2:
        lengths, hidden = [3], 4             # one text, no padding
    else:
        batch = int(rng.integers(1, 7))
        lengths = [int(n) for n in rng.integers(1, 11, size=batch)]
        hidden = int(rng.integers(1, 6))
    steps = max(lengths) + (int(rng.integers(0, 3)) if case >= 3 else 0)   # sometimes padded past the longest
    gen = torch.Generator().manual_seed(int(rng.integers(0, 2**31 - 1)))
    outputs = torch.randn(len(lengths), steps, hidden, generator=gen)      # [B, T, H]
    mask = torch.zeros(len(lengths), steps, dtype=torch.long)              # [B, T]
    for row, n in enumerate(lengths):
        mask[row, :n] = 1
    kind = case % 3 if case >= 3 else 0
    if kind == 1:
        mask = mask.bool()
    elif kind == 2:
        mask = mask.float()
    return outputs, mask, lengths


@register(
    "09.last_real_state",
    hints={
        "padding": ("in a right-padded batch the last positions of a shorter row are padding: its summary is where "
                    "its real tokens end, not at the end of the tensor",
                    "count each row's real tokens from the mask (ones are real, zeros padding); the last real "
                    "token sits one position before that count, and each row needs the output at its own position"),
        "shape": ("one vector per text: the result has shape [B, H]",
                  "pick one time step per row, so the time dimension disappears while the batch and hidden "
                  "dimensions stay"),
        "*": ("each row of the batch has its own last real token, found from the attention mask (1 for a real "
              "token, 0 for padding)",
              "the number of ones in a row of the mask is that row's length; for every row take the output vector "
              "at position length minus one; the mask may come as integers, booleans or floats"),
    },
    cases=20,
    forbidden=("textrnn_lab.transfer.encoder_rnn.last_real_position",
               "textrnn_lab.transfer.encoder_rnn.last_real_index", "torch.nn.utils.rnn.pack_padded_sequence"),
)
def _check_last_real_state(func, rng, cases, _reference=_ref_last_real_position, _equal=torch.equal):
    expect_callable(func, "last_real_state(outputs, mask)")
    for case in range(cases):
        outputs, mask, lengths = _padded_case(rng, case)
        expected = _reference(outputs, mask)                               # [B, H]
        given_outputs, given_mask = outputs.clone(), mask.clone()
        got = func(given_outputs, given_mask)
        context = (f"last_real_state(outputs of shape {tuple(outputs.shape)}, a {mask.dtype} mask with row "
                   f"lengths {lengths})")
        if not (_equal(given_outputs, outputs) and _equal(given_mask, mask)):
            raise CheckFailed(f"{context}: your function changed its inputs; read them, do not write into them.")
        if isinstance(got, torch.Tensor):
            got = plain(got)
            if tuple(got.shape) != tuple(expected.shape):
                raise CheckFailed(f"{context}: expected shape {tuple(expected.shape)} (one vector per text), got "
                                  f"{tuple(got.shape)}.", kind="shape")
            if got.dtype == expected.dtype:
                for row, n in enumerate(lengths):
                    if n < outputs.shape[1] and _equal(got[row], outputs[row, -1]) \
                            and not _equal(got[row], expected[row]):
                        raise CheckFailed(f"{context}: row {row} has {n} real token(s) of {outputs.shape[1]}, and "
                                          f"you returned its output at position {outputs.shape[1] - 1}, a padding "
                                          f"position (the bug of reading the last column).", kind="padding")
        expect_tensor(got, expected, context=context)


# --------------------------------------------------------------------------- macro-F1


def _labels_case(rng, case: int) -> tuple[list, list]:
    if case == 0:
        return (["positive", "negative", "positive", "positive", "negative", "positive"],
                ["positive", "positive", "positive", "negative", "negative", "positive"])
    if case == 1:  # a class that is never predicted
        return ["a", "b", "c", "a", "c", "b", "a"], ["a", "a", "c", "a", "c", "a", "c"]
    if case == 2:  # a predicted class that never occurs: it counts too
        return [0, 0, 1, 1, 1, 0], [0, 2, 1, 1, 0, 0]
    if case == 3:  # everything right
        return ["x", "y", "y", "x"], ["x", "y", "y", "x"]
    if case == 4:  # one class only, all right
        return ["spam"] * 3, ["spam"] * 3
    if case == 5:  # imbalanced: accuracy and macro-F1 part ways
        return ["neg"] * 9 + ["pos"], ["neg"] * 10
    n_classes = int(rng.integers(2, 6))
    names = [f"c{k}" for k in range(n_classes)] if rng.random() < 0.5 else list(range(n_classes))
    n = int(rng.integers(1, 40))
    y_true = [names[int(k)] for k in rng.integers(0, n_classes, size=n)]
    y_pred = [t if rng.random() < 0.6 else names[int(rng.integers(0, n_classes))] for t in y_true]
    return y_true, y_pred


def _weighted_f1(y_true, y_pred, per_class) -> float:
    total = len(y_true)
    return sum(s["f1"] * s["support"] for s in per_class.values()) / total


@register(
    "09.macro_f1",
    hints={
        "accuracy": ("you returned the accuracy (the share of right answers); macro-F1 scores every class on its own "
                     "and then averages the classes",
                     "for each class count true positives, predicted positives and actual positives; precision, "
                     "recall and F1 follow, and the mean of the class F1 scores is the answer"),
        "weighted": ("that is the F1 averaged with weights by class size; macro-F1 gives every class the same "
                     "weight",
                     "add the per-class F1 scores and divide by the number of classes"),
        "classes": ("a label that was predicted but never occurs is a class too: take the classes from both lists",
                    "its recall is undefined and its precision zero, so its F1 is zero and it lowers the mean"),
        "*": ("macro-F1 is the unweighted mean over the classes of each class's F1, the harmonic mean of its "
              "precision and recall",
              "for a class c: precision is the true positives over the times c was predicted, recall the true "
              "positives over the times c occurs; a zero denominator gives 0, and F1 is 0 when precision and "
              "recall are both 0; the classes are those found in either list"),
    },
    cases=25,
    forbidden=("textrnn_lab.bert_lstm.scoring.macro_f1", "textrnn_lab.bert_lstm.scoring.per_class_scores",
               "sklearn.metrics.f1_score", "sklearn.metrics.fbeta_score",
               "sklearn.metrics.precision_recall_fscore_support", "sklearn.metrics.classification_report"),
)
def _check_macro_f1(func, rng, cases, _reference=_ref_macro_f1, _per_class=_ref_per_class, _accuracy=_ref_accuracy):
    expect_callable(func, "macro_f1(y_true, y_pred)")
    for case in range(cases):
        y_true, y_pred = _labels_case(rng, case)
        expected = _reference(y_true, y_pred)
        given_true, given_pred = list(y_true), list(y_pred)
        got = func(given_true, given_pred)
        shown = f"{len(y_true)} labels" if len(y_true) > 8 else f"{y_true}, {y_pred}"
        context = f"macro_f1({shown})"
        if given_true != y_true or given_pred != y_pred:
            raise CheckFailed(f"{context}: your function changed the lists it was given.")
        value = as_float(got, context=context)
        if abs(value - expected) <= 1e-9:
            continue
        if abs(value - _accuracy(y_true, y_pred)) <= 1e-9:
            raise CheckFailed(f"{context}: expected {expected:.6g}, got {value:.6g}, which is the accuracy.",
                              kind="accuracy")
        per_class = _per_class(y_true, y_pred)
        true_classes = sorted(set(y_true), key=str)
        if len(true_classes) < len(per_class) and abs(value - _reference(y_true, y_pred, true_classes)) <= 1e-9:
            raise CheckFailed(f"{context}: expected {expected:.6g}, got {value:.6g}: a predicted label that never "
                              f"occurs was left out of the classes.", kind="classes")
        if abs(value - _weighted_f1(y_true, y_pred, per_class)) <= 1e-9:
            raise CheckFailed(f"{context}: expected {expected:.6g}, got {value:.6g}, the F1 weighted by class size.",
                              kind="weighted")
        expect_close(value, expected, context=context, rel=0.0, abs_tol=1e-9)
