"""Scores for the two tasks: sentence accuracy, and entity F1 with seqeval; two baselines to read them by.

Entity F1 is computed by ``seqeval`` (micro average over entity types, an
entity counting only when its type and both ends are right), on *words*: the
tag predicted at each word's first sub-token is that word's tag, and a word
cut off by truncation counts as predicted ``O``.

    scores = evaluate_tasks(model, base, encoded)   # {"sentence_acc": ..., "entity_f1": ...}
"""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Sequence

import torch

from .batching import EncodedSentences, batch_indices, trim
from .tags import word_predictions


def entity_f1(true_tags: Sequence[Sequence[str]], predicted_tags: Sequence[Sequence[str]]) -> float:
    """Micro-averaged entity F1 (seqeval, the CoNLL way of matching BIO spans)."""
    from seqeval.metrics import f1_score

    return float(f1_score([list(t) for t in true_tags], [list(p) for p in predicted_tags], zero_division=0))


def entity_report(true_tags, predicted_tags) -> str:
    """seqeval's per-type precision / recall / F1 table, as text."""
    from seqeval.metrics import classification_report

    return classification_report([list(t) for t in true_tags], [list(p) for p in predicted_tags], zero_division=0)


@torch.no_grad()
def predict(model, base: torch.Tensor, encoded: EncodedSentences, batch_size: int = 64,
            device=None) -> tuple[list[int], list[list[str]]]:
    """Predicted class per sentence and predicted tag per word, for every sentence of ``encoded``."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    classes: list[int] = []
    tags: list[list[str]] = []
    try:
        for index in batch_indices(len(encoded), batch_size, seed=None):
            mask, hidden = trim(encoded.attention_mask[index], base[index])
            sentence_logits, token_logits = model(hidden.to(device), mask.to(device))  # [B, C], [B, T, K]
            classes += sentence_logits.argmax(-1).tolist()
            for row, i in enumerate(index.tolist()):
                tags.append(word_predictions(encoded.word_ids[i], token_logits[row].argmax(-1).tolist(),
                                             len(encoded.words[i])))
    finally:
        model.train(was_training)
    return classes, tags


def evaluate_tasks(model, base: torch.Tensor, encoded: EncodedSentences, batch_size: int = 64,
                   device=None) -> dict[str, float]:
    """``{"sentence_acc", "entity_f1"}`` of ``model`` on ``encoded`` (base states ``base``)."""
    classes, tags = predict(model, base, encoded, batch_size, device)
    correct = sum(int(p == t) for p, t in zip(classes, encoded.sentence_labels.tolist()))
    return {"sentence_acc": correct / len(encoded), "entity_f1": entity_f1(encoded.tags, tags)}


# --------------------------------------------------------------------------- baselines


def majority_baselines(train: EncodedSentences, test: EncodedSentences) -> dict[str, float]:
    """Always the most frequent class, and always the most frequent tag (``O``, so no entity: F1 0)."""
    counts = Counter(train.sentence_labels.tolist())
    top_class = counts.most_common(1)[0][0]
    tag = Counter(t for tags in train.tags for t in tags).most_common(1)[0][0]
    accuracy = float((test.sentence_labels == top_class).float().mean())
    return {"sentence_acc": accuracy, "entity_f1": entity_f1(test.tags, [[tag] * len(t) for t in test.tags])}


def lookup_baseline(train: EncodedSentences, test: EncodedSentences) -> float:
    """Entity F1 of tagging each word with its most frequent tag in the training set (lower-cased; else ``O``)."""
    seen: dict[str, Counter] = defaultdict(Counter)
    for words, tags in zip(train.words, train.tags):
        for word, tag in zip(words, tags):
            seen[word.lower()][tag] += 1
    predicted = [[seen[w.lower()].most_common(1)[0][0] if w.lower() in seen else "O" for w in words]
                 for words in test.words]
    return entity_f1(test.tags, predicted)
