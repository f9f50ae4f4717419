"""Sentences to tensors: sub-tokens, attention masks, aligned token labels, sentence labels, batches.

Shape letters: N sentences, B a batch of them, T sub-tokens (``[CLS]`` and
``[SEP]`` included, at most ``max_length``), H the encoder's hidden size.

    encoded = encode_sentences(tokenizer, frame, classes=("negative", "positive"), max_length=48)
    encoded.input_ids        # LongTensor[N, T]
    encoded.token_labels     # LongTensor[N, T], -100 except on the first sub-token of each word
    encoded.sentence_labels  # LongTensor[N]
    for index in batch_indices(len(encoded), 16, seed=0): ...   # LongTensor[B] per batch
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from ..errors import CourseError
from .tags import IGNORE_INDEX, align_labels, tag_ids


@dataclass
class EncodedSentences:
    """A set of tagged sentences, tokenised and aligned; row i of every tensor is sentence i."""

    input_ids: torch.Tensor        # LongTensor[N, T]
    attention_mask: torch.Tensor   # LongTensor[N, T], 1 on real sub-tokens, 0 on padding
    token_labels: torch.Tensor     # LongTensor[N, T], a tag id or -100
    sentence_labels: torch.Tensor  # LongTensor[N]
    word_ids: list[list[int | None]]
    words: list[list[str]]
    tags: list[list[str]]          # the gold (silver) tags, one per word
    classes: tuple[str, ...]
    domains: list[str]

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def truncated_words(self) -> int:
        """Words that did not fit in ``max_length`` sub-tokens (scored as predicted "O")."""
        return sum(len(w) - len({i for i in ids if i is not None}) for w, ids in zip(self.words, self.word_ids))


def encode_sentences(tokenizer, frame, classes: Sequence[str], max_length: int = 48,
                     label_column: str = "label") -> EncodedSentences:
    """Tokenise ``frame`` (columns ``words``, ``tags``, ``label_column``, ``domain``) for the two tasks."""
    if max_length < 3:
        raise CourseError(f"max_length must leave room for [CLS], a word and [SEP]: at least 3, not {max_length}.")
    if len(frame) == 0:
        raise CourseError("there are no sentences to encode.", hint="check the split sizes and the domains chosen")
    classes = tuple(classes)
    unknown = sorted(set(frame[label_column]) - set(classes))
    if unknown:
        raise CourseError(f"sentence labels {unknown} are not among the classes {list(classes)}.")
    words = [list(w) for w in frame["words"]]
    tags = [list(t) for t in frame["tags"]]
    batch = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length,
                      padding="longest", return_tensors="pt")
    word_ids = [batch.word_ids(i) for i in range(len(words))]
    labels = [align_labels(ids, tag_ids(t)) for ids, t in zip(word_ids, tags)]
    return EncodedSentences(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        token_labels=torch.tensor(labels, dtype=torch.long),
        sentence_labels=torch.tensor([classes.index(c) for c in frame[label_column]], dtype=torch.long),
        word_ids=word_ids,
        words=words,
        tags=tags,
        classes=classes,
        domains=list(frame["domain"]),
    )


def batch_indices(n: int, batch_size: int, seed: int | None = 0, drop_last: bool = False) -> Iterator[torch.Tensor]:
    """Endless shuffled batches of row indices (one pass after another); ``seed=None``: in order, one pass."""
    if n < 1 or batch_size < 1:
        raise CourseError(f"need at least one sentence and a batch size >= 1 (got {n} and {batch_size}).")
    if seed is None:
        for start in range(0, n, batch_size):
            yield torch.arange(start, min(n, start + batch_size))
        return
    generator = torch.Generator().manual_seed(int(seed))
    while True:
        order = torch.randperm(n, generator=generator)
        stop = n - n % batch_size if drop_last and n >= batch_size else n
        for start in range(0, stop, batch_size):
            yield order[start:start + batch_size]


def bucketed_indices(lengths: torch.Tensor, batch_size: int, seed: int = 0, pool: int = 32
                     ) -> Iterator[torch.Tensor]:
    """Endless shuffled batches of sentences of similar length: less padding, so less work per step.

    Each pass shuffles the sentences, sorts every pool of ``pool * batch_size`` of
    them by length, cuts the pools into batches and shuffles the batches.
    """
    n = int(lengths.shape[0])
    if n < 1 or batch_size < 1:
        raise CourseError(f"need at least one sentence and a batch size >= 1 (got {n} and {batch_size}).")
    generator = torch.Generator().manual_seed(int(seed))
    span = max(1, pool) * batch_size
    while True:
        order = torch.randperm(n, generator=generator)
        batches = []
        for start in range(0, n, span):
            chunk = order[start:start + span]
            chunk = chunk[torch.argsort(lengths[chunk], descending=True, stable=True)]
            batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
        for position in torch.randperm(len(batches), generator=generator).tolist():
            yield batches[position]


def trim(mask: torch.Tensor, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Cut the padding columns that no row of the batch uses: ``mask [B, T]`` -> every tensor ``[B, T', ...]``."""
    length = int(mask.sum(dim=1).max()) if mask.numel() else 0
    return tuple(t[:, :max(1, length)] for t in (mask, *tensors))


__all__ = ["EncodedSentences", "IGNORE_INDEX", "batch_indices", "bucketed_indices", "encode_sentences", "trim"]
