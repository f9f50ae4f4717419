"""The settings of chapter 03's GAN and of its training, as dataclasses.

``GANConfig`` is the shape of the two networks (the multilayer perceptrons of the
question: a generator of 128 -> 256 -> 512 units with batch normalisation, a
discriminator of 256 -> 128 units with dropout); ``GANTrainConfig`` is how the
two-optimizer loop of :mod:`.train` runs, the remedy against mode collapse included.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..errors import CourseError
from ..training.config import TrainConfig

IMAGE_SIZE = 28 * 28  # P: pixels of one MNIST digit
GENERATOR_LOSSES = ("non_saturating", "minimax")


def _positive_ints(name: str, values) -> tuple[int, ...]:
    values = tuple(values)
    if not values or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
        raise CourseError(f"{name} must be a non-empty list of positive whole numbers, not {values!r}.")
    return values


@dataclass
class GANConfig:
    """The two multilayer perceptrons (saved with the weights)."""

    noise_dim: int = 100                                    # Z: size of the noise vector z
    generator_hidden: tuple[int, ...] = (128, 256, 512)     # hidden layers of G, each ReLU + batch norm
    discriminator_hidden: tuple[int, ...] = (256, 128)      # hidden layers of D, each LeakyReLU + dropout
    dropout: float = 0.3                                    # in D, after each hidden layer
    image_size: int = IMAGE_SIZE                            # P: pixels of one image (28 * 28)

    def __post_init__(self):
        if isinstance(self.noise_dim, bool) or not isinstance(self.noise_dim, int) or self.noise_dim < 1:
            raise CourseError(f"noise_dim must be a positive whole number, not {self.noise_dim!r}.")
        self.generator_hidden = _positive_ints("generator_hidden", self.generator_hidden)
        self.discriminator_hidden = _positive_ints("discriminator_hidden", self.discriminator_hidden)
        if not 0.0 <= float(self.dropout) < 1.0:
            raise CourseError(f"dropout must be in [0, 1), not {self.dropout!r}.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GANTrainConfig(TrainConfig):
    """How :func:`~textrnn_lab.gan.train.train_gan` trains (a budget in steps, one batch each).

    Adds to :class:`~textrnn_lab.training.config.TrainConfig`: ``batch_size`` (B);
    ``betas`` of the two Adam optimizers (0.5 for the first moment, the usual
    choice for GANs); ``generator_loss``: ``"non_saturating"`` (``-log D(G(z))``,
    used in practice) or ``"minimax"`` (``log(1 - D(G(z)))``, the game as written);
    the remedy: ``label_smoothing`` (the target for real images becomes
    ``1 - label_smoothing``) and ``instance_noise`` (Gaussian noise of this
    standard deviation added to every image the discriminator sees, real and
    fake, fading linearly to 0 over the budget); ``snapshots``: how many times
    samples of the fixed noise batch are kept; ``seed``.
    """

    max_steps: int | None = 3000
    lr: float = 2e-4
    batch_size: int = 64
    betas: tuple[float, float] = (0.5, 0.999)
    generator_loss: str = "non_saturating"
    label_smoothing: float = 0.0
    instance_noise: float = 0.0
    snapshots: int = 6
    seed: int = 0

    def __post_init__(self):
        super().__post_init__()
        if self.max_steps is None and self.max_seconds is None:
            raise CourseError("a GAN trains for a budget: give max_steps or max_seconds.")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 2:
            raise CourseError(f"batch_size must be a whole number >= 2, not {self.batch_size!r}.")
        if self.generator_loss not in GENERATOR_LOSSES:
            raise CourseError(f"generator_loss must be one of {', '.join(GENERATOR_LOSSES)}, "
                              f"not {self.generator_loss!r}.")
        if not 0.0 <= float(self.label_smoothing) < 0.5:
            raise CourseError(f"label_smoothing must be in [0, 0.5), not {self.label_smoothing!r}.")
        if not float(self.instance_noise) >= 0.0:
            raise CourseError(f"instance_noise must be >= 0, not {self.instance_noise!r}.")
        if isinstance(self.snapshots, bool) or not isinstance(self.snapshots, int) or self.snapshots < 1:
            raise CourseError(f"snapshots must be a whole number >= 1, not {self.snapshots!r}.")
        self.betas = tuple(float(b) for b in self.betas)
