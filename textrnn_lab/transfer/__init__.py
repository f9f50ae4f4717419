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
