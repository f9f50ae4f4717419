"""Chapter 04: vanishing and exploding gradients, measured step by step, and their remedies.

Modules, in reading order (each is a section of the chapter):

* :mod:`.modes`: the ways of working of an RNN (standard, bidirectional, deep, LSTM, GRU) side by side,
  and tagging tasks that measure what the bidirectional and the deep modes are for.
* :mod:`.probes`: the gradient reaching each time step, ``||dL/dx_t||`` and ``||dL/dh_t||``, its slope per
  step back, and the memory time constant of a keep-gate bias.
* :mod:`.longrange`: a task whose difficulty grows with the distance to remember, and a classifier for it.
* :mod:`.clipping`: one global norm for all gradients, the remedy for exploding ones.
* :mod:`.instability`: chapter 01's language model trained until it diverges, and the remedies.

Built on :mod:`textrnn_lab.layers.rnn` (cells, gate-bias and spectral-radius
initialisation, re-exported here) and on chapter 01's :mod:`textrnn_lab.lm`.
"""
from ..layers.rnn import build_rnn, set_keep_gate_bias, set_recurrent_radius, spectral_radius
from .clipping import clip_grad_norm, global_grad_norm
from .instability import LMRun, build_lm, small_lm_config, train_char_lm, window_batch
from .longrange import FirstTokensTask, LongRangeResult, SequenceClassifier, classification_loss, train_long_range
from .modes import (
    MODES,
    TAGGING_RULES,
    RNNMode,
    Tagger,
    TaggerResult,
    TaggingTask,
    build_mode,
    hidden_size_for,
    mode_summary,
    tagging_loss,
    train_tagger,
)
from .probes import (
    gradient_ratio,
    hidden_gradient_norms,
    input_gradient_norms,
    keep_gate_values,
    last_step_sum,
    log_slope,
    memory_time_constant,
)

__all__ = [
    "MODES", "TAGGING_RULES", "FirstTokensTask", "LMRun", "LongRangeResult", "RNNMode", "SequenceClassifier",
    "Tagger", "TaggerResult", "TaggingTask", "build_lm", "build_mode", "build_rnn", "classification_loss",
    "clip_grad_norm", "global_grad_norm", "gradient_ratio", "hidden_gradient_norms",
    "hidden_size_for", "input_gradient_norms", "keep_gate_values", "last_step_sum", "log_slope", "memory_time_constant",
    "mode_summary", "set_keep_gate_bias", "set_recurrent_radius", "small_lm_config", "spectral_radius",
    "tagging_loss", "train_char_lm", "train_long_range", "train_tagger", "window_batch",
]
