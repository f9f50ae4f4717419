"""Attention for a decoder: one query (the decoder's state) over the encoder's outputs.

Every module here has the call signature chapter 06's decoder expects::

    context, weights = attention(query, keys, mask)
    # query [B, H] the decoder state, keys [B, S, H] the encoder outputs,
    # mask [B, S] bool, True at real source tokens -> context [B, H], weights [B, S]

The two classic ways to score how well the decoder state ``q`` matches the
encoder output ``k_s`` at source position s:

* **additive** (Bahdanau et al., 2015): ``score_s = v . tanh(W_q q + W_k k_s)``,
  a one-hidden-layer network of size A that looks at both;
* **multiplicative** (Luong et al., 2015): ``score_s = q . k_s`` (``"dot"``),
  ``q . (W k_s)`` (``"general"``), optionally divided by ``sqrt(H)`` (``"scaled"``).

Then, for both: ``weights = softmax(scores)`` over the real source tokens (padding
gets exactly 0) and ``context = sum_s weights_s k_s``, a fresh summary of the
source for every output step, instead of the one fixed vector of chapter 06.

Shapes: B batch, S source positions, H hidden size (of the decoder's query and
of the encoder's keys; they may differ for the additive and general forms: Hq,
Hk), A the additive attention's inner size.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import CourseError
from .masks import masked_softmax

#: the attention kinds :func:`make_attention` knows, as the notebook names them
KINDS = ("none", "additive", "dot", "general", "scaled")


def _check_inputs(query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor | None) -> None:
    if query.dim() != 2 or keys.dim() != 3 or query.shape[0] != keys.shape[0]:
        raise CourseError(f"attention expects query [B, H] and keys [B, S, H], got {tuple(query.shape)} and "
                          f"{tuple(keys.shape)}.")
    if mask is not None and tuple(mask.shape) != tuple(keys.shape[:2]):
        raise CourseError(f"the source mask must be [B, S] = {tuple(keys.shape[:2])}, got {tuple(mask.shape)}.")


def attend(scores: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor | None):
    """scores [B, S], keys [B, S, H], mask [B, S] -> (context [B, H], weights [B, S]): the step both kinds share."""
    weights = masked_softmax(scores, mask)                   # [B, S]
    context = torch.bmm(weights[:, None, :], keys)[:, 0]     # [B, 1, S] x [B, S, H] -> [B, H]
    return context, weights


class AdditiveAttention(nn.Module):
    """Bahdanau's attention: ``score_s = v . tanh(W_q q + W_k k_s)``."""

    def __init__(self, query_size: int, key_size: int | None = None, attn_dim: int | None = None):
        super().__init__()
        key_size = query_size if key_size is None else key_size
        attn_dim = query_size if attn_dim is None else attn_dim
        self.query_proj = nn.Linear(query_size, attn_dim, bias=False)
        self.key_proj = nn.Linear(key_size, attn_dim)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor | None = None):
        """query [B, Hq], keys [B, S, Hk], mask [B, S] -> (context [B, Hk], weights [B, S])."""
        _check_inputs(query, keys, mask)
        hidden = torch.tanh(self.query_proj(query)[:, None, :] + self.key_proj(keys))  # [B, S, A]
        scores = self.v(hidden)[..., 0]                                            # [B, S]
        return attend(scores, keys, mask)


class DotProductAttention(nn.Module):
    """Luong's multiplicative attention: ``q . k_s`` (dot), ``q . W k_s`` (general), ``/ sqrt(H)`` (scaled)."""

    def __init__(self, hidden_size: int, form: str = "dot", key_size: int | None = None):
        super().__init__()
        if form not in ("dot", "general", "scaled"):
            raise CourseError(f"unknown dot-product attention form {form!r}.", hint="choose dot, general or scaled")
        self.form = form
        key_size = hidden_size if key_size is None else key_size
        if form != "general" and key_size != hidden_size:
            raise CourseError("dot and scaled attention need queries and keys of one size; use form='general'.")
        self.proj = nn.Linear(key_size, hidden_size, bias=False) if form == "general" else None
        self.scale = 1.0 / math.sqrt(hidden_size) if form == "scaled" else 1.0

    def forward(self, query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor | None = None):
        """query [B, H], keys [B, S, H], mask [B, S] -> (context [B, H], weights [B, S])."""
        _check_inputs(query, keys, mask)
        projected = self.proj(keys) if self.proj is not None else keys    # [B, S, H]
        scores = torch.bmm(projected, query[:, :, None])[..., 0] * self.scale  # [B, S, H] x [B, H, 1] -> [B, S]
        return attend(scores, keys, mask)


def make_attention(kind: str, hidden_size: int) -> nn.Module | None:
    """An attention module for a decoder of ``hidden_size`` over keys of the same size; ``None`` for "none"."""
    key = str(kind).lower()
    if key == "none":
        return None
    if key == "additive":
        return AdditiveAttention(hidden_size)
    if key in ("dot", "general", "scaled"):
        return DotProductAttention(hidden_size, form=key)
    raise CourseError(f"unknown attention kind {kind!r}.", hint="choose one of: " + ", ".join(KINDS))
