"""Chapter 07: attention, from the decoder's look at its source to masked multi-head self-attention.

Modules, in reading order (each is a section of the chapter):

* :mod:`.masks`: padding and causal masks, and the softmax that gives masked positions exactly zero weight.
* :mod:`.alignment`: additive (Bahdanau) and dot-product / general (Luong) attention of a decoder over its source.
* :mod:`.scaled`: scaled dot-product attention and multi-head self-attention, written out.
* :mod:`.causal`: chapter 01's attention over past states as causal self-attention.

Built on chapter 06's encoder-decoder (:mod:`textrnn_lab.seq2seq`) and chapter
01's language model (:mod:`textrnn_lab.lm`).
"""
from .alignment import KINDS, AdditiveAttention, DotProductAttention, attend, build_attention
from .causal import past_attention_weights, window_mask
from .masks import causal_mask, masked_softmax, padding_mask
from .scaled import MultiHeadSelfAttention, multihead_parameter_count, scaled_dot_product_attention

__all__ = [
    "KINDS", "AdditiveAttention", "DotProductAttention", "MultiHeadSelfAttention", "attend", "build_attention",
    "causal_mask", "masked_softmax", "multihead_parameter_count", "padding_mask", "past_attention_weights",
    "scaled_dot_product_attention", "window_mask",
]
