"""Chapter 01's attention over past states, seen as what it is: causal self-attention.

The language model of chapter 01 (``CharLM(CharLMConfig(attention=True))``)
lets each position look back at the recent hidden states of its own sequence
(:class:`textrnn_lab.lm.PastAttention`). In this chapter's words that is
*self*-attention (queries, keys and values all come from the same sequence) with
a *causal* mask (never the future: the next character must stay unseen) narrowed
to a window of W positions::

    weights = past_attention_weights(lm.attention, h)  # h [B, T, H] -> [B, T, T], the lm's own weights
    mask = window_mask(T, W)                           # [T, T]: s in t-W+1 .. t

No code of the language model is repeated here: its trained projections are
passed to :func:`~textrnn_lab.attention.scaled.scaled_dot_product_attention`
with the mask, and the tests check that the result is the model's own.

Shapes: B batch, T positions, H hidden size, A query/key size, W window.
"""
from __future__ import annotations

import torch

from ..errors import CourseError
from ..lm.model import PastAttention
from .masks import causal_mask
from .scaled import scaled_dot_product_attention


def window_mask(size: int, window: int, device: torch.device | str | None = None) -> torch.Tensor:
    """BoolTensor[T, T]: query t may see keys t - W + 1 .. t (the causal mask, cut to the last W positions)."""
    if int(window) < 1:
        raise CourseError(f"an attention window holds at least one position, not {window}.")
    recent = torch.ones(size, size, dtype=torch.bool, device=device).triu(-(int(window) - 1))  # s >= t - W + 1
    return causal_mask(size, device=device) & recent


def past_attention_weights(attention: PastAttention, h: torch.Tensor) -> torch.Tensor:
    """The weights chapter 01's ``PastAttention`` gives to a fresh chunk ``h`` [B, T, H], computed as
    causal (windowed) scaled dot-product self-attention -> FloatTensor[B, T, T]."""
    if not isinstance(attention, PastAttention):
        raise CourseError("past_attention_weights needs the attention of a CharLM built with attention=True.",
                          hint="CharLM(CharLMConfig(..., attention=True)).attention")
    q, k = attention.query(h), attention.key(h)                          # [B, T, A], [B, T, A]
    mask = window_mask(h.shape[1], attention.window, device=h.device)   # [T, T]
    _, weights = scaled_dot_product_attention(q, k, h, mask)             # values: the hidden states themselves
    return weights
