"""Chapter 03's self-checks: the references pass, known-wrong answers fail with the hint for what went wrong
(staged: the idea first, then the formula in words), and an exercise not done yet is TODO."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from textrnn_lab import checks
from textrnn_lab.gan import losses, quality


def run(name, func, seed=0):
    return checks.check(name, func, seed=seed, quiet=True)


def test_the_references_pass():
    assert run("03.discriminator_loss", losses.discriminator_loss).passed
    assert run("03.generator_loss", losses.generator_loss).passed
    assert run("03.frechet_distance", quality.frechet_distance).passed


def test_a_scipy_frechet_distance_passes_too():
    scipy_linalg = pytest.importorskip("scipy.linalg")

    def with_sqrtm(m1, s1, m2, s2):
        root = scipy_linalg.sqrtm(s1.numpy() @ s2.numpy()).real
        return float(((m1 - m2) ** 2).sum()) + float(np.trace(s1.numpy() + s2.numpy() - 2 * root))

    assert run("03.frechet_distance", with_sqrtm).passed


def naive_d(real, fake):  # probabilities first: log(0) for confident logits
    return -(torch.log(torch.sigmoid(real)).mean() + torch.log(1 - torch.sigmoid(fake)).mean())


def test_the_naive_losses_fail_on_confident_logits_with_the_stability_hint():
    first = run("03.discriminator_loss", naive_d)
    assert first.status == "fail" and "softplus" not in first.hint and "log" in first.hint
    second = run("03.discriminator_loss", naive_d)
    assert second.status == "fail" and second.hint_stage == 2 and "softplus" in second.hint
    naive_g = run("03.generator_loss", lambda fake: -torch.log(torch.sigmoid(fake)).mean())
    assert naive_g.status == "fail" and "logits" in naive_g.hint


def test_swapped_real_and_fake_is_named():
    result = run("03.discriminator_loss", lambda r, f: losses.discriminator_loss(f, r))
    assert result.status == "fail" and "swapped" in result.message


def test_the_minimax_loss_is_not_the_non_saturating_one():
    first = run("03.generator_loss", losses.minimax_generator_loss)
    assert first.status == "fail" and "minimax" in first.message and "minimax" in first.hint
    second = run("03.generator_loss", lambda f: -losses.minimax_generator_loss(f))  # its negative, named too
    assert second.status == "fail" and "minimax" in second.message and "target 1" in second.hint


def test_a_per_image_loss_is_a_shape_failure():
    result = run("03.generator_loss", lambda f: torch.nn.functional.softplus(-f))
    assert result.status == "fail" and "one number" in result.message


def test_an_elementwise_square_root_fails():
    def elementwise(m1, s1, m2, s2):
        return float(((m1 - m2) ** 2).sum() + torch.trace(s1 + s2 - 2 * torch.sqrt(s1 * s2)))

    result = run("03.frechet_distance", elementwise)
    assert result.status == "fail" and "trace" in result.hint


def test_not_done_yet_is_todo():
    def todo(*args):
        raise NotImplementedError()

    for name in ("03.discriminator_loss", "03.generator_loss", "03.frechet_distance"):
        assert run(name, todo).status == "todo"


def test_the_checks_forbid_the_references_and_the_bce_built_ins():
    assert "textrnn_lab.gan.losses.discriminator_loss" in checks.forbidden_calls("03.discriminator_loss")
    assert "torch.nn.functional.binary_cross_entropy_with_logits" in checks.forbidden_calls("03.generator_loss")
    assert checks.forbidden_calls("03.frechet_distance") == ("textrnn_lab.gan.quality.frechet_distance",)
