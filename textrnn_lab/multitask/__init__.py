"""Chapter 08: multi-task learning with frozen layers: one shared encoder, a sentence head and a token (NER) head.

Modules, in reading order (each is a section of the chapter):

* :mod:`.tags`: the BIO tags; word labels spread over sub-tokens (``align_labels``: first piece only, else -100).
* :mod:`.batching`: tagged sentences to tensors (sub-tokens, masks, aligned labels) and shuffled batches.
* :mod:`.model`: the model (the encoder's top layers, a sentence head on the mean-pooled vector, a token head),
  the frozen base below it, and the freezing modes (``FREEZE_MODES``, ``model.freeze(mode)``).
* :mod:`.loss`: the combined loss, a weighted sum of the two cross-entropies.
* :mod:`.evaluation`: sentence accuracy, entity F1 with seqeval, and two baselines.
* :mod:`.train`: one run in one freezing mode, with the shared step-based loop (``training.loop.fit``).
* :mod:`.comparison`: differences between modes over seeds, and whether they exceed the noise.
* :mod:`.corpus`: the tagged sentences by name (the shipped silver set offline; hub names when a hub answers).

Built on :mod:`textrnn_lab.layers.pretrained` (the offline all-MiniLM-L6-v2 encoder),
:mod:`textrnn_lab.training` and the shipped ``ner`` dataset of :mod:`textrnn_lab.data`.
"""
from .batching import EncodedSentences, batch_indices, encode_sentences
from .comparison import Difference, paired_difference
from .corpus import load_tagged_sentences, split_by_domain
from .evaluation import entity_f1, entity_report, evaluate_tasks, lookup_baseline, majority_baselines, predict
from .loss import loss_parts, multitask_loss, token_loss
from .model import FREEZE_MODES, PARTS, MultiTaskConfig, MultiTaskModel, base_states, mean_pool
from .tags import ENTITY_TYPES, IGNORE_INDEX, TAG_TO_ID, TAGS, align_labels, tag_ids, word_predictions
from .train import MultiTaskRun, MultiTaskTrainConfig, make_loss_fn, task_batches, train_multitask

__all__ = [
    "ENTITY_TYPES", "FREEZE_MODES", "IGNORE_INDEX", "PARTS", "TAGS", "TAG_TO_ID", "Difference", "EncodedSentences",
    "MultiTaskConfig", "MultiTaskModel", "MultiTaskRun", "MultiTaskTrainConfig", "align_labels", "base_states",
    "batch_indices", "encode_sentences", "entity_f1", "entity_report", "evaluate_tasks", "load_tagged_sentences",
    "lookup_baseline", "loss_parts", "majority_baselines", "make_loss_fn", "mean_pool", "multitask_loss",
    "paired_difference", "predict", "split_by_domain", "tag_ids", "task_batches", "token_loss", "train_multitask",
    "word_predictions",
]
