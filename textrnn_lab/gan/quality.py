"""A quality score for generated digits, computed by a small classifier trained on the real ones.

::

    clf = load_or_train_classifier(digits)           # cached under runs/gan/
    score = quality_score(clf, fakes, reference)     # reference = feature_stats(clf, digits.train_images)
    score.confident, score.class_entropy, score.frechet

Three numbers, each answering one question about a batch of images ``[n, P]``:

* ``confident``: the share the classifier recognises with probability >= 0.9
  (does it look like *a* digit?);
* ``class_entropy``: the entropy of the histogram of predicted digits, divided by
  ``log 10`` (1: all ten digits equally often; 0: one digit only, mode collapse);
* ``frechet``: the Frechet distance between Gaussians fitted to the classifier's
  features (its last hidden layer, F = 64 values) of the batch and of the real
  training digits: it sees quality and variety together (0 for identical statistics).

Real held-out digits, scored the same way, are the ceiling a generator can reach.
This is the recipe of the FID (Frechet Inception Distance), with a digit
classifier in place of an Inception network: its numbers compare runs of this
chapter with each other, not with published FIDs.
"""
from __future__ import annotations

import math
import pickle
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CourseError
from ..runtime.files import atomic_write_with
from ..runtime.paths import runs_dir
from ..runtime.seeding import seed_everything


@dataclass
class ClassifierConfig:
    hidden: int = 256          # first hidden layer
    features: int = 64         # F: the feature layer the Frechet distance is computed in
    steps: int = 800           # Adam steps of batch_size images
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0


class DigitClassifier(nn.Module):
    """image ``[B, P]`` -> Linear-ReLU-Linear-ReLU (features ``[B, F]``) -> logits ``[B, 10]``."""

    def __init__(self, config: ClassifierConfig, image_size: int = 28 * 28):
        super().__init__()
        self.config = config
        self.body = nn.Sequential(nn.Linear(image_size, config.hidden), nn.ReLU(),
                                  nn.Linear(config.hidden, config.features), nn.ReLU())
        self.head = nn.Linear(config.features, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.flatten(1))  # [B, P] -> [B, F]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # [B, 10]

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The digit it sees in each image: ``LongTensor[B]``."""
        return self.eval()(x.float()).argmax(-1)


def train_classifier(images: torch.Tensor, labels: torch.Tensor, config: ClassifierConfig | None = None,
                     noise: float = 0.1) -> DigitClassifier:
    """Train on real digits ``[N, P]`` in [-1, 1], with a little pixel noise (so that noisy fakes do not throw it)."""
    config = config or ClassifierConfig()
    if images.shape[0] != labels.shape[0] or images.shape[0] < config.batch_size:
        raise CourseError(f"{images.shape[0]} images and {labels.shape[0]} labels: need as many of each, "
                          f"and at least one batch of {config.batch_size}.")
    seed_everything(config.seed)
    model = DigitClassifier(config, images.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    gen = torch.Generator().manual_seed(config.seed)
    for _ in range(config.steps):
        idx = torch.randint(0, images.shape[0], (config.batch_size,), generator=gen)
        x = images[idx] + noise * torch.randn(config.batch_size, images.shape[1], generator=gen)  # [B, P]
        loss = F.cross_entropy(model(x), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


def load_or_train_classifier(train_images: torch.Tensor, train_labels: torch.Tensor,
                             config: ClassifierConfig | None = None, cache: str | Path | None = "auto"
                             ) -> DigitClassifier:
    """The classifier from ``runs/gan/digit_classifier_<settings>.pt`` if it is there, else trained and saved there.

    ``cache=None`` never reads or writes a file. A cached file that does not load
    (truncated, another version) is trained again and replaced.
    """
    config = config or ClassifierConfig()
    if cache is None:
        return train_classifier(train_images, train_labels, config)
    key = "_".join(f"{v}" for v in asdict(config).values()) + f"_n{train_images.shape[0]}"
    path = runs_dir() / "gan" / f"digit_classifier_{key}.pt" if cache == "auto" else Path(cache)
    if path.is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            model = DigitClassifier(config, train_images.shape[1])
            model.load_state_dict(state)
            return model.eval()
        except (OSError, RuntimeError, KeyError, ValueError, EOFError, pickle.UnpicklingError):
            pass  # trained again below
    model = train_classifier(train_images, train_labels, config)
    try:
        atomic_write_with(path, lambda tmp: torch.save(model.state_dict(), tmp))
    except OSError:  # a read-only run folder: the classifier is still usable, it is just not cached
        pass
    return model


@torch.no_grad()
def accuracy(model: DigitClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    return float((model.predict(images) == labels).float().mean())


@dataclass
class GaussianStats:
    mean: torch.Tensor  # [F], float64
    cov: torch.Tensor   # [F, F], float64


@torch.no_grad()
def feature_stats(model: DigitClassifier, images: torch.Tensor) -> GaussianStats:
    """Mean and covariance (``n - 1`` in the denominator) of the classifier's features of ``images``."""
    f = model.eval().features(images.float()).double()  # [n, F]
    if f.shape[0] < 2:
        raise CourseError("the Frechet distance needs at least 2 images to estimate a covariance.")
    return GaussianStats(f.mean(0), torch.cov(f.T))


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """``||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2)``: the Frechet (2-Wasserstein) distance.

    The trace of the matrix square root is the sum of the square roots of the
    eigenvalues of ``S1^1/2 S2 S1^1/2``, which is symmetric, so only symmetric
    eigendecompositions are needed (in float64).
    """
    mu1, mu2 = torch.as_tensor(mu1, dtype=torch.float64), torch.as_tensor(mu2, dtype=torch.float64)
    s1, s2 = torch.as_tensor(sigma1, dtype=torch.float64), torch.as_tensor(sigma2, dtype=torch.float64)
    values, vectors = torch.linalg.eigh(s1)  # S1 = V diag(values) V^T
    root1 = vectors @ torch.diag(values.clamp(min=0).sqrt()) @ vectors.T  # S1^1/2
    middle = root1 @ s2 @ root1
    middle = (middle + middle.T) / 2  # symmetric up to rounding
    trace_root = torch.linalg.eigvalsh(middle).clamp(min=0).sqrt().sum()
    return float((mu1 - mu2).pow(2).sum() + torch.trace(s1) + torch.trace(s2) - 2 * trace_root)


@dataclass
class QualityScore:
    confident: float       # share recognised with probability >= threshold
    class_entropy: float   # entropy of the predicted-digit histogram / log 10, in [0, 1]
    frechet: float         # Frechet distance to the reference features
    histogram: list[int]   # how many images of each digit the classifier saw

    def row(self) -> dict:
        return {"confident": self.confident, "class_entropy": self.class_entropy, "frechet": self.frechet}


def class_entropy(counts: torch.Tensor) -> float:
    """Entropy of a histogram over the ten digits, divided by log 10 (1 = uniform, 0 = one digit)."""
    p = counts.double() / counts.sum().clamp(min=1)
    p = p[p > 0]
    return float(-(p * p.log()).sum() / math.log(10))


@torch.no_grad()
def quality_score(model: DigitClassifier, images: torch.Tensor, reference: GaussianStats,
                  threshold: float = 0.9) -> QualityScore:
    """Score ``images`` ``[n, P]``: confident share, spread over the digits, Frechet distance to ``reference``."""
    probs = torch.softmax(model.eval()(images.float()), -1)  # [n, 10]
    counts = torch.bincount(probs.argmax(-1), minlength=10)
    stats = feature_stats(model, images)
    return QualityScore(confident=float((probs.max(-1).values >= threshold).float().mean()),
                        class_entropy=class_entropy(counts),
                        frechet=frechet_distance(stats.mean, stats.cov, reference.mean, reference.cov),
                        histogram=counts.tolist())
