"""Chapter 06: encoder-decoders: a GRU encoder, a context vector, a GRU decoder, teacher forcing, beam search.

Modules, in reading order (each is a section of the chapter):

* :mod:`.vocab`: ``TokenVocab``, tokens to ids with explicit ``<pad>`` (0), ``<bos>`` (1), ``<eos>`` (2), ``<unk>`` (3).
* :mod:`.task`: the task, numbers in English words -> digits (``Seq2SeqTaskConfig``, ``NumberWordsTask``),
  and padded batches (``Seq2SeqBatch``, ``make_batch``).
* :mod:`.model`: ``Seq2SeqConfig``, ``Encoder``, ``Decoder`` (one ``step`` at a time), ``Seq2Seq``.
* :mod:`.decoding`: ``greedy_decode``, ``beam_search`` and its pruning step ``prune_beams``.
* :mod:`.train`: ``Seq2SeqTrainConfig``, the masked loss, ``train_seq2seq`` (the shared ``fit``, a step
  budget), ``evaluate_by_length`` (free running, and teacher-forced token accuracy beside it).
* :mod:`.classifier`: question 8c's "encoder-decoder classifier" as what it is, an encoder with a
  classification head, in PyTorch (``EncoderClassifier``), trained on the shipped VADER sentences.
* :mod:`.keras_classifier`: the same classifier in Keras 3 (imported only when used; TensorFlow or torch backend).

Built on :mod:`textrnn_lab.layers.rnn` (``build_rnn``) and :mod:`textrnn_lab.training` (``fit``).

The interface chapter 07 (attention) builds on, unchanged from here on:

* ``task.py``: ``Seq2SeqTaskConfig`` (``min_digits``, ``max_digits``, ``and_prob``, ``seed``);
  ``NumberWordsTask(config)`` with ``.src_vocab`` / ``.tgt_vocab`` (:class:`TokenVocab`, ``pad_id=0``,
  ``bos_id=1``, ``eos_id=2``), ``.sample(n, rng, digits=None) -> (sources, targets)`` (lists of str),
  ``.test_set(per_length) -> {digits: (sources, targets)}`` (held out of training), ``.batch(sources,
  targets) -> Seq2SeqBatch(src [B, S], src_lengths [B], src_mask [B, S], tgt_in [B, T], tgt_out [B, T],
  tgt_mask [B, T])`` (masks True at real positions), ``.batches(batch_size, seed)`` (endless, fresh data).
* ``model.py``: ``Seq2SeqConfig(src_vocab_size, tgt_vocab_size, embed_dim, hidden_size, num_layers,
  dropout, attention="none", pad_id, bos_id, eos_id)``. ``Encoder(src, src_lengths) -> (outputs [B, S, H],
  state [L, B, H])`` (packed: the state is read at the last real token, outputs are 0 at padding).
  ``Decoder.step(y_prev [B], state [L, B, H], encoder_outputs [B, S, H], source_mask [B, S]) ->
  (logits [B, V], state, weights [B, S] or None)``. An attention module is called as
  ``attention(query [B, H], keys [B, S, H], mask [B, S] bool, True = real) -> (context [B, H],
  weights [B, S])``; the decoder is then Bahdanau style: the query is the previous top-layer state, the
  context joins the GRU's input ``[emb(y_prev); context]`` and the output layer ``[s_t; context]``.
  Give it as ``Seq2Seq(config, attention=module)``, or ``register_attention(name, factory)`` so that
  ``Seq2SeqConfig(attention=name)`` builds ``factory(config)``. ``Seq2Seq.encode(src, src_lengths) ->
  (encoder_outputs, state, source_mask)``; ``Seq2Seq(src, src_lengths, tgt_in, teacher_forcing_ratio=1.0,
  return_attention=False) -> logits [B, T, V]`` (and weights ``[B, T, S]`` with ``return_attention``).
* ``decoding.py``: ``greedy_decode(model, src, src_lengths, max_len)`` and ``beam_search(model, src,
  src_lengths, beam_size, max_len, length_penalty)`` -> ``DecodeResult(tokens, scores, attention)``; they
  use only ``model.encode`` and ``model.decoder.step``.
* ``train.py``: ``Seq2SeqTrainConfig(TrainConfig)`` (``max_steps``, ``batch_size``, ``teacher_forcing_ratio``,
  ``seed`` ...), ``train_seq2seq(task, train_config, model_config, attention=None, **settings) -> Seq2SeqRun``,
  ``default_model_config(task, **overrides)``, ``evaluate_by_length(model, test_set, task, beam_size=1)``
  -> rows ``{digits, n, source_words, exact, token_acc}``.

Shapes: ``B`` batch, ``S`` source positions, ``T`` target positions, ``E`` embedding, ``H`` hidden units,
``L`` layers, ``V`` target vocabulary, ``K`` beams.
"""
from .classifier import (
    ClassifierResult,
    ClassifierTrainConfig,
    EncoderClassifier,
    EncoderClassifierConfig,
    LabelledSplit,
    labelled_split,
    train_encoder_classifier,
)
from .decoding import DecodeResult, beam_search, greedy_decode, next_token_log_probs, prune_beams
from .model import (
    ATTENTION,
    Decoder,
    Encoder,
    Seq2Seq,
    Seq2SeqConfig,
    build_attention,
    decoder_step,
    register_attention,
)
from .task import (
    NumberWordsTask,
    Seq2SeqBatch,
    Seq2SeqTaskConfig,
    make_batch,
    number_to_words,
    pad_batch,
    source_tokens,
    source_vocab,
    target_tokens,
    target_vocab,
)
from .train import (
    Seq2SeqRun,
    Seq2SeqTrainConfig,
    default_model_config,
    evaluate_by_length,
    make_loss_fn,
    predict,
    sequence_loss,
    teacher_forced_accuracy,
    train_seq2seq,
)
from .vocab import TokenVocab

__all__ = [
    "ATTENTION", "ClassifierResult", "ClassifierTrainConfig", "DecodeResult", "Decoder", "Encoder",
    "EncoderClassifier", "EncoderClassifierConfig", "LabelledSplit", "NumberWordsTask", "Seq2Seq", "Seq2SeqBatch",
    "Seq2SeqConfig", "Seq2SeqRun", "Seq2SeqTaskConfig", "Seq2SeqTrainConfig", "TokenVocab", "beam_search",
    "build_attention", "decoder_step", "default_model_config", "evaluate_by_length", "greedy_decode",
    "labelled_split", "make_batch", "make_loss_fn", "next_token_log_probs", "number_to_words", "pad_batch",
    "predict", "prune_beams", "register_attention", "sequence_loss", "source_tokens", "source_vocab",
    "target_tokens", "target_vocab", "teacher_forced_accuracy", "train_encoder_classifier", "train_seq2seq",
]
