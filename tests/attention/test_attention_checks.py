"""Chapter 07's self-checks: the references pass, known-wrong answers fail with the hint for what failed,
a stub is TODO."""
from __future__ import annotations

import math

import pytest
import torch

from textrnn_lab import checks
from textrnn_lab.attention import DotProductAttention, multihead_parameter_count, scaled_dot_product_attention


@pytest.fixture(autouse=True)
def fresh_stages():
    checks._FAILURES.clear()
    yield
    checks._FAILURES.clear()


def dot_step(query, keys, mask):
    return DotProductAttention(query.shape[-1])(query, keys, mask)


def test_the_references_pass_and_the_chapter_has_its_three_checks():
    assert set(checks.available_checks("07")) == {"07.attention_step", "07.scaled_dot_product_attention",
                                                  "07.multihead_parameter_count"}
    for name, ref in (("07.attention_step", dot_step),
                      ("07.scaled_dot_product_attention", scaled_dot_product_attention),
                      ("07.multihead_parameter_count", multihead_parameter_count)):
        result = checks.check(name, ref, seed=0, quiet=True)
        assert result.passed, result.line


def _multiply_by_mask_afterwards(query, keys, mask):
    weights = torch.softmax(torch.einsum("bh,bsh->bs", query, keys), -1) * mask
    return torch.einsum("bs,bsh->bh", weights, keys), weights


def _unmasked_step(query, keys, mask):
    weights = torch.softmax(torch.einsum("bh,bsh->bs", query, keys), -1)
    return torch.einsum("bs,bsh->bh", weights, keys), weights


def test_wrong_decoder_steps_fail():
    after = checks.check("07.attention_step", _multiply_by_mask_afterwards, seed=0, quiet=True)
    assert after.status == "fail"  # zeros where masked, but rows no longer sum to 1
    unmasked = checks.check("07.attention_step", _unmasked_step, seed=0, quiet=True)
    assert unmasked.status == "fail"
    assert checks.check("07.attention_step", lambda q, k, m: q, seed=0, quiet=True).status == "fail"


def _unscaled(q, k, v, mask=None, causal=False):
    return scaled_dot_product_attention(q * math.sqrt(q.shape[-1]), k, v, mask, causal)


def _ignores_causal(q, k, v, mask=None, causal=False):
    return scaled_dot_product_attention(q, k, v, mask)


def _ignores_mask(q, k, v, mask=None, causal=False):
    return scaled_dot_product_attention(q, k, v, None, causal)


def test_wrong_scaled_attention_fails_with_the_hint_for_what_failed():
    stages = checks.hint_stages("07.scaled_dot_product_attention")
    scale = checks.check("07.scaled_dot_product_attention", _unscaled, seed=0, quiet=True)
    assert scale.status == "fail" and "sqrt" in scale.message and scale.hint == stages["scale"][0]
    again = checks.check("07.scaled_dot_product_attention", _unscaled, seed=0, quiet=True)
    assert again.hint == stages["scale"][1]
    for wrong in (_ignores_causal, _ignores_mask):
        result = checks.check("07.scaled_dot_product_attention", wrong, seed=0, quiet=True)
        assert result.status == "fail" and "exactly 0" in result.message, result.line
        assert result.hint in stages["mask"]
    single = checks.check("07.scaled_dot_product_attention", lambda q, k, v, mask=None, causal=False: q, seed=0,
                          quiet=True)
    assert single.status == "fail" and "pair" in single.message


def test_wrong_parameter_counts_fail_and_a_stub_is_todo():
    no_bias = checks.check("07.multihead_parameter_count", lambda e, h, k: 4 * e * h * k, seed=0, quiet=True)
    assert no_bias.status == "fail" and "expected 66,368" in no_bias.message
    torch_style = checks.check("07.multihead_parameter_count", lambda e, h, k: 4 * (e * e + e), seed=0, quiet=True)
    assert torch_style.status == "fail"

    def stub(*args, **kwargs):
        raise NotImplementedError()

    for name in checks.available_checks("07"):
        assert checks.check(name, stub, quiet=True).status == "todo"
