"""Chapter 02: transfer learning: a pre-trained encoder fine-tuned on your own labelled CSV, and why it pays.

Modules, in reading order (each is a section of the chapter):

* :mod:`.tabular`: a labelled CSV read and checked (missing file or column, too few classes, empty texts,
  non-UTF-8, float labels), label names, the stratified train/test split.
* :mod:`.batching`: dynamic padding and length-bucketed batches of tokenised texts.
* :mod:`.pooling`: mean pooling of token states under the attention mask.
* :mod:`.classifier`: the encoder with a classification head; the head's forward pass; freezing the encoder.
* :mod:`.metrics`: accuracy, macro-F1 and the confusion matrix.
* :mod:`.finetune`: ``finetune``: fine-tuning within a time budget, batched no-grad evaluation, ``save_pretrained``.
* :mod:`.baselines`: frozen sentence embeddings + logistic regression, and a small model trained from scratch.
* :mod:`.encoder_rnn`: frozen encoder token embeddings -> RNN -> linear (also chapter 09).
* :mod:`.generation`: transfer for generation: a char-LM pre-trained on a large corpus, fine-tuned on a small one.
* :mod:`.cli`: the ``finetune`` and ``classify`` commands.

The encoder is :func:`textrnn_lab.layers.pretrained.load_encoder` (the packaged all-MiniLM-L6-v2 offline);
training uses :mod:`textrnn_lab.training` (``BudgetSchedule``, threads, the loop); the char-LM is chapter 01's
:mod:`textrnn_lab.lm`.
"""
from ..layers.pretrained import embed_sentences, load_encoder
from .baselines import ScratchRNNClassifier, ScratchTrainConfig, logistic_probe, scratch_predict, train_scratch
from .batching import bucketed_batches, pad_batch, sorted_batches, tokenize
from .classifier import freeze_encoder, head_logits, head_weights, trainable_parameters, unfreeze
from .encoder_rnn import (
    EncoderRNNClassifier,
    EncoderRNNConfig,
    EncoderRNNTrainConfig,
    RNNHead,
    TokenStates,
    encode_token_states,
    last_real_position,
    train_rnn_head,
)
from .finetune import (
    Evaluation,
    FinetuneConfig,
    FinetuneResult,
    classify_texts,
    evaluate_classifier,
    finetune,
    load_classifier,
    load_finetuned,
    reset_head,
    save_finetuned,
    set_label_names,
    text_probabilities,
)
from .generation import SmallTextConfig, SmallTextRun, continue_training, shared_vocab
from .metrics import accuracy, confusion_matrix, format_confusion, macro_f1, per_class_f1
from .pooling import mean_pool
from .tabular import LabelledTexts, check_classes, read_labelled_texts, stratified_sample, stratified_split

__all__ = [
    "EncoderRNNClassifier", "EncoderRNNConfig", "EncoderRNNTrainConfig", "Evaluation", "FinetuneConfig",
    "FinetuneResult", "LabelledTexts", "RNNHead", "ScratchRNNClassifier", "ScratchTrainConfig", "SmallTextConfig",
    "SmallTextRun", "TokenStates", "accuracy", "bucketed_batches", "check_classes", "classify_texts",
    "confusion_matrix", "continue_training", "embed_sentences", "encode_token_states", "evaluate_classifier",
    "finetune", "format_confusion", "freeze_encoder", "head_logits", "head_weights", "last_real_position",
    "load_classifier", "load_encoder", "load_finetuned", "logistic_probe", "macro_f1", "mean_pool", "pad_batch",
    "per_class_f1", "read_labelled_texts", "reset_head", "save_finetuned", "scratch_predict", "set_label_names",
    "shared_vocab", "sorted_batches", "stratified_sample", "stratified_split", "text_probabilities", "tokenize",
    "train_rnn_head", "train_scratch", "trainable_parameters", "unfreeze",
]
