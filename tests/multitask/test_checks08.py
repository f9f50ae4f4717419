"""Chapter 08's self-checks: the references pass, known wrong answers fail with the hint for their mistake."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from textrnn_lab import checks
from textrnn_lab import multitask as mt

NAMES = ("08.align_labels", "08.mean_pool", "08.multitask_loss")


def test_the_references_pass():
    for name, ref in zip(NAMES, (mt.align_labels, mt.mean_pool, mt.multitask_loss)):
        assert checks.check(name, ref, seed=0, quiet=True).passed, name
    assert set(checks.available_checks("08")) == set(NAMES)


def _every_piece(word_ids, word_tags):
    return [-100 if w is None else word_tags[w] for w in word_ids]


def _specials_as_O(word_ids, word_tags):
    out, previous = [], None
    for w in word_ids:
        out.append(0 if w is None else (word_tags[w] if w != previous else -100))
        previous = w
    return out


def _last_piece(word_ids, word_tags):
    out = []
    for i, w in enumerate(word_ids):
        last = w is not None and (i + 1 == len(word_ids) or word_ids[i + 1] != w)
        out.append(word_tags[w] if last else -100)
    return out


def _one_per_word(word_ids, word_tags):
    return list(word_tags)


def _mean_with_padding(hidden, mask):
    return hidden.mean(dim=1)


def _sum_pool(hidden, mask):
    return (hidden * mask.unsqueeze(-1)).sum(dim=1)


def _swapped(s, t, sl, tl, weights=(1.0, 1.0)):
    keep = tl != -100
    token = F.cross_entropy(t[keep], tl[keep]) if keep.any() else t.sum() * 0
    return weights[1] * F.cross_entropy(s, sl) + weights[0] * token


def _nan_when_empty(s, t, sl, tl, weights=(1.0, 1.0)):
    return weights[0] * F.cross_entropy(s, sl) + weights[1] * F.cross_entropy(t.flatten(0, 1), tl.flatten())


def _padding_counted(s, t, sl, tl, weights=(1.0, 1.0)):
    keep = tl != -100
    per = F.cross_entropy(t.flatten(0, 1), tl.clamp(min=0).flatten(), reduction="none") * keep.flatten()
    return weights[0] * F.cross_entropy(s, sl) + weights[1] * per.sum() / per.numel()


def _sentence_only(s, t, sl, tl, weights=(1.0, 1.0)):
    return weights[0] * F.cross_entropy(s, sl)


WRONG = [
    ("08.align_labels", _every_piece, "continuation"),
    ("08.align_labels", _specials_as_O, "special"),
    ("08.align_labels", _last_piece, None),
    ("08.align_labels", _one_per_word, "length"),
    ("08.mean_pool", _mean_with_padding, "padding"),
    ("08.mean_pool", _sum_pool, None),
    ("08.multitask_loss", _swapped, "weights"),
    ("08.multitask_loss", _nan_when_empty, "empty"),
    ("08.multitask_loss", _padding_counted, "average"),
    ("08.multitask_loss", _sentence_only, "both"),
]


@pytest.mark.parametrize("name, wrong, kind", WRONG, ids=[f"{n}-{w.__name__}" for n, w, _ in WRONG])
def test_wrong_answers_fail_with_the_hint_for_their_mistake(name, wrong, kind):
    stages = checks.hint_stages(name)
    for seed in range(2):
        result = checks.check(name, wrong, seed=seed, quiet=True)
        assert result.status == "fail", (seed, result.line)
        if kind is not None:
            assert result.hint in stages[kind], (result.line, kind)


def test_the_stub_is_todo_and_a_non_function_fails():
    def stub(*args, **kwargs):
        raise NotImplementedError()

    for name in NAMES:
        assert checks.check(name, stub, quiet=True).status == "todo"
        assert checks.check(name, None, quiet=True).status == "fail"


def test_a_loss_returned_as_a_float_fails():
    def as_float(*args, **kwargs):
        return float(mt.multitask_loss(*args, **kwargs))

    result = checks.check("08.multitask_loss", as_float, quiet=True)
    assert result.status == "fail" and "scalar tensor" in result.message


def test_hints_are_staged_and_never_hold_the_solution():
    for name in NAMES:
        stages = checks.hint_stages(name)
        assert all(len(s) == 2 for s in stages.values()), name
        text = " ".join(h for s in stages.values() for h in s)
        for fragment in ("labels.append", "return weights[0]", ".sum(dim=1) /", "ignore_index=-100"):
            assert fragment not in text, (name, fragment)


def test_what_the_exercises_forbid():
    assert "textrnn_lab.multitask.tags.align_labels" in checks.forbidden_calls("08.align_labels")
    assert "textrnn_lab.multitask.model.mean_pool" in checks.forbidden_calls("08.mean_pool")
    assert "textrnn_lab.multitask.loss.multitask_loss" in checks.forbidden_calls("08.multitask_loss")
    assert torch.is_tensor(mt.multitask_loss(torch.zeros(1, 2), torch.zeros(1, 2, 9), torch.tensor([0]),
                                             torch.tensor([[-100, 3]])))
