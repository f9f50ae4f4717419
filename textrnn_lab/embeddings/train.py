"""word2vec and FastText, trained with gensim from one dataclass of settings.

::

    config = VectorConfig(kind="fasttext", vector_size=100, epochs=5)
    model = train_vectors(sentences, config)     # a gensim FastText model
    model.wv["elizabth"]                          # FastText: a vector even for an unseen word

The two differ in one place: word2vec learns one vector per word of the
vocabulary; FastText learns one vector per word *and* one per hashed character
n-gram (``min_n`` to ``max_n`` characters, in ``bucket`` hash buckets), and a
word's vector is the mean of its own vector and its n-grams' vectors. Every
other setting (skip-gram or CBOW, window, negative sampling, epochs) is shared.

gensim is imported inside the functions; ``workers`` is at most 2 by default
(the course's machines have 2 cores), and ``workers=1`` makes a run repeatable
for a given ``seed``.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Sequence

from ..errors import CourseError

KINDS = ("word2vec", "fasttext")


@dataclass
class VectorConfig:
    """Settings of one word-vector model (gensim's names, where gensim has one).

    ``sg``: 1 for skip-gram (predict the context from the word), 0 for CBOW.
    ``min_count``: words seen fewer times are left out of the vocabulary (they
    are then out of vocabulary for word2vec; FastText still builds them from n-grams).
    ``min_n``, ``max_n``, ``bucket``: FastText only (ignored for word2vec).
    """

    kind: str = "word2vec"
    vector_size: int = 100
    window: int = 5
    min_count: int = 5
    sg: int = 1
    negative: int = 5
    epochs: int = 5
    min_n: int = 3
    max_n: int = 6
    bucket: int = 200_000
    workers: int = 2
    seed: int = 0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise CourseError(f"kind must be one of {KINDS}, not {self.kind!r}.")
        for name in ("vector_size", "window", "min_count", "epochs", "workers", "bucket", "min_n", "max_n"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CourseError(f"{name} must be a whole number >= 1, not {value!r}.")
        if self.min_n > self.max_n:
            raise CourseError(f"min_n ({self.min_n}) must not exceed max_n ({self.max_n}).")
        if self.sg not in (0, 1):
            raise CourseError(f"sg is 1 (skip-gram) or 0 (CBOW), not {self.sg!r}.")

    def gensim_kwargs(self) -> dict:
        """The keyword arguments of ``gensim.models.Word2Vec`` / ``FastText`` for these settings."""
        kwargs = asdict(self)
        kwargs.pop("kind")
        if self.kind == "word2vec":
            for name in ("min_n", "max_n", "bucket"):
                kwargs.pop(name)
        return kwargs


def _check_sentences(sentences) -> None:
    if isinstance(sentences, str) or not isinstance(sentences, Sequence):
        raise CourseError("sentences must be a list of sentences, each a list of words.",
                          hint="split a text with textrnn_lab.embeddings.split_sentences(text)")
    if not sentences or not any(len(s) for s in sentences):
        raise CourseError("there are no words to train word vectors on.")
    first = next(s for s in sentences if len(s))
    if isinstance(first, str) or not all(isinstance(w, str) for w in first):
        raise CourseError("each sentence must be a list of words (str), not a string.",
                          hint="split a text with textrnn_lab.embeddings.split_sentences(text)")


def train_vectors(sentences: Sequence[Sequence[str]], config: VectorConfig | None = None, **settings):
    """Train a gensim ``Word2Vec`` or ``FastText`` model (``config.kind``) on ``sentences``.

    ``settings`` override fields of ``config`` (``train_vectors(s, kind="fasttext", epochs=2)``).
    The returned model has ``train_seconds`` set to the training time.
    """
    from dataclasses import replace

    config = replace(config, **settings) if config is not None else VectorConfig(**settings)
    _check_sentences(sentences)
    try:
        from gensim.models import FastText, Word2Vec
    except ImportError:
        raise CourseError("gensim is not installed.", hint="pip install gensim (4.4 or later)") from None
    cls = Word2Vec if config.kind == "word2vec" else FastText
    started = time.perf_counter()
    sentences = [list(s) for s in sentences]
    model = cls(**config.gensim_kwargs())
    model.build_vocab(sentences)
    if len(model.wv) == 0:
        raise CourseError(f"no word is seen {config.min_count} times or more, so the vocabulary is empty.",
                          hint="lower min_count or train on more text")
    model.train(sentences, total_examples=model.corpus_count, epochs=model.epochs)
    model.train_seconds = time.perf_counter() - started
    return model


def train_word2vec(sentences: Sequence[Sequence[str]], **settings):
    """:func:`train_vectors` with ``kind="word2vec"``."""
    return train_vectors(sentences, VectorConfig(kind="word2vec"), **settings)


def train_fasttext(sentences: Sequence[Sequence[str]], **settings):
    """:func:`train_vectors` with ``kind="fasttext"``."""
    return train_vectors(sentences, VectorConfig(kind="fasttext"), **settings)
