"""Checks for chapter 02 (transfer learning).

* ``02.mean_pool``: ``f(hidden [B, T, H], mask [B, T]) -> [B, H]``, the mean of the real tokens' states;
* ``02.head_logits``: ``f(hidden, pooler_weight, pooler_bias, weight, bias) -> [B, C]``, a BERT
  classifier's head (the ``[CLS]`` state, the pooler's dense layer and tanh, the linear layer);
* ``02.macro_f1``: ``f(y_true, y_pred, num_classes) -> float``, the mean F1 over classes.

The references are bound as default arguments when this module is imported, so
patching ``textrnn_lab.transfer`` later changes nothing.
"""
from __future__ import annotations

import torch

from ..transfer.classifier import head_logits as _ref_head_logits
from ..transfer.metrics import macro_f1 as _ref_macro_f1
from ..transfer.pooling import mean_pool as _ref_mean_pool
from . import CheckFailed, register
from .compare import as_float, expect_callable, expect_close, expect_tensor, plain


def _seed(rng) -> int:
    return int(rng.integers(0, 2**31 - 1))


def _mask(rng, batch: int, steps: int, case: int) -> torch.Tensor:
    """Right padding (every row at least one real token); left padding in some later cases."""
    lengths = rng.integers(1, steps + 1, size=batch)
    lengths[0] = steps if case % 3 == 0 else lengths[0]
    mask = torch.zeros(batch, steps, dtype=torch.long)
    for row, n in enumerate(lengths):
        if case >= 8 and case % 2:
            mask[row, steps - int(n):] = 1
        else:
            mask[row, :int(n)] = 1
    return mask


# --------------------------------------------------------------------------- mean pooling


@register(
    "02.mean_pool",
    hints={
        "shape": ("one vector per text: the time dimension disappears, the batch and the features stay",
                  "the result has shape [B, H]: average over dimension 1 of the [B, T, H] states"),
        "values": ("padding positions must count for nothing: neither in the sum nor in how many tokens there are",
                   "weight each state by its mask entry (as a float, with a trailing dimension so it broadcasts over "
                   "the features), add them up over time, and divide by the number of real tokens of that row"),
        "*": ("a sentence vector is the average of the states of its real tokens only",
              "sum the masked states over time and divide by the count of ones in the mask of each row"),
    },
    cases=16,
    forbidden=("textrnn_lab.transfer.pooling.mean_pool", "textrnn_lab.layers.pretrained.embed_sentences"),
)
def _check_mean_pool(func, rng, cases, _reference=_ref_mean_pool):
    expect_callable(func, "mean_pool(hidden, mask)")
    for case in range(cases):
        batch, steps, size = int(rng.integers(1, 5)), int(rng.integers(1, 9)), int(rng.integers(1, 7))
        gen = torch.Generator().manual_seed(_seed(rng))
        hidden = torch.randn(batch, steps, size, generator=gen)
        mask = _mask(rng, batch, steps, case)
        if case % 4 == 2:
            mask = mask.float()
        expected = _reference(hidden, mask)
        given_h, given_m = hidden.clone(), mask.clone()
        got = func(given_h, given_m)
        context = f"mean_pool(hidden of shape {tuple(hidden.shape)}, mask {mask.tolist()})"
        if not torch.equal(given_h, hidden) or not torch.equal(given_m, mask):
            raise CheckFailed(f"{context}: your function changed its inputs; compute on new tensors.", kind="inputs")
        expect_tensor(got, expected, context=context, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- the classification head


@register(
    "02.head_logits",
    hints={
        "shape": ("the head reads ONE token per text and gives one score per class",
                  "take the first position of the [B, T, H] states to get [B, H]; the last layer's weight is "
                  "[C, H], so the result is [B, C]"),
        "*": ("a BERT classifier reads the state of its first token ([CLS]), passes it through the pooler (a dense "
              "layer followed by tanh), then through a linear layer to the class scores",
              "a linear layer computes x times the transposed weight plus the bias; apply it twice, with the tanh "
              "between them and no softmax at the end (the scores are logits)"),
    },
    cases=12,
    forbidden=("textrnn_lab.transfer.classifier.head_logits",),
)
def _check_head_logits(func, rng, cases, _reference=_ref_head_logits):
    expect_callable(func, "head_logits(hidden, pooler_weight, pooler_bias, weight, bias)")
    for _case in range(cases):
        batch, steps = int(rng.integers(1, 5)), int(rng.integers(1, 7))
        size, classes = int(rng.integers(2, 9)), int(rng.integers(2, 5))
        gen = torch.Generator().manual_seed(_seed(rng))
        args = (torch.randn(batch, steps, size, generator=gen), torch.randn(size, size, generator=gen) * 0.5,
                torch.randn(size, generator=gen) * 0.1, torch.randn(classes, size, generator=gen),
                torch.randn(classes, generator=gen))
        expected = _reference(*args)
        got = func(*(a.clone() for a in args))
        context = (f"head_logits(hidden {tuple(args[0].shape)}, pooler_weight {tuple(args[1].shape)}, "
                   f"weight {tuple(args[3].shape)})")
        if isinstance(got, torch.Tensor) and tuple(plain(got).shape) == (batch, classes):
            probs = expected.softmax(-1)
            if torch.allclose(plain(got).detach().float(), probs, atol=1e-5) and not torch.allclose(
                    expected, probs, atol=1e-5):
                raise CheckFailed(f"{context}: these are probabilities; the head returns logits (no softmax).",
                                  kind="values")
        expect_tensor(got, expected, context=context, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- macro-F1


@register(
    "02.macro_f1",
    hints={
        "*": ("F1 is computed for each class on its own (that class against all the others), then averaged with "
              "equal weight per class, so a rare class counts as much as a frequent one",
              "for a class: true positives, predicted count and actual count; its F1 is twice the true positives "
              "over the sum of the predicted and actual counts. Leave out of the mean a class that is neither "
              "present nor predicted"),
    },
    cases=20,
    forbidden=("textrnn_lab.transfer.metrics.macro_f1", "textrnn_lab.transfer.metrics.per_class_f1",
               "textrnn_lab.transfer.metrics.confusion_matrix"),
)
def _check_macro_f1(func, rng, cases, _reference=_ref_macro_f1):
    expect_callable(func, "macro_f1(y_true, y_pred, num_classes)")
    for case in range(cases):
        classes = int(rng.integers(2, 6))
        n = int(rng.integers(1, 30))
        y_true = [int(v) for v in rng.integers(0, classes, size=n)]
        if case == 0:
            y_pred = list(y_true)
        elif case == 1:
            y_true, y_pred = [0] * 9 + [1], [0] * 10       # the majority answer
        elif case % 3 == 2:                                # a class never present nor predicted
            y_true = [min(v, classes - 2) for v in y_true]
            y_pred = [int(v) for v in rng.integers(0, classes - 1, size=n)]
        else:
            y_pred = [int(v) for v in rng.integers(0, classes, size=n)]
        n = len(y_true)
        expected = _reference(y_true, y_pred, classes)
        got = func(list(y_true), list(y_pred), classes)
        context = f"macro_f1({y_true}, {y_pred}, num_classes={classes})"
        expect_close(as_float(got, context=context), expected, context=context, rel=1e-6, abs_tol=1e-9)
