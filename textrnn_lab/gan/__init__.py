"""Chapter 03: generative adversarial networks, trained on real digits and scored.

Modules, in reading order (each is a section of the chapter):

* :mod:`.config`: ``GANConfig`` (the two networks) and ``GANTrainConfig`` (their training, the remedy included).
* :mod:`.data`: the shipped MNIST digits as flat vectors in [-1, 1], split into train and held-out.
* :mod:`.models`: ``Generator`` (noise -> image) and ``Discriminator`` (image -> logit), two perceptrons.
* :mod:`.losses`: the discriminator's loss, the minimax and the non-saturating generator losses, from logits.
* :mod:`.train`: ``gan_step`` and ``train_gan``, the two-optimizer loop written out.
* :mod:`.quality`: a digit classifier, and the score it gives (confident share, spread, Frechet distance).
* :mod:`.keras_gan`: the same GAN in Keras 3, what ``trainable = False`` does after compiling, and a right loop
  (imported only when used; runs on the TensorFlow and the torch backends).
"""
from .config import GANConfig, GANTrainConfig
from .data import Digits, load_digits, split_digits, to_pixels, to_unit_range
from .losses import discriminator_loss, generator_loss, loss_slopes, minimax_generator_loss
from .models import Discriminator, Generator
from .quality import (
    ClassifierConfig,
    DigitClassifier,
    GaussianStats,
    QualityScore,
    accuracy,
    class_entropy,
    feature_stats,
    frechet_distance,
    load_or_train_classifier,
    quality_score,
    train_classifier,
)
from .train import GANRun, gan_step, generate, noise_scale, train_gan

__all__ = [
    "ClassifierConfig", "DigitClassifier", "Digits", "Discriminator", "GANConfig", "GANRun", "GANTrainConfig",
    "GaussianStats", "Generator", "QualityScore", "accuracy", "class_entropy", "discriminator_loss",
    "feature_stats", "frechet_distance", "gan_step", "generate", "generator_loss", "load_digits",
    "load_or_train_classifier",
    "loss_slopes", "minimax_generator_loss", "noise_scale", "quality_score", "split_digits", "to_pixels",
    "to_unit_range", "train_classifier", "train_gan",
]
