"""Scaled dot-product attention and multi-head self-attention, written out.

::

    out, weights = scaled_dot_product_attention(q, k, v, mask)   # q [B, T, A], k [B, S, A], v [B, S, H]
    mha = MultiHeadSelfAttention(embed_dim=64, num_heads=4, head_dim=16)
    y, weights = mha(x, mask=padding_mask(lengths, x.shape[1]))  # x [B, T, E] -> y [B, T, E], weights [B, nh, T, T]

The formula, one line per step::

    scores  = q k^T / sqrt(A)        [B, T, S]   how well query t matches key s
    scores  = -inf where not allowed              padding (mask), the future (causal)
    weights = softmax(scores, over s) [B, T, S]   each row sums to 1 (or is all 0 if nothing is allowed)
    out     = weights v              [B, T, H]   a weighted average of the values

Dividing by ``sqrt(A)`` keeps the scores' spread near 1 whatever the size of the
keys (a dot product of two random A-vectors has variance A), so the softmax does
not start saturated, with its gradients near zero.

Shapes: B batch, T queries, S keys, A size of queries and keys, H size of values,
E embedding size, nh heads (``num_heads``), hd size per head (``head_dim``).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import CourseError
from .masks import causal_mask, masked_softmax


def _allowed(mask: torch.Tensor | None, causal: bool, scores: torch.Tensor) -> torch.Tensor | None:
    """One bool mask broadcastable to ``scores`` [..., T, S], from a padding mask and/or causality."""
    T, S = scores.shape[-2], scores.shape[-1]
    allowed = None
    if mask is not None:
        if mask.dtype != torch.bool:
            raise CourseError(f"an attention mask must be a bool tensor (True = attend), not {mask.dtype}.")
        if mask.dim() == 2 and scores.dim() >= 3 and tuple(mask.shape) == (scores.shape[0], S):
            # a key padding mask [B, S]: the same for every query (and every head)
            mask = mask.reshape(mask.shape[0], *([1] * (scores.dim() - 2)), S)
        allowed = mask
    if causal:
        if T != S:
            raise CourseError(f"causal attention needs as many queries as keys, got {T} and {S}.")
        future = causal_mask(T, device=scores.device)          # [T, S]
        allowed = future if allowed is None else allowed & future
    return allowed


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 mask: torch.Tensor | None = None, causal: bool = False):
    """softmax(q k^T / sqrt(A)) v, with masked positions at exactly zero weight.

    Args:
        q: FloatTensor[..., T, A]; k: FloatTensor[..., S, A]; v: FloatTensor[..., S, H].
        mask: BoolTensor, True = may attend: a key padding mask [B, S], or any
            shape that broadcasts to [..., T, S].
        causal: also hide every key s > t from query t (needs T == S).

    Returns:
        (out FloatTensor[..., T, H], weights FloatTensor[..., T, S]).
    """
    if q.shape[-1] != k.shape[-1]:
        raise CourseError(f"queries and keys need the same size, got {q.shape[-1]} and {k.shape[-1]}.")
    if k.shape[-2] != v.shape[-2]:
        raise CourseError(f"one value per key: got {k.shape[-2]} keys and {v.shape[-2]} values.")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # [..., T, S]
    weights = masked_softmax(scores, _allowed(mask, causal, scores))  # [..., T, S]
    return weights @ v, weights                                 # [..., T, H], [..., T, S]


def multihead_parameter_count(embed_dim: int, num_heads: int, head_dim: int, value_dim: int | None = None,
                              bias: bool = True) -> int:
    """Parameters of multi-head attention over E-vectors: query, key and value projections E -> nh*hd
    (values: nh*vd), and the output projection nh*vd -> E, each with a bias when ``bias``."""
    vd = head_dim if value_dim is None else value_dim
    qk = 2 * (embed_dim * num_heads * head_dim + (num_heads * head_dim if bias else 0))
    value = embed_dim * num_heads * vd + (num_heads * vd if bias else 0)
    out = num_heads * vd * embed_dim + (embed_dim if bias else 0)
    return qk + value + out


class MultiHeadSelfAttention(nn.Module):
    """Self-attention with ``num_heads`` heads: every position attends to every (allowed) position.

    Each head has its own query, key and value projections of size ``head_dim``;
    the heads run side by side and their outputs are concatenated and projected
    back to ``embed_dim``. PyTorch's ``nn.MultiheadAttention`` fixes
    ``head_dim = embed_dim // num_heads``; Keras's ``MultiHeadAttention`` takes it
    as ``key_dim``, which may be anything (the classifier of this chapter uses
    ``key_dim = embed_dim``: four full-size heads, four times the parameters).
    """

    def __init__(self, embed_dim: int, num_heads: int, head_dim: int | None = None):
        super().__init__()
        if head_dim is None:
            if embed_dim % num_heads:
                raise CourseError(f"embed_dim={embed_dim} is not divisible by num_heads={num_heads}.",
                                  hint="give head_dim explicitly, or choose num_heads dividing embed_dim")
            head_dim = embed_dim // num_heads
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, head_dim
        inner = num_heads * head_dim
        self.query = nn.Linear(embed_dim, inner)
        self.key = nn.Linear(embed_dim, inner)
        self.value = nn.Linear(embed_dim, inner)
        self.out = nn.Linear(inner, embed_dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        B, T, _ = x.shape
        return x.view(B, T, self.num_heads, self.head_dim).transpose(1, 2)  # [B, nh, T, hd]

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, causal: bool = False):
        """x: FloatTensor[B, T, E], mask: BoolTensor[B, T] (True = real token) ->
        (y FloatTensor[B, T, E], weights FloatTensor[B, nh, T, T])."""
        if x.dim() != 3 or x.shape[-1] != self.embed_dim:
            raise CourseError(f"MultiHeadSelfAttention expects [B, T, {self.embed_dim}], got {tuple(x.shape)}.")
        B, T, _ = x.shape
        q = self._heads(self.query(x))                        # [B, nh, T, hd]
        k = self._heads(self.key(x))                          # [B, nh, T, hd]
        v = self._heads(self.value(x))                        # [B, nh, T, hd]
        key_mask = mask[:, None, None, :] if mask is not None else None  # [B, 1, 1, T]
        heads, weights = scaled_dot_product_attention(q, k, v, key_mask, causal=causal)  # [B, nh, T, hd]
        y = self.out(heads.transpose(1, 2).reshape(B, T, -1))  # [B, T, E]
        return y, weights
