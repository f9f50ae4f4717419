"""Chapter 01: a character-level language model that writes text.

Modules, in reading order (each is one step of the chapter):

* :mod:`.config`: ``CharLMConfig`` (the model) and ``CharLMTrainConfig`` (its training).
* :mod:`.cells`: ``gru_step`` and ``lstm_step``, one time step written out in PyTorch's convention.
* :mod:`.model`: ``CharLM``: embedding -> RNN/GRU/LSTM -> optional attention over past states -> logits.
* :mod:`.batching`: inputs and targets, the train/validation split, streams for truncated BPTT.
* :mod:`.loss`: ``TBPTTLoss``, the cross-entropy with the hidden state carried between batches.
* :mod:`.evaluation`: nats, bits per character and perplexity on held-out text.
* :mod:`.ngram`: ``KneserNeyLM``, the counting baseline on the same split (what the RNN must beat).
* :mod:`.sampling`: temperature, top-k and greedy decoding; ``generate``.
* :mod:`.train`: ``train_charlm``, all of the above in one call.
* :mod:`.compare`: ``train_seeds`` and ``paired_difference``: two settings over several seeds, or noise.
* :mod:`.analysis`: ``attention_by_distance`` and ``unknown_symbol_damage``, measured on held-out text.
* :mod:`.checkpoint`: ``save_charlm`` / ``load_charlm``, one file with weights, settings and vocabulary.
* :mod:`.cli`: the ``train-charlm`` and ``generate`` commands.

The vocabulary is :class:`textrnn_lab.data.vocab.CharVocab`; the recurrent
layers come from :mod:`textrnn_lab.layers.rnn`; training uses
:func:`textrnn_lab.training.loop.fit`.
"""
from ..data.vocab import CharVocab
from .analysis import UnknownDamage, attention_by_distance, unknown_symbol_damage
from .batching import (
                       StreamBatches,
                       TBPTTStream,
                       input_target_pairs,
                       random_windows,
                       train_val_split,
                       with_unknown_inputs,
)
from .cells import gru_step, lstm_step
from .checkpoint import load_charlm, save_charlm
from .compare import PairedDifference, mean_spread, paired_difference, train_seeds
from .config import CharLMConfig, CharLMTrainConfig
from .evaluation import CharLMScore, bits_per_char, evaluate_charlm, perplexity
from .loss import TBPTTLoss
from .model import CharLM, CharLMState, PastAttention
from .ngram import KneserNeyLM
from .sampling import generate, iter_generate, next_char_probs, sample_next
from .train import TrainedCharLM, min_text_chars, train_charlm

__all__ = [
    "CharLM", "CharLMConfig", "CharLMScore", "CharLMState", "CharLMTrainConfig", "CharVocab", "KneserNeyLM",
    "PairedDifference", "PastAttention", "UnknownDamage", "attention_by_distance", "gru_step", "lstm_step",
    "mean_spread", "paired_difference", "train_seeds", "unknown_symbol_damage",
    "StreamBatches", "TBPTTLoss", "TBPTTStream", "TrainedCharLM", "bits_per_char", "evaluate_charlm", "generate",
    "input_target_pairs", "iter_generate", "load_charlm", "min_text_chars", "next_char_probs", "perplexity",
    "random_windows", "sample_next", "save_charlm", "train_charlm", "train_val_split", "with_unknown_inputs",
]
