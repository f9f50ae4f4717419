"""Checks for chapter 08 (multi-task learning with frozen layers).

* ``08.align_labels``: ``f(word_ids, word_tags) -> list[int]``, word tags spread over sub-tokens
  (the first piece of each word carries the tag, other pieces and special tokens -100);
* ``08.mean_pool``: ``f(hidden [B, T, H], mask [B, T]) -> [B, H]``, the mean of the real token vectors;
* ``08.multitask_loss``: ``f(sentence_logits, token_logits, sentence_labels, token_labels, weights=(1.0, 1.0))``,
  the weighted sum of the sentence and the token cross-entropies.

The references are bound as default arguments when this module is imported, so
patching ``textrnn_lab.multitask`` later changes nothing.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..multitask.loss import multitask_loss as _ref_multitask_loss
from ..multitask.model import mean_pool as _ref_mean_pool
from ..multitask.tags import IGNORE_INDEX, TAGS
from ..multitask.tags import align_labels as _ref_align_labels
from . import CheckFailed, register
from .compare import as_float, brief, expect_callable, expect_close, expect_tensor, plain, type_name

# Real sentences as all-MiniLM-L6-v2's WordPiece tokenizer cuts them (word_ids() of a fast tokenizer):
# words that split into several pieces, [CLS] / [SEP] as None, padding, and truncation inside a word.
_REAL_CASES = (
    # "Arnold Schwarzenegger is back" -> [CLS] arnold schwarz ##ene ##gger is back [SEP]
    ([None, 0, 1, 1, 1, 2, 3, None], [1, 2, 0, 0]),
    # "Kurdish villages near Mosul" -> [CLS] kurdish villages near mo ##sul [SEP] [PAD] [PAD]
    ([None, 0, 1, 2, 3, 3, None, None, None], [7, 0, 0, 5]),
    # "@anonymous loves Wasabi !" -> [CLS] @ anonymous loves was ##abi ! [SEP]
    ([None, 0, 0, 1, 2, 2, 3, None], [0, 0, 5, 0]),
    # truncated to 6 pieces inside "unbelievably": [CLS] peter jackson un ##bel [SEP]
    ([None, 0, 1, 2, 2, None], [1, 2, 0]),
)


def _seed(rng) -> int:
    return int(rng.integers(0, 2**31 - 1))


def _random_alignment(rng, case: int) -> tuple[list, list[int]]:
    words = int(rng.integers(1, 9))
    tags = [int(t) for t in rng.integers(0, len(TAGS), size=words)]
    ids: list = [None]
    for w in range(words):
        ids += [w] * int(rng.choice([1, 1, 2, 3, 4]))
    if case % 3 == 0 and len(ids) > 3:  # truncated: the sentence is cut, possibly inside a word
        ids = ids[:int(rng.integers(2, len(ids)))]
    ids.append(None)
    ids += [None] * int(rng.integers(0, 4))  # padding
    return ids, tags


def _alignment_kind(word_ids, got: list, expected: list) -> str:
    for w, g, e in zip(word_ids, got, expected):
        if g != e:
            if w is None:
                return "special"
            if e == IGNORE_INDEX:
                return "continuation"
            return "values"
    return "values"


@register(
    "08.align_labels",
    hints={
        "length": ("the labels line up with the sub-tokens, not with the words: one label per entry of word_ids",
                   "walk along word_ids and append exactly one label for each entry, whatever it is"),
        "special": ("special tokens ([CLS], [SEP], padding) belong to no word: they must not be trained on",
                    "an entry of word_ids that is None gets the ignore label -100"),
        "continuation": ("a word split into several pieces is still one word with one tag: only one of its pieces "
                         "may carry it",
                         "compare each word id with the one just before it: a piece whose word id equals the "
                         "previous one continues a word and gets -100"),
        "*": ("the first sub-token of every word carries that word's tag; everything else is ignored (-100)",
              "for the first piece of word w the label is the w-th entry of word_tags (a tag id, an int)"),
    },
    cases=30,
    forbidden=("textrnn_lab.multitask.tags.align_labels",),
)
def _check_align_labels(func, rng, cases, _reference=_ref_align_labels):
    expect_callable(func, "align_labels(word_ids, word_tags)")
    for case in range(cases):
        if case < len(_REAL_CASES):
            word_ids, word_tags = (list(x) for x in _REAL_CASES[case])
        else:
            word_ids, word_tags = _random_alignment(rng, case)
        expected = _reference(list(word_ids), list(word_tags))
        context = f"align_labels(word_ids={word_ids}, word_tags={word_tags})"
        got = func(list(word_ids), list(word_tags))
        if isinstance(got, torch.Tensor):
            got = plain(got).tolist()
        if not isinstance(got, (list, tuple)):
            raise CheckFailed(f"{context}: expected a list of ints, got {type_name(got)} {brief(got)}".rstrip() + ".",
                              kind="type")
        if any(isinstance(v, bool) or not isinstance(v, int) and not hasattr(v, "__index__") for v in got):
            raise CheckFailed(f"{context}: every label must be an int, got {brief(list(got))}.", kind="type")
        got = [int(v) for v in got]
        if len(got) != len(expected):
            raise CheckFailed(f"{context}: expected {len(expected)} labels (one per sub-token), got {len(got)}.",
                              kind="length")
        if got != expected:
            kind = _alignment_kind(word_ids, got, expected)
            position = next(i for i, (g, e) in enumerate(zip(got, expected)) if g != e)
            raise CheckFailed(f"{context}: expected {expected}, got {got} (first difference at position {position}, "
                              f"word id {word_ids[position]}).", kind=kind)


# --------------------------------------------------------------------------- the pooled vector


@register(
    "08.mean_pool",
    hints={
        "shape": ("one vector per sentence: the time dimension is averaged away, [B, T, H] becomes [B, H]",
                  "sum over dimension 1 and divide by the number of real tokens of each sentence"),
        "padding": ("padding positions must not count: neither in the sum nor in the number you divide by",
                    "weight every token vector by its mask value (1 real, 0 padding) before summing, and divide by "
                    "the sum of the mask of that sentence"),
        "*": ("the pooled vector is the plain mean of the sentence's real token vectors",
              "broadcast the mask to [B, T, 1] to weight the vectors; a sentence without any real token would "
              "divide by zero, so divide by at least 1"),
    },
    cases=20,
    forbidden=("textrnn_lab.multitask.model.mean_pool", "textrnn_lab.transfer.pooling.mean_pool",
               "textrnn_lab.layers.pretrained.embed_sentences"),
)
def _check_mean_pool(func, rng, cases, _reference=_ref_mean_pool):
    expect_callable(func, "mean_pool(hidden, mask)")
    for case in range(cases):
        gen = torch.Generator().manual_seed(_seed(rng))
        batch, steps, size = int(rng.integers(1, 5)), int(rng.integers(1, 9)), int(rng.integers(1, 7))
        hidden = torch.randn(batch, steps, size, generator=gen)
        lengths = torch.randint(1, steps + 1, (batch,), generator=gen)
        if case == 1:
            lengths[:] = steps  # no padding
        mask = (torch.arange(steps)[None, :] < lengths[:, None]).long()  # [B, T]
        if case >= 10 and case % 3 == 0:
            mask = mask.float()
        if case == 5 and batch > 1:
            mask[0] = 0  # an empty row: the mean of nothing is the zero vector here
        expected = _reference(hidden, mask)
        context = f"mean_pool(hidden of shape {tuple(hidden.shape)}, mask {mask.tolist()})"
        given_hidden, given_mask = hidden.clone(), mask.clone()
        got = func(given_hidden, given_mask)
        if not torch.equal(given_hidden, hidden) or not torch.equal(given_mask, mask):
            raise CheckFailed(f"{context}: your function changed its inputs; compute on new tensors.")
        if isinstance(got, torch.Tensor) and tuple(got.shape) != (batch, size):
            raise CheckFailed(f"{context}: expected shape {(batch, size)}, got {tuple(got.shape)}.", kind="shape")
        if isinstance(got, torch.Tensor) and steps > 1 and bool((mask == 0).any()):
            naive = hidden.mean(dim=1)
            if torch.allclose(plain(got).float(), naive, atol=1e-5) and not torch.allclose(expected, naive, atol=1e-5):
                raise CheckFailed(f"{context}: your result is the mean over every position, padding included.",
                                  kind="padding")
        expect_tensor(got, expected, context=context, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- the combined loss


def _loss_case(rng, case: int):
    gen = torch.Generator().manual_seed(_seed(rng))
    batch, steps = int(rng.integers(1, 6)), int(rng.integers(2, 9))
    classes = int(rng.integers(2, 5))
    tags = len(TAGS) if case % 2 == 0 else int(rng.integers(3, len(TAGS) + 1))
    sentence_logits = torch.randn(batch, classes, generator=gen) * 2
    token_logits = torch.randn(batch, steps, tags, generator=gen) * 2
    sentence_labels = torch.randint(0, classes, (batch,), generator=gen)
    token_labels = torch.randint(0, tags, (batch, steps), generator=gen)
    ignored = torch.rand(batch, steps, generator=gen) < 0.4
    ignored[:, 0] = True  # [CLS]
    token_labels[ignored] = IGNORE_INDEX
    if case == 3:
        token_labels[:] = IGNORE_INDEX  # no labelled sub-token in the whole batch
    weights = None if case < 3 else (float(rng.choice([0.0, 0.5, 1.0, 2.0])), float(rng.choice([0.3, 1.0, 3.0])))
    if case == 4:
        weights = (2.0, 0.5)  # unequal, so that swapped weights show
    return sentence_logits, token_logits, sentence_labels, token_labels, weights


def _mistake(args, weights, got: float, _ce=F.cross_entropy) -> str | None:
    """The kind of a known wrong answer, or None."""
    sentence_logits, token_logits, sentence_labels, token_labels = args
    w = weights or (1.0, 1.0)
    sentence = float(_ce(sentence_logits, sentence_labels))
    keep = token_labels != IGNORE_INDEX
    close = lambda a, b: abs(a - b) <= 1e-4 * max(1.0, abs(b))  # noqa: E731
    if not bool(keep.any()):
        if not math.isfinite(got):
            return "empty"
        return "weights" if close(got, w[1] * sentence) and not close(w[0], w[1]) else None
    per_token = _ce(token_logits.reshape(-1, token_logits.shape[-1]), token_labels.clamp(min=0).reshape(-1),
                    reduction="none").reshape(token_labels.shape) * keep
    token = float(per_token.sum() / keep.sum())
    if close(got, w[1] * sentence + w[0] * token) and not close(w[0], w[1]):
        return "weights"
    if close(got, w[0] * sentence + w[1] * float(per_token.sum() / keep.numel())) or \
            close(got, w[0] * sentence + w[1] * float(per_token.sum())):
        return "average"
    if close(got, w[0] * sentence) or close(got, w[1] * token):
        return "both"
    return None


@register(
    "08.multitask_loss",
    hints={
        "shape": ("the loss is one number for the whole batch: a tensor with no dimensions",
                  "average each cross-entropy over its examples before adding them"),
        "weights": ("the first weight multiplies the sentence loss, the second the token loss",
                    "scale the sentence cross-entropy by the first weight and the token cross-entropy by the second, "
                    "then add the two products"),
        "average": ("the token term is a mean over the labelled sub-tokens only: the -100 positions count neither "
                    "in the sum nor in the number you divide by",
                    "flatten the token logits to [B*T, K] and the labels to [B*T], and let the cross-entropy "
                    "ignore the label -100"),
        "empty": ("a batch may have no labelled sub-token at all; the mean of nothing is NaN, and one NaN ruins "
                  "the training run",
                  "when no token label differs from -100, let the token term be zero (keep it a tensor)"),
        "both": ("both tasks count: the combined loss is the sentence term plus the token term, each weighted",
                 "compute the two cross-entropies separately, weight them, and add them"),
        "*": ("a weighted sum of two cross-entropies: one over the sentence labels, one over the token labels",
              "the sentence term compares [B, C] logits with [B] labels; the token term compares [B, T, K] logits "
              "with [B, T] labels, leaving out -100"),
    },
    cases=20,
    forbidden=("textrnn_lab.multitask.loss.multitask_loss", "textrnn_lab.multitask.loss.loss_parts",
               "textrnn_lab.multitask.loss.token_loss", "textrnn_lab.multitask.train.make_loss_fn"),
)
def _check_multitask_loss(func, rng, cases, _reference=_ref_multitask_loss):
    expect_callable(func, "multitask_loss(sentence_logits, token_logits, sentence_labels, token_labels, weights)")
    for case in range(cases):
        *args, weights = _loss_case(rng, case)
        expected = float(_reference(*args) if weights is None else _reference(*args, weights))
        given = [a.clone() for a in args]
        got = func(*given) if weights is None else func(*given, weights)
        shapes = ", ".join(str(tuple(a.shape)) for a in args)
        context = (f"multitask_loss(tensors of shapes {shapes}, "
                   f"{'default weights' if weights is None else f'weights={weights}'}"
                   f"{', every token label -100' if case == 3 else ''})")
        if any(not torch.equal(g, a) for g, a in zip(given, args)):
            raise CheckFailed(f"{context}: your function changed its inputs.")
        if not isinstance(got, torch.Tensor):  # training calls .backward() on it
            raise CheckFailed(f"{context}: expected a scalar tensor, got {type_name(got)} {brief(got)}".rstrip() + ".",
                              kind="type")
        if got.numel() != 1 or got.dim() > 1:
            raise CheckFailed(f"{context}: expected a scalar tensor, got shape {tuple(got.shape)}.", kind="shape")
        value = as_float(plain(got), context=context)
        if not math.isclose(value, expected, rel_tol=1e-4, abs_tol=1e-6):
            kind = _mistake(args, weights, value)
            if kind is None:
                expect_close(value, expected, context=context, rel=1e-4, abs_tol=1e-6)
            raise CheckFailed(f"{context}: expected {expected:.6g}, got {value:.6g}.", kind=kind)
