"""The generator and the discriminator: two multilayer perceptrons, as in the question.

::

    G = Generator(GANConfig())        # z: [B, Z] -> images: [B, P] in [-1, 1]
    D = Discriminator(GANConfig())    # images: [B, P] -> logits: [B]

Shapes: B batch, Z noise size (``noise_dim``), P pixels (784).
The discriminator returns a *logit*, not a probability: ``D(x) = sigmoid(logit)``.
The losses of :mod:`.losses` take logits, which keeps them finite where a
probability would round to exactly 0 or 1.
"""
from __future__ import annotations

import torch
from torch import nn

from .config import GANConfig


class Generator(nn.Module):
    """z -> Linear + ReLU + BatchNorm, per hidden layer -> Linear -> tanh (pixels in [-1, 1])."""

    def __init__(self, config: GANConfig):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        width = config.noise_dim
        for hidden in config.generator_hidden:
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.BatchNorm1d(hidden)]
            width = hidden
        layers += [nn.Linear(width, config.image_size), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)  # [B, Z] -> [B, P]

    def noise(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """A batch of standard normal noise on the module's device: ``[B, Z]``."""
        device = next(self.parameters()).device
        z = torch.randn(batch_size, self.config.noise_dim, generator=generator)  # [B, Z], drawn on the CPU
        return z.to(device)


class Discriminator(nn.Module):
    """image -> Linear + LeakyReLU(0.2) + Dropout, per hidden layer -> Linear -> one logit."""

    def __init__(self, config: GANConfig):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        width = config.image_size
        for hidden in config.discriminator_hidden:
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2), nn.Dropout(config.dropout)]
            width = hidden
        layers += [nn.Linear(width, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1)).squeeze(-1)  # [B, P] -> [B]
