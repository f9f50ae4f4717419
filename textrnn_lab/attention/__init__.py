"""Chapter 07: attention, from the decoder's look at its source to masked multi-head self-attention.

Modules, in reading order (each is a section of the chapter):

* :mod:`.masks`: padding and causal masks, and the softmax that gives masked positions exactly zero weight.
* :mod:`.alignment`: additive (Bahdanau) and dot-product / general (Luong) attention of a decoder over its source.
* :mod:`.lengths`: chapter 06's encoder-decoder with each kind of attention, accuracy against input length,
  attention maps (importing it registers the kinds with ``Seq2SeqConfig(attention=...)``).
* :mod:`.scaled`: scaled dot-product attention and multi-head self-attention, written out.
* :mod:`.causal`: chapter 01's attention over past states as causal self-attention.
* :mod:`.textdata`: labelled sentences (positive / negative) as padded rows of word ids.
* :mod:`.classifier`: a self-attention text classifier in PyTorch, its parameters counted layer by layer.
* :mod:`.keras_classifier`: the same classifier in Keras 3 (imported only when used; not re-exported here).

Built on chapter 06's encoder-decoder (:mod:`textrnn_lab.seq2seq`) and chapter
01's language model (:mod:`textrnn_lab.lm`).
"""
from .alignment import KINDS, AdditiveAttention, DotProductAttention, attend, make_attention
from .causal import past_attention_weights, window_mask
from .classifier import (
    ClassifierRun,
    SelfAttentionClassifier,
    SelfAttentionClassifierConfig,
    classifier_loss,
    masked_mean,
    parameter_table,
    predict_proba,
    train_classifier,
)
from .lengths import attention_map, compare_by_length, summarize
from .masks import causal_mask, masked_softmax, padding_mask
from .scaled import MultiHeadSelfAttention, multihead_parameter_count, scaled_dot_product_attention
from .textdata import CLASSES, SentimentSplits, sentiment_splits

__all__ = [
    "AdditiveAttention", "CLASSES", "ClassifierRun", "DotProductAttention", "KINDS", "MultiHeadSelfAttention",
    "SelfAttentionClassifier", "SelfAttentionClassifierConfig", "SentimentSplits", "attend", "attention_map",
    "causal_mask", "classifier_loss", "compare_by_length", "make_attention", "masked_mean", "masked_softmax",
    "multihead_parameter_count", "padding_mask", "parameter_table", "past_attention_weights", "predict_proba",
    "scaled_dot_product_attention", "sentiment_splits", "summarize", "train_classifier", "window_mask",
]
