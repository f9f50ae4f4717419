"""Batches of tokenised texts that waste little on padding: dynamic padding and length buckets.

Texts are tokenised once, without padding. A batch is padded only to its own
longest text (dynamic padding), and batches are drawn from buckets of texts of
similar length, so a short sentence rarely waits for a long one::

    ids = tokenize(tokenizer, texts, max_length=128)          # list of N lists of token ids
    for batch in bucketed_batches(ids, labels, batch_size=16, pad_id=0, seed=0):
        batch["input_ids"]        # LongTensor[B, T], T = the longest text of this batch
        batch["attention_mask"]   # LongTensor[B, T], 1 on real tokens, 0 on padding
        batch["labels"]           # LongTensor[B]

Letters: B batch size, T tokens of the longest text in the batch.
"""
from __future__ import annotations

from typing import Iterator, Sequence

import torch

from ..errors import DataError


def tokenize(tokenizer, texts: Sequence[str], max_length: int = 128) -> list[list[int]]:
    """Token ids of each text (special tokens included), cut at ``max_length``, not padded."""
    if not texts:
        return []
    encoded = tokenizer([str(t) for t in texts], truncation=True, max_length=max_length)
    return [list(ids) for ids in encoded["input_ids"]]


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask)``, both ``LongTensor[B, T]``, right-padded to the longest sequence."""
    if not sequences:
        raise DataError("cannot pad an empty batch.")
    longest = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), longest), int(pad_id), dtype=torch.long)   # [B, T]
    mask = torch.zeros(len(sequences), longest, dtype=torch.long)                # [B, T]
    for row, seq in enumerate(sequences):
        ids[row, :len(seq)] = torch.as_tensor(list(seq), dtype=torch.long)
        mask[row, :len(seq)] = 1
    return ids, mask


def _batch(ids: Sequence[Sequence[int]], labels, rows: Sequence[int], pad_id: int) -> dict[str, torch.Tensor]:
    input_ids, mask = pad_batch([ids[i] for i in rows], pad_id)
    batch = {"input_ids": input_ids, "attention_mask": mask}
    if labels is not None:
        batch["labels"] = torch.as_tensor([int(labels[i]) for i in rows], dtype=torch.long)   # [B]
    return batch


def bucketed_batches(ids: Sequence[Sequence[int]], labels: Sequence[int] | None, batch_size: int = 16,
                     pad_id: int = 0, seed: int = 0, bucket_batches: int = 20,
                     epochs: int | None = None) -> Iterator[dict[str, torch.Tensor]]:
    """Shuffled training batches, pass after pass (``epochs=None``: endless).

    Each pass shuffles the texts, cuts them into buckets of ``bucket_batches`` batches,
    sorts each bucket by length, cuts it into batches and shuffles the batches: the
    order stays random, and the texts of a batch have similar lengths.
    """
    if batch_size < 1:
        raise DataError(f"batch_size must be at least 1, not {batch_size}.")
    if not ids:
        raise DataError("there are no texts to make batches of.")
    gen = torch.Generator().manual_seed(int(seed))
    bucket = batch_size * max(1, int(bucket_batches))
    done = 0
    while epochs is None or done < epochs:
        order = torch.randperm(len(ids), generator=gen).tolist()
        batches = []
        for start in range(0, len(order), bucket):
            chunk = sorted(order[start:start + bucket], key=lambda i: len(ids[i]))
            batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
        for b in torch.randperm(len(batches), generator=gen).tolist():
            yield _batch(ids, labels, batches[b], pad_id)
        done += 1


def sorted_batches(ids: Sequence[Sequence[int]], labels: Sequence[int] | None = None, batch_size: int = 64,
                   pad_id: int = 0) -> list[tuple[list[int], dict[str, torch.Tensor]]]:
    """Evaluation batches, shortest texts first: ``[(rows, batch), ...]``; ``rows`` say where each result goes."""
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    return [(order[i:i + batch_size], _batch(ids, labels, order[i:i + batch_size], pad_id))
            for i in range(0, len(order), batch_size)]
