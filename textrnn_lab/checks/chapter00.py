"""Checks for chapter 00 (setup and tour): ``00.one_hot`` and ``00.perplexity``.

The references are bound as default arguments when this module is imported, so
patching ``torch.nn.functional.one_hot`` or ``math.exp`` later changes nothing.
"""
from __future__ import annotations

import math

import torch

from . import register
from .compare import as_float, brief, expect_callable, expect_close, expect_tensor


def _one_hot_input(rng, case: int) -> tuple[tuple[int, ...], int, torch.Tensor]:
    if case == 0:  # a single element, a single class
        shape, num_classes = (1,), 1
    elif case == 1:  # several elements, one class: every row is [1.0]
        shape, num_classes = (int(rng.integers(2, 6)),), 1
    elif case == 2:  # indices far below num_classes: the width must come from num_classes
        shape, num_classes = (int(rng.integers(1, 4)), int(rng.integers(1, 4))), int(rng.integers(6, 10))
        return shape, num_classes, torch.zeros(shape, dtype=torch.long)
    elif rng.random() < 0.5:
        shape, num_classes = (int(rng.integers(1, 13)),), int(rng.integers(1, 13))
    else:
        shape, num_classes = (int(rng.integers(1, 6)), int(rng.integers(1, 6))), int(rng.integers(1, 13))
    indices = torch.from_numpy(rng.integers(0, num_classes, size=shape)).to(torch.long)
    return shape, num_classes, indices


@register(
    "00.one_hot",
    hints={
        "shape": ("the result has one more dimension than the indices: a row of length num_classes for each index",
                  "the last dimension is num_classes, whatever the largest index is; the leading dimensions are "
                  "those of the indices, unchanged"),
        "dtype": ("the result holds floating-point zeros and ones (float32), not integers or booleans",),
        "*": ("each row is all zeros except a single one, in the column named by its index",
              "start from a float32 tensor of zeros of the final shape, then write a one into each row at the "
              "column its index gives (indexing with the indices, or a scatter along the last dimension)"),
    },
    forbidden=("torch.nn.functional.one_hot", "torch._C._nn.one_hot"),
)
def _check_one_hot(one_hot, rng, cases, _reference=torch.nn.functional.one_hot):
    expect_callable(one_hot, "one_hot(indices, num_classes)")
    for case in range(cases):
        shape, num_classes, indices = _one_hot_input(rng, case)
        expected = _reference(indices, num_classes).to(torch.float32)
        got = one_hot(indices.clone(), num_classes)
        context = f"one_hot({brief(indices)}, num_classes={num_classes})"
        expect_tensor(got, expected, context=context)


@register(
    "00.perplexity",
    hints=("perplexity undoes the logarithm in the loss: it is the number of equally likely choices that would "
           "give the same mean negative log-likelihood",
           "the loss is in nats (natural logarithm), so the inverse is the exponential function with base e; "
           "a loss of 0 gives perplexity 1"),
    forbidden=("textrnn_lab.lm.evaluation.perplexity",),
)
def _check_perplexity(perplexity, rng, cases, _exp=math.exp):
    expect_callable(perplexity, "perplexity(mean_nll_nats)")
    for case in range(cases):
        if case == 0:
            value = 0.0  # a perfect model: perplexity 1
        elif case == 1:
            value = math.log(65.0)  # uniform over 65 characters
        else:
            value = float(rng.uniform(0.0, 8.0))
        context = f"perplexity({value!r})"
        got = as_float(perplexity(value), context=context)
        expect_close(got, _exp(value), context=context, rel=1e-6)
