"""Chapter 02's self-checks: the references pass, wrong answers fail with hints in stages, a stub is TODO."""
from __future__ import annotations

import pytest
import torch

from textrnn_lab import checks
from textrnn_lab.transfer import head_logits, macro_f1, mean_pool

NAMES = ("02.mean_pool", "02.head_logits", "02.macro_f1")


def test_the_references_pass():
    for name, ref in zip(NAMES, (mean_pool, head_logits, macro_f1)):
        for seed in range(3):
            result = checks.check(name, ref, seed=seed, quiet=True)
            assert result.passed, (name, result.message)


def _pool_with_padding(hidden, mask):
    return hidden.mean(dim=1)


def _pool_divides_by_t(hidden, mask):
    return (hidden * mask.unsqueeze(-1)).sum(1) / hidden.shape[1]


def _pool_keeps_time(hidden, mask):
    return hidden * mask.unsqueeze(-1)


def _pool_in_place(hidden, mask):
    hidden *= mask.unsqueeze(-1).to(hidden.dtype)
    return hidden.sum(1) / mask.sum(1, keepdim=True).clamp(min=1)


def _head_without_tanh(hidden, pw, pb, w, b):
    return (hidden[:, 0] @ pw.T + pb) @ w.T + b


def _head_last_token(hidden, pw, pb, w, b):
    return torch.tanh(hidden[:, -1] @ pw.T + pb) @ w.T + b


def _head_softmax(hidden, pw, pb, w, b):
    return head_logits(hidden, pw, pb, w, b).softmax(-1)


def _head_untransposed(hidden, pw, pb, w, b):
    return torch.tanh(hidden[:, 0] @ pw + pb) @ w.T + b


def _f1_micro(y_true, y_pred, num_classes):
    return sum(a == b for a, b in zip(y_true, y_pred)) / len(y_true)


def _f1_counts_absent_classes(y_true, y_pred, num_classes):
    scores = []
    for c in range(num_classes):
        tp = sum(a == b == c for a, b in zip(y_true, y_pred))
        total = sum(a == c for a in y_true) + sum(b == c for b in y_pred)
        scores.append(2 * tp / total if total else 0.0)
    return sum(scores) / num_classes


@pytest.mark.parametrize("name, wrong", [
    ("02.mean_pool", _pool_with_padding),
    ("02.mean_pool", _pool_divides_by_t),
    ("02.mean_pool", _pool_keeps_time),
    ("02.mean_pool", _pool_in_place),
    ("02.head_logits", _head_without_tanh),
    ("02.head_logits", _head_last_token),
    ("02.head_logits", _head_softmax),
    ("02.head_logits", _head_untransposed),
    ("02.macro_f1", _f1_micro),
    ("02.macro_f1", _f1_counts_absent_classes),
])
def test_wrong_answers_fail(name, wrong):
    for seed in range(3):
        result = checks.check(name, wrong, seed=seed, quiet=True)
        assert result.status in ("fail", "error"), (seed, result.message)


def test_hints_come_in_stages():
    assert checks.check("02.mean_pool", mean_pool, seed=0, quiet=True).passed   # a pass starts again at stage 1
    first = checks.check("02.mean_pool", _pool_with_padding, seed=0, quiet=True)
    second = checks.check("02.mean_pool", _pool_with_padding, seed=0, quiet=True)
    assert first.status == second.status == "fail"
    assert first.hint and second.hint and first.hint != second.hint
    assert (first.hint_stage, second.hint_stage) == (1, 2)
    checks.check("02.head_logits", head_logits, seed=0, quiet=True)
    shape = checks.check("02.head_logits", lambda *a: torch.zeros(1), seed=0, quiet=True)
    assert "ONE token" in shape.hint  # the shape hint, tied to what failed


def test_a_stub_is_todo():
    def stub(*args, **kwargs):
        raise NotImplementedError()

    for name in NAMES:
        assert checks.check(name, stub, quiet=True).status == "todo"
