"""Sentences with a sentiment label, as fixed-length rows of word ids, for the self-attention classifier.

::

    data = sentiment_splits(vocab_size=5000, max_length=100, seed=0)
    data.train_ids    # LongTensor[N, L]: word ids, 0 = padding (after the words), 1 = unknown word
    data.train_labels # LongTensor[N]: 0 negative, 1 positive
    data.pad_fraction # how much of a row is padding on average (what a missing mask lets in)

The sentences are the shipped VADER ratings (``load_dataset("vader")``): movie
reviews, editorials, tweets and product reviews rated from -4 to +4 by people;
the sign of the rating is the label. The few with a mean rating of exactly 0
(about 1.6 %) are left out, so the task is binary, and so are the four that hold
no word at all ("!", "..."): a row of padding only has nothing to classify, and
with the padding masked nothing to average (Keras's pooling would return 0 / 0).

Shapes: N sentences, L ``max_length`` (every row padded or cut to it).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data import load_dataset
from ..data.vocab import WordVocab, word_tokens
from ..errors import CourseError

#: the labels, in id order
CLASSES = ("negative", "positive")


@dataclass
class SentimentSplits:
    """Train and test rows of word ids with their labels, the vocabulary and the texts they came from."""

    train_ids: torch.Tensor      # LongTensor[N, L]
    train_labels: torch.Tensor   # LongTensor[N]
    test_ids: torch.Tensor       # LongTensor[M, L]
    test_labels: torch.Tensor    # LongTensor[M]
    test_texts: list[str]
    vocab: WordVocab
    max_length: int

    @property
    def pad_fraction(self) -> float:
        """The share of all train positions that are padding."""
        return float((self.train_ids == WordVocab.pad_id).float().mean())

    @property
    def majority_accuracy(self) -> float:
        """The test accuracy of always answering the commonest training label."""
        common = int(torch.bincount(self.train_labels).argmax())
        return float((self.test_labels == common).float().mean())


def pad_rows(vocab: WordVocab, texts: list[str], max_length: int) -> torch.Tensor:
    """``texts`` -> LongTensor[N, L]: the first L word ids of each text, then padding (id 0) up to L."""
    ids, _ = vocab.encode_batch(texts, max_len=max_length)    # [N, T<=L]
    out = torch.full((len(texts), max_length), WordVocab.pad_id, dtype=torch.long)
    out[:, :ids.shape[1]] = ids
    return out


def sentiment_splits(vocab_size: int = 5000, max_length: int = 100, test_fraction: float = 0.2, seed: int = 0,
                     domains=None, max_examples: int | None = None) -> SentimentSplits:
    """Positive vs. negative sentences, shuffled with ``seed`` and split; the vocabulary from the train part.

    ``vocab_size`` counts every id, padding and the unknown word included (as
    Keras's ``Embedding(input_dim=vocab_size)`` does), so it keeps the
    ``vocab_size - 2`` commonest training words.
    """
    if vocab_size < 3:
        raise CourseError(f"vocab_size must be at least 3 (padding, unknown, one word), not {vocab_size}.")
    if not 0.0 < test_fraction < 1.0:
        raise CourseError(f"test_fraction must be between 0 and 1, not {test_fraction}.")
    frame = load_dataset("vader", domains=domains) if domains is not None else load_dataset("vader")
    frame = frame[frame["label"] != "neutral"]
    frame = frame[frame["text"].map(lambda text: len(word_tokens(str(text))) > 0)]
    order = np.random.default_rng(seed).permutation(len(frame))
    if max_examples is not None:
        order = order[:max_examples]
    texts = [str(t) for t in frame["text"].to_numpy()[order]]
    labels = torch.tensor((frame["label"].to_numpy()[order] == "positive").astype(np.int64))
    n_test = max(1, int(round(len(texts) * test_fraction)))
    if len(texts) - n_test < 2:
        raise CourseError(f"only {len(texts)} labelled sentences: too few to split into train and test.",
                          hint="raise max_examples or leave it at None")
    train_texts, test_texts = texts[n_test:], texts[:n_test]
    vocab = WordVocab.from_texts(train_texts, max_size=vocab_size - 2)
    return SentimentSplits(pad_rows(vocab, train_texts, max_length), labels[n_test:],
                           pad_rows(vocab, test_texts, max_length), labels[:n_test], test_texts, vocab, max_length)
