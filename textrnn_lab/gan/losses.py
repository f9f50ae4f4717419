"""The GAN's losses, from the discriminator's logits ``l`` (``D(x) = sigmoid(l)``).

With ``log sigmoid(l) = -softplus(-l)`` and ``log(1 - sigmoid(l)) = -softplus(l)``:

* the discriminator minimises ``-[log D(x) + log(1 - D(G(z)))]``:
  ``mean softplus(-l_real) + mean softplus(l_fake)`` (:func:`discriminator_loss`);
* the generator of the minimax game minimises ``log(1 - D(G(z)))``:
  ``-mean softplus(l_fake)`` (:func:`minimax_generator_loss`);
* the generator used in practice minimises ``-log D(G(z))``:
  ``mean softplus(-l_fake)`` (:func:`generator_loss`, "non-saturating").

Both generator losses push ``D(G(z))`` up, but when the discriminator rejects
the fakes easily (``l_fake`` very negative, early in training) the minimax
loss is flat and the non-saturating one is steep: see :func:`loss_slopes`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
    """Binary cross-entropy: real images labelled ``real_target`` (1, or 0.9 when smoothed), fakes 0. Scalar."""
    t = float(real_target)
    real = t * F.softplus(-real_logits) + (1.0 - t) * F.softplus(real_logits)  # [B]: BCE(l, t)
    fake = F.softplus(fake_logits)  # [B]: BCE(l, 0)
    return real.mean() + fake.mean()


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss ``-log D(G(z))``, averaged over the batch. Scalar."""
    return F.softplus(-fake_logits).mean()


def minimax_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The generator's side of the minimax game, ``log(1 - D(G(z)))``, averaged (to be minimised). Scalar."""
    return -F.softplus(fake_logits).mean()


def loss_slopes(fake_logits: torch.Tensor) -> dict[str, torch.Tensor]:
    """``d loss / d l_fake`` of both generator losses at each logit: how hard each pushes the fakes up."""
    logits = fake_logits.detach().clone().requires_grad_(True)
    (non_saturating,) = torch.autograd.grad(F.softplus(-logits).sum(), logits)
    (minimax,) = torch.autograd.grad((-F.softplus(logits)).sum(), logits)
    return {"non_saturating": non_saturating, "minimax": minimax}
