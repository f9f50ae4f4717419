"""Chapter 04: vanishing and exploding gradients, measured step by step, and their remedies.

Modules, in reading order (each is a section of the chapter):

* :mod:`.modes`: the ways of working of an RNN (standard, bidirectional, deep, LSTM, GRU) side by side.
* :mod:`.probes`: the gradient reaching each time step, ``||dL/dx_t||`` and ``||dL/dh_t||``.
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
from .modes import MODES, RNNMode, build_mode, mode_summary
from .probes import gradient_ratio, hidden_gradient_norms, input_gradient_norms, last_step_sum

__all__ = [
    "MODES", "FirstTokensTask", "LMRun", "LongRangeResult", "RNNMode", "SequenceClassifier", "build_lm",
    "build_mode", "build_rnn", "classification_loss", "clip_grad_norm", "global_grad_norm", "gradient_ratio",
    "hidden_gradient_norms", "input_gradient_norms", "last_step_sum", "mode_summary", "set_keep_gate_bias",
    "set_recurrent_radius", "small_lm_config", "spectral_radius", "train_char_lm", "train_long_range",
    "window_batch",
]
