"""The GAN's training loop: two networks, two optimizers, one step each per batch, written out.

::

    run = train_gan(digits.train_images, GANConfig(), GANTrainConfig(max_steps=3000), classifier=clf)
    run.steps[-1]          # {"step", "d_loss", "g_loss", "d_real", "d_fake", "seconds"}
    run.snapshots[step]    # FloatTensor[K, P]: the fixed noise batch, generated at that step
    run.histograms[step]   # LongTensor[10]: how many of a fresh batch the classifier calls each digit

One step (:func:`gan_step`) is the whole idea:

1. the discriminator's step: real images should score 1, the generator's
   (detached: G is not updated here) 0;
2. the generator's step: a fresh batch of fakes through the discriminator,
   whose weights receive gradients but are not updated, since only ``opt_g``
   steps, and whose gradients are cleared before its next step.

The generator is never shown a real image: everything it learns comes through
the discriminator's gradient.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from ..errors import CourseError
from ..runtime.device import get_device
from ..runtime.seeding import seed_everything
from .config import GANConfig, GANTrainConfig
from .losses import discriminator_loss, generator_loss, minimax_generator_loss
from .models import Discriminator, Generator


@dataclass
class GANRun:
    """What :func:`train_gan` returns."""

    generator: Generator
    discriminator: Discriminator
    config: GANTrainConfig
    steps: list[dict] = field(default_factory=list)                     # one row per step
    snapshots: dict[int, torch.Tensor] = field(default_factory=dict)    # step -> [K, P], the fixed noise batch
    histograms: dict[int, torch.Tensor] = field(default_factory=dict)   # step -> [10] class counts
    fixed_noise: torch.Tensor | None = None                             # [K, Z]
    seconds: float = 0.0

    def per_step(self, key: str) -> list[float]:
        return [row[key] for row in self.steps]

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` fresh images from the trained generator (eval mode): ``[n, P]`` on the CPU."""
        return generate(self.generator, n, seed=seed)


@torch.no_grad()
def generate(generator: Generator, n: int, seed: int = 0, noise: torch.Tensor | None = None) -> torch.Tensor:
    """Images from ``generator`` in eval mode (batch norm uses its running statistics): ``[n, P]`` on the CPU."""
    was_training = generator.training
    generator.eval()
    z = noise if noise is not None else generator.noise(n, torch.Generator().manual_seed(seed))  # [n, Z]
    images = generator(z.to(next(generator.parameters()).device)).cpu()  # [n, P]
    generator.train(was_training)
    return images


def noise_scale(config: GANTrainConfig, step: int) -> float:
    """The instance noise's standard deviation at ``step``: ``instance_noise`` fading linearly to 0."""
    if not config.instance_noise or not config.max_steps:
        return float(config.instance_noise)
    return float(config.instance_noise) * max(0.0, 1.0 - step / config.max_steps)


def gan_step(G: Generator, D: Discriminator, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
             real: torch.Tensor, config: GANTrainConfig, sigma: float = 0.0) -> dict[str, float]:
    """One discriminator step and one generator step on a batch of real images ``[B, P]``."""
    B = real.shape[0]
    real_target = 1.0 - config.label_smoothing

    def blur(x):  # instance noise: both kinds of image get it, so it cannot tell them apart
        return x + sigma * torch.randn_like(x) if sigma > 0 else x

    # 1. the discriminator: real -> 1, fake -> 0; G's output is detached, so G gets no gradient here
    fake = G(G.noise(B))  # [B, P]
    d_real, d_fake = D(blur(real)), D(blur(fake.detach()))  # [B], [B]
    d_loss = discriminator_loss(d_real, d_fake, real_target)
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()

    # 2. the generator: make D say "real"; only opt_g steps, D's gradients are thrown away at its next zero_grad
    fake = G(G.noise(B))  # [B, P]
    logits = D(blur(fake))  # [B]
    g_loss = generator_loss(logits) if config.generator_loss == "non_saturating" else minimax_generator_loss(logits)
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    return {"d_loss": d_loss.item(), "g_loss": g_loss.item(),
            "d_real": torch.sigmoid(d_real.detach()).mean().item(),
            "d_fake": torch.sigmoid(d_fake.detach()).mean().item()}


def _batches(images: torch.Tensor, batch_size: int, seed: int):
    """Endless shuffled batches of ``[B, P]`` (a new order every pass; the last short batch dropped)."""
    gen = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(images.shape[0], generator=gen)
        for start in range(0, images.shape[0] - batch_size + 1, batch_size):
            yield images[order[start:start + batch_size]]


def train_gan(images: torch.Tensor, model_config: GANConfig | None = None, config: GANTrainConfig | None = None, *,
              classifier: Callable[[torch.Tensor], torch.Tensor] | None = None, histogram_samples: int = 500,
              snapshot_size: int = 16, device: str | torch.device = "auto") -> GANRun:
    """Train a GAN on ``images`` (``FloatTensor[N, P]`` in [-1, 1]) for the budget of ``config``.

    At ``config.snapshots`` points (the first step and the last included) the
    fixed noise batch is generated and kept, and, with ``classifier`` (a function
    ``[n, P] -> predicted digits [n]``), so is the histogram of the digits it sees
    in ``histogram_samples`` fresh samples: the picture of mode collapse.
    """
    model_config = model_config or GANConfig()
    config = config or GANTrainConfig()
    images = torch.as_tensor(images, dtype=torch.float32)
    if images.ndim != 2 or images.shape[1] != model_config.image_size:
        raise CourseError(f"expected images of shape [N, {model_config.image_size}], got {tuple(images.shape)}.",
                          hint="flatten and scale them first: textrnn_lab.gan.to_unit_range(images)")
    if images.shape[0] < config.batch_size:
        raise CourseError(f"{images.shape[0]} images are fewer than one batch of {config.batch_size}.",
                          hint="use more images or a smaller batch_size")
    if float(images.min()) < -1.0001 or float(images.max()) > 1.0001:
        raise CourseError("the images must lie in [-1, 1], the range of the generator's tanh.",
                          hint="scale them with textrnn_lab.gan.to_unit_range(images)")
    device = get_device(device) if not isinstance(device, torch.device) else device
    seed_everything(config.seed)
    G, D = Generator(model_config).to(device), Discriminator(model_config).to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=config.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr, betas=config.betas)
    run = GANRun(G, D, config)
    run.fixed_noise = G.noise(snapshot_size, torch.Generator().manual_seed(config.seed + 1)).cpu()  # [K, Z]
    total = config.max_steps or 10**9
    at = {1, total} | {max(1, round(total * i / max(1, config.snapshots - 1))) for i in range(config.snapshots)}

    def keep(step):
        run.snapshots[step] = generate(G, snapshot_size, noise=run.fixed_noise)
        if classifier is not None:
            fresh = generate(G, histogram_samples, seed=config.seed + 2)  # the same noise at every snapshot
            run.histograms[step] = torch.bincount(classifier(fresh).long().cpu(), minlength=10)

    keep(0)
    started = time.perf_counter()
    for step, real in enumerate(_batches(images, config.batch_size, config.seed), start=1):
        row = gan_step(G, D, opt_g, opt_d, real.to(device), config, noise_scale(config, step))
        if row["d_loss"] != row["d_loss"] or row["g_loss"] != row["g_loss"]:
            raise CourseError(f"the GAN's loss became NaN at step {step}.", hint="lower lr")
        row.update(step=step, seconds=time.perf_counter() - started)
        run.steps.append(row)
        done = step >= total or (config.max_seconds is not None and row["seconds"] >= config.max_seconds)
        if step in at or done:
            keep(step)
        if done:
            break
    run.seconds = time.perf_counter() - started
    return run
