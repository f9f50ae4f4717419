"""Building blocks shared by the models of several chapters.

Modules, in reading order:

* :mod:`.rnn`: the one table of recurrent cells (``CELLS``), ``build_rnn``,
  ``detach_state``, gate-bias and spectral-radius initialisation,
  ``count_parameters`` (chapter 01, again in 04 and every later recurrent model).
* :mod:`.pretrained`: the offline sentence encoder, ``load_encoder`` and
  ``embed_sentences`` (chapter 00, again in 02, 08 and 09).
"""
from .rnn import CELLS, build_rnn, count_parameters, detach_state, set_keep_gate_bias, set_recurrent_radius

__all__ = ["CELLS", "build_rnn", "count_parameters", "detach_state", "set_keep_gate_bias", "set_recurrent_radius"]
