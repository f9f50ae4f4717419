"""One vector per text from the encoder's token states: mean pooling under the attention mask.

An encoder returns one state per token, ``hidden: FloatTensor[B, T, H]``; the
``attention_mask: [B, T]`` is 1 on real tokens and 0 on padding. A sentence
embedding is the mean of the real tokens' states only::

    pooled = mean_pool(hidden, mask)      # [B, H]

Padding must not count: with it, the same sentence would get a different vector
in a batch with a longer neighbour. all-MiniLM-L6-v2 was trained to be read this
way (its sentence embeddings are these means, L2-normalised).
"""
from __future__ import annotations

import torch


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``hidden[b, t]`` over the positions where ``mask[b, t]`` is 1: ``[B, T, H], [B, T] -> [B, H]``.

    A row with no real token gives zeros (never a division by zero).
    """
    weights = mask.to(hidden.dtype).unsqueeze(-1)            # [B, T, 1]
    summed = (hidden * weights).sum(dim=1)                    # [B, H]
    counts = weights.sum(dim=1).clamp(min=1.0)                # [B, 1]
    return summed / counts                                    # [B, H]
