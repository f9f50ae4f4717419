"""Checks for chapter 03 (GANs).

* ``03.discriminator_loss``: ``f(real_logits, fake_logits) -> scalar``, the discriminator's
  binary cross-entropy (real -> 1, fake -> 0) from logits ``[B]``, stable for any logit;
* ``03.generator_loss``: ``f(fake_logits) -> scalar``, the non-saturating ``-log D(G(z))``;
* ``03.frechet_distance``: ``f(mu1, sigma1, mu2, sigma2) -> float``, between two Gaussians.

The references are bound as default arguments when this module is imported, so
patching ``textrnn_lab.gan`` later changes nothing.
"""
from __future__ import annotations

import math

import torch

from ..gan.losses import discriminator_loss as _ref_discriminator_loss
from ..gan.losses import generator_loss as _ref_generator_loss
from ..gan.losses import minimax_generator_loss as _ref_minimax
from ..gan.quality import frechet_distance as _ref_frechet
from . import CheckFailed, register
from .compare import as_float, expect_callable, plain

_BCE_BUILTINS = (
    "torch.nn.functional.binary_cross_entropy_with_logits", "torch.nn.functional.binary_cross_entropy",
    "torch.nn.BCEWithLogitsLoss", "torch.nn.BCELoss",
    "torch.nn.modules.loss.BCEWithLogitsLoss", "torch.nn.modules.loss.BCELoss",
)


def _logits(rng, case: int, size: int, scale: float | None = None) -> torch.Tensor:
    if scale is None:
        scale = [1.0, 3.0, 8.0][case % 3]
    return torch.from_numpy(rng.normal(scale=scale, size=size)).float()


def _scalar(got, context: str) -> float:
    if isinstance(got, torch.Tensor) and plain(got).numel() != 1:
        raise CheckFailed(f"{context}: expected one number (the mean over the batch), got a tensor of shape "
                          f"{tuple(got.shape)}.", kind="shape")
    value = as_float(got, context=context)
    if not math.isfinite(value):
        raise CheckFailed(f"{context}: got {value}, not a finite number.", kind="stability")
    return value


def _describe(t: torch.Tensor) -> str:
    values = ", ".join(f"{v:.3g}" for v in t[:4].tolist())
    return f"[{values}{', ...' if t.numel() > 4 else ''}] (shape {tuple(t.shape)})"


@register(
    "03.discriminator_loss",
    hints={
        "shape": ("the loss is one number: the average over the batch of each image's cross-entropy",
                  "average the real images' terms and the fake images' terms separately, then add the two means"),
        "stability": ("with a logit far from zero, the sigmoid rounds to exactly 0 or 1 and its log to minus "
                      "infinity: compute the log-probabilities from the logits directly",
                      "log sigmoid(l) equals minus softplus(-l), and log(1 - sigmoid(l)) equals minus softplus(l); "
                      "softplus is stable for any l"),
        "*": ("the discriminator is a binary classifier: real images have target 1 and fakes target 0; its loss is "
              "the binary cross-entropy of both",
              "for a real image the cost is minus the log of its probability of being real; for a fake, minus the "
              "log of one minus that probability; the probability is the sigmoid of the logit"),
    },
    cases=20,
    forbidden=("textrnn_lab.gan.losses.discriminator_loss", *_BCE_BUILTINS),
)
def _check_discriminator_loss(func, rng, cases, _reference=_ref_discriminator_loss):
    expect_callable(func, "discriminator_loss(real_logits, fake_logits)")
    for case in range(cases):
        b_real, b_fake = int(rng.integers(1, 9)), int(rng.integers(1, 9))
        if case < 2:
            b_fake = b_real
        real, fake = _logits(rng, case, b_real), _logits(rng, case + 1, b_fake)
        if case in (3, 4):  # a confident discriminator: logits beyond +-120 (sigmoid is exactly 0 or 1 in float32)
            real = real.sign() * 120.0 + real
            fake = fake.sign() * 120.0 + fake
        context = f"discriminator_loss(real_logits={_describe(real)}, fake_logits={_describe(fake)})"
        expected = float(_reference(real, fake))
        got = _scalar(func(real.clone(), fake.clone()), context)
        if case < 2:
            swapped = float(_reference(fake, real))
            if abs(got - swapped) < 1e-5 * max(1.0, abs(swapped)) and abs(got - expected) > 1e-4:
                raise CheckFailed(f"{context}: expected {expected:.6g}, got {got:.6g}, the loss with real and fake "
                                  f"swapped: real images are the ones with target 1.", kind="values")
        if not math.isclose(got, expected, rel_tol=1e-4, abs_tol=1e-5):
            extreme = max(float(real.abs().max()), float(fake.abs().max())) > 10
            raise CheckFailed(f"{context}: expected {expected:.6g}, got {got:.6g}.",
                              kind="stability" if extreme else "values")


@register(
    "03.generator_loss",
    hints={
        "minimax": ("this is the minimax game's generator loss, log(1 - D(G(z))): it is almost flat when the "
                    "discriminator rejects the fakes, so it is not the one used in practice",
                    "the non-saturating loss asks the generator to make D call its fakes real: the cross-entropy "
                    "of the fake logits with target 1"),
        "stability": ("for very negative logits the sigmoid rounds to 0 and its log to minus infinity: work from "
                      "the logits, not from the probabilities",
                      "minus log sigmoid(l) equals softplus(-l), which is stable for any l"),
        "*": ("the generator wants the discriminator to say 'real' to its fakes: it minimises minus the log of the "
              "probability D gives them of being real",
              "that probability is the sigmoid of each fake logit; average the cost over the batch"),
    },
    cases=20,
    forbidden=("textrnn_lab.gan.losses.generator_loss", "textrnn_lab.gan.losses.minimax_generator_loss",
               *_BCE_BUILTINS),
)
def _check_generator_loss(func, rng, cases, _reference=_ref_generator_loss, _minimax=_ref_minimax):
    expect_callable(func, "generator_loss(fake_logits)")
    for case in range(cases):
        fake = _logits(rng, case, int(rng.integers(1, 9)))
        if case in (3, 4):  # the fakes rejected with total confidence, as early in training
            fake = -120.0 - fake.abs()
        context = f"generator_loss(fake_logits={_describe(fake)})"
        expected = float(_reference(fake))
        got = _scalar(func(fake.clone()), context)
        if math.isclose(got, expected, rel_tol=1e-4, abs_tol=1e-5):
            continue
        minimax = float(_minimax(fake))
        if math.isclose(got, minimax, rel_tol=1e-4, abs_tol=1e-5) or math.isclose(got, -minimax, rel_tol=1e-4,
                                                                                   abs_tol=1e-5):
            raise CheckFailed(f"{context}: expected {expected:.6g}, got {got:.6g}, which is the minimax loss "
                              f"(or its negative), not the non-saturating one.", kind="minimax")
        raise CheckFailed(f"{context}: expected {expected:.6g}, got {got:.6g}.",
                          kind="stability" if float(fake.abs().max()) > 10 else "values")


def _spd(rng, n: int, scale: float = 1.0) -> torch.Tensor:
    a = torch.from_numpy(rng.normal(size=(n, n)))
    return scale * (a @ a.T) / n + 0.05 * torch.eye(n, dtype=torch.float64)


def _describe_gaussians(mu1, s1, mu2, s2, note: str) -> str:
    return f"frechet_distance(mu1, sigma1, mu2, sigma2) in {mu1.shape[0]} dimensions ({note})"


@register(
    "03.frechet_distance",
    hints={
        "*": ("the distance has two parts: how far apart the means are (a squared Euclidean distance), and how "
              "different the covariances are, through the trace of a matrix square root",
              "the covariance part is the trace of sigma1 plus the trace of sigma2 minus twice the trace of the "
              "square root of the matrix product of the covariances; that product is not symmetric, but its "
              "eigenvalues are those of sqrt(sigma1) sigma2 sqrt(sigma1), which is: the trace of its square root "
              "is the sum of the square roots of those eigenvalues (work in float64)"),
    },
    cases=16,
    forbidden=("textrnn_lab.gan.quality.frechet_distance",),
)
def _check_frechet_distance(func, rng, cases, _reference=_ref_frechet):
    expect_callable(func, "frechet_distance(mu1, sigma1, mu2, sigma2)")
    for case in range(cases):
        n = [1, 2, 3][case] if case < 3 else int(rng.integers(2, 9))
        mu1 = torch.from_numpy(rng.normal(size=n))
        mu2 = torch.from_numpy(rng.normal(size=n))
        s1, s2 = _spd(rng, n), _spd(rng, n, scale=float(rng.uniform(0.3, 3.0)))
        note = "random means and covariances"
        if case == 3:
            mu2, s2, note = mu1.clone(), s1.clone(), "two identical Gaussians: the distance is 0"
        elif case == 4:
            s1 = torch.diag(torch.from_numpy(rng.uniform(0.5, 2.0, size=n)))
            s2 = torch.diag(torch.from_numpy(rng.uniform(0.5, 2.0, size=n)))
            note = "diagonal covariances"
        elif case == 5:
            s2, note = s1.clone(), "equal covariances: only the means differ"
        args = [t.clone() for t in (mu1, s1, mu2, s2)]
        context = _describe_gaussians(mu1, s1, mu2, s2, note)
        expected = _reference(mu1, s1, mu2, s2)
        got = as_float(func(*args), context=context)
        if not math.isclose(got, expected, rel_tol=1e-5, abs_tol=1e-6):
            raise CheckFailed(f"{context}: expected {expected:.6g}, got {got:.6g}.", kind="values")
