"""Masks for attention, and the softmax that respects them.

A mask is a ``BoolTensor`` that is ``True`` where attention is *allowed* (a real
token, a visible position) and ``False`` where it is not (padding, the future)::

    mask = padding_mask(torch.tensor([3, 1]), max_len=4)  # [B, S]: [[T, T, T, F], [T, F, F, F]]
    future = causal_mask(4)                               # [T, S]: lower triangle, diagonal included
    weights = masked_softmax(scores, mask[:, None, :])    # scores [B, T, S] -> weights [B, T, S]

Shapes: B batch, T query positions, S key positions.

Why ``-inf`` and not a large negative number: ``exp(-inf)`` is exactly 0, so a
masked position gets exactly zero weight, whatever its score was, and a model
cannot learn to leak through it. A row in which *every* key is masked (an empty
sequence) has no distribution to speak of; it gets all-zero weights instead of
``nan``.
"""
from __future__ import annotations

import torch

from ..errors import CourseError


def padding_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """lengths: LongTensor[B] -> BoolTensor[B, S], True at the first ``lengths[b]`` positions of row b."""
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1:
        raise CourseError(f"padding_mask needs one length per sequence, [B], got shape {tuple(lengths.shape)}.")
    if lengths.numel() and int(lengths.min()) < 0:
        raise CourseError("padding_mask: a sequence cannot have a negative length.")
    longest = int(lengths.max()) if lengths.numel() else 0
    size = longest if max_len is None else int(max_len)
    if size < longest:
        raise CourseError(f"padding_mask: max_len={size} is shorter than the longest sequence ({longest}).")
    positions = torch.arange(size, device=lengths.device)   # [S]
    return positions[None, :] < lengths[:, None]            # [B, S]


def causal_mask(size: int, device: torch.device | str | None = None) -> torch.Tensor:
    """BoolTensor[T, T]: position t may look at positions 0..t (itself included), never later ones."""
    if int(size) < 0:
        raise CourseError(f"causal_mask needs a size >= 0, not {size}.")
    return torch.ones(int(size), int(size), dtype=torch.bool, device=device).tril()


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None, dim: int = -1) -> torch.Tensor:
    """Softmax of ``scores`` along ``dim`` where ``mask`` (broadcast to ``scores``) is True; exactly 0 elsewhere.

    A slice along ``dim`` with no allowed position at all comes back as zeros, not ``nan``.
    """
    if mask is None:
        return torch.softmax(scores, dim=dim)
    if mask.dtype != torch.bool:
        raise CourseError(f"an attention mask must be a bool tensor (True = attend), not {mask.dtype}.",
                          hint="build it with padding_mask(lengths) or causal_mask(T), or compare: ids != pad_id")
    try:
        allowed = torch.broadcast_to(mask, scores.shape)
    except RuntimeError:
        raise CourseError(f"a mask of shape {tuple(mask.shape)} does not fit scores of shape {tuple(scores.shape)}.",
                          hint="a padding mask [B, S] needs a None for each dimension in between: mask[:, None, :]"
                          ) from None
    weights = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=dim)
    return weights.masked_fill(~allowed, 0.0)  # rows with nothing allowed: nan -> 0
