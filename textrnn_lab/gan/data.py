"""The shipped MNIST digits as the GAN sees them: flat vectors in [-1, 1], split once into train and held-out.

::

    digits = load_digits(held_out=1000, seed=0)
    digits.train_images      # FloatTensor[N, P], P = 784 pixels, values in [-1, 1]
    digits.held_out_labels   # LongTensor[M]

The held-out digits never reach the GAN or the digit classifier: they are the
real images that a perfect generator would be as good as (the ceiling of the
quality score in :mod:`.quality`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data import load_dataset
from ..errors import DataError


@dataclass
class Digits:
    train_images: torch.Tensor     # [N, P] in [-1, 1]
    train_labels: torch.Tensor     # [N]
    held_out_images: torch.Tensor  # [M, P] in [-1, 1]
    held_out_labels: torch.Tensor  # [M]


def to_unit_range(images) -> torch.Tensor:
    """``uint8 [N, 28, 28]`` (0 to 255) -> ``FloatTensor[N, 784]`` in [-1, 1], the range of the generator's tanh."""
    array = np.asarray(images)
    if array.ndim != 3 or array.shape[0] == 0:
        raise DataError(f"expected images of shape [N, height, width] with N >= 1, got shape {array.shape}.",
                        hint="pass the images of load_dataset('mnist'), e.g. images, labels = load_dataset('mnist')")
    flat = torch.from_numpy(array.reshape(array.shape[0], -1).astype(np.float32))  # [N, P]
    return flat / 127.5 - 1.0


def to_pixels(images: torch.Tensor, side: int = 28) -> np.ndarray:
    """``[N, P]`` in [-1, 1] -> ``float [N, side, side]`` in [0, 1], for ``imshow``."""
    return ((images.detach().float().cpu().clamp(-1, 1) + 1.0) / 2.0).reshape(-1, side, side).numpy()


def split_digits(images, labels, held_out: int = 1000, seed: int = 0) -> Digits:
    """A split with the same share of each digit on both sides (``held_out`` images in all)."""
    labels = np.asarray(labels)
    x = to_unit_range(images)  # [N, P]
    if labels.shape != (x.shape[0],):
        raise DataError(f"{x.shape[0]} images but labels of shape {labels.shape}.",
                        hint="images and labels must come from the same load_dataset('mnist') call")
    if not 0 < held_out < len(labels):
        raise DataError(f"held_out must be between 1 and {len(labels) - 1}, not {held_out}.")
    rng = np.random.default_rng(seed)
    fraction = held_out / len(labels)
    keep = []
    for digit in np.unique(labels):
        where = rng.permutation(np.flatnonzero(labels == digit))
        keep.extend(where[: int(round(fraction * len(where)))])
    mask = np.zeros(len(labels), dtype=bool)
    mask[np.asarray(keep, dtype=np.int64)] = True
    y = torch.from_numpy(labels.astype(np.int64))
    # shuffled on both sides, so that any first n images hold every digit (the file is sorted by digit)
    train = torch.from_numpy(rng.permutation(np.flatnonzero(~mask)))
    test = torch.from_numpy(rng.permutation(np.flatnonzero(mask)))
    return Digits(x[train], y[train], x[test], y[test])


def load_digits(held_out: int = 1000, seed: int = 0) -> Digits:
    """The 5,000 shipped MNIST digits (``load_dataset("mnist")``), split by :func:`split_digits`."""
    images, labels = load_dataset("mnist")
    return split_digits(images, labels, held_out=held_out, seed=seed)
