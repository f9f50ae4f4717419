"""The padding bug, measured: the same encoder -> LSTM -> linear read at ``outputs[:, -1]`` or at the last real token.

::

    run = train_readout("final", train_cache, y_train, val_cache, y_val, seed=0)   # the bug
    run.accuracy, run.accuracy_alone, run.accuracy_shuffled
    probs = padding_drift(run.head, val_cache, [0, 8, 16, 32], index=range(50))     # [50, 4]
    flip_rate(run.head, val_cache)          # share of texts whose label changes with the batch they are in

Training batches are drawn at random (not sorted by length), as a plain
``DataLoader`` would, so most texts in a batch are padded. A model is then
evaluated three ways: in batches of similar length (``accuracy``, little
padding), each text alone (``accuracy_alone``, no padding) and in random
batches (``accuracy_shuffled``, much padding). With the last-real-position
readout the three agree exactly; with ``outputs[:, -1]`` they need not.

Shapes: ``N`` texts, ``C`` classes, ``P`` padding lengths tried.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Sequence

import torch

from ..errors import CourseError
from ..runtime.seeding import seed_everything
from ..training.loop import History
from ..transfer.encoder_rnn import (
    EncoderRNNConfig,
    EncoderRNNTrainConfig,
    RNNHead,
    TokenStates,
    predict_proba,
    train_rnn_head,
)

#: the source's model: an LSTM of 256 units on the encoder's token states, then a linear layer to 2 classes
BERT_LSTM = EncoderRNNConfig(cell="lstm", hidden_size=256, num_classes=2, dropout=0.1)


@dataclass
class ReadoutRun:
    """One model trained with one readout and one seed, and how it scores on held-out texts."""

    readout: str
    seed: int
    accuracy: float            # batches of similar length (little padding)
    accuracy_alone: float      # one text per batch (no padding)
    accuracy_shuffled: float   # random batches of the training batch size (much padding)
    seconds: float
    history: History
    head: RNNHead

    def row(self) -> dict:
        return {"readout": self.readout, "seed": self.seed, "accuracy": round(self.accuracy, 4),
                "accuracy_alone": round(self.accuracy_alone, 4),
                "accuracy_shuffled": round(self.accuracy_shuffled, 4), "seconds": round(self.seconds, 1)}


def _accuracy(probs: torch.Tensor, labels: torch.Tensor) -> float:
    return float((probs.argmax(dim=1) == labels).float().mean())


def shuffled_proba(head: RNNHead, cache: TokenStates, batch_size: int, seed: int = 0, readout: str | None = None,
                   device=None) -> torch.Tensor:
    """Probabilities ``[N, C]`` with the texts in random batches of ``batch_size`` (returned in cache order)."""
    order = torch.randperm(len(cache), generator=torch.Generator().manual_seed(int(seed)))
    probs = predict_proba(head, cache.subset(order), batch_size=batch_size, readout=readout, sort_by_length=False,
                          device=device)
    out = torch.empty_like(probs)
    out[order] = probs
    return out


def train_readout(readout: str, train_cache: TokenStates, train_labels, val_cache: TokenStates, val_labels, *,
                  seed: int = 0, config: EncoderRNNConfig = BERT_LSTM,
                  train_config: EncoderRNNTrainConfig | None = None, device="cpu") -> ReadoutRun:
    """Train a fresh head with ``readout`` (``"last"``, ``"packed"`` or the buggy ``"final"``) and evaluate it."""
    train_config = replace(train_config or EncoderRNNTrainConfig(), seed=int(seed))
    seed_everything(seed)
    head = RNNHead(replace(config, readout=readout), train_cache.embed_dim)
    started = time.perf_counter()
    history = train_rnn_head(head, train_cache, train_labels, train_config, device=device)
    seconds = time.perf_counter() - started
    y = torch.as_tensor(list(val_labels) if not isinstance(val_labels, torch.Tensor) else val_labels).long()
    return ReadoutRun(
        readout=readout, seed=int(seed),
        accuracy=_accuracy(predict_proba(head, val_cache, device=device), y),
        accuracy_alone=_accuracy(predict_proba(head, val_cache, batch_size=1, device=device), y),
        accuracy_shuffled=_accuracy(shuffled_proba(head, val_cache, train_config.batch_size, seed=seed,
                                                   device=device), y),
        seconds=seconds, history=history, head=head)


@torch.no_grad()
def padding_drift(head: RNNHead, cache: TokenStates, extra: Sequence[int], index: Sequence[int] | None = None,
                  readout: str | None = None, target: int = 1) -> torch.Tensor:
    """P(class ``target``) of each text with ``extra[p]`` padding positions appended -> ``[N, P]``.

    Nothing about a text changes but the padding after it (as when it shares a
    batch with a longer text); a correct readout gives one value per row.
    """
    if not len(extra) or min(int(e) for e in extra) < 0:
        raise CourseError("extra must be a non-empty list of padding lengths >= 0.")
    index = list(range(len(cache))) if index is None else [int(i) for i in index]
    device = next(head.parameters()).device
    was_training = head.training
    head.eval()
    columns = []
    try:
        for pad in extra:
            column = []
            for i in index:
                states, mask = cache.batch([i], pad_to=int(cache.lengths[i]) + int(pad))  # [1, T_i + pad, E]
                logits = head(states.to(device), mask.to(device), readout)                  # [1, C]
                column.append(float(logits.softmax(dim=-1)[0, target]))
            columns.append(column)
    finally:
        head.train(was_training)
    return torch.tensor(columns).T                                                          # [N, P]


def flip_rate(head: RNNHead, cache: TokenStates, batch_size: int = 32, seed: int = 0,
              readout: str | None = None) -> float:
    """The share of texts whose predicted class differs between "alone" and "in a random batch"."""
    alone = predict_proba(head, cache, batch_size=1, readout=readout).argmax(dim=1)
    batched = shuffled_proba(head, cache, batch_size, seed=seed, readout=readout).argmax(dim=1)
    return float((alone != batched).float().mean())
