"""What fine-tuning is compared with: frozen sentence embeddings + logistic regression, and a model from scratch.

::

    train_x = embed_sentences(train.texts, tokenizer, encoder)     # [N, 384], the encoder frozen
    accuracy = logistic_probe(train_x, train.labels, test_x, test.labels)

    model = ScratchRNNClassifier(vocab_size=tokenizer.vocab_size, config=EncoderRNNConfig(num_classes=2))
    history = train_scratch(model, tokenize(tokenizer, train.texts), train.labels, ScratchTrainConfig())

The model from scratch is the head of :mod:`.encoder_rnn` (RNN -> last real token ->
linear) on a word-piece embedding table that starts random and is learned from the
labelled texts alone: the same architecture as "frozen encoder states -> RNN", with
nothing pre-trained. Letters: N texts, B batch, T tokens, E embedding size, C classes.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..training.config import TrainConfig
from ..training.loop import History, fit
from ..training.threads import tuned_on_cpu
from .batching import bucketed_batches, sorted_batches
from .encoder_rnn import EncoderRNNConfig, RNNHead


def logistic_probe(train_x: torch.Tensor, train_y: Sequence[int], test_x: torch.Tensor, test_y: Sequence[int],
                   c: float = 10.0, seed: int = 0) -> float:
    """Accuracy on ``test`` of a logistic regression fitted on frozen features ``train_x [N, E]``."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    model.fit(train_x.numpy(), list(train_y))
    return float((model.predict(test_x.numpy()) == torch.as_tensor(list(test_y)).numpy()).mean())


class ScratchRNNClassifier(nn.Module):
    """Random word-piece embeddings -> :class:`~.encoder_rnn.RNNHead`: ``(ids [B, T], mask [B, T]) -> [B, C]``."""

    def __init__(self, vocab_size: int, config: EncoderRNNConfig, embed_dim: int = 64, pad_id: int = 0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.head = RNNHead(config, embed_dim)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states = self.embedding(input_ids)                 # [B, T, E]
        return self.head(states, attention_mask)           # [B, C]


@dataclass
class ScratchTrainConfig(TrainConfig):
    """:class:`TrainConfig` plus the batch size and seed; the defaults suit a few hundred labelled texts."""

    max_steps: int | None = 300
    lr: float = 3e-3
    weight_decay: float = 0.01
    clip_grad_norm: float | None = 1.0
    batch_size: int = 32
    seed: int = 0


def _scratch_loss(model: nn.Module, batch: dict[str, torch.Tensor]):
    logits = model(batch["input_ids"], batch["attention_mask"])           # [B, C]
    return F.cross_entropy(logits, batch["labels"]), {"acc": (logits.argmax(-1) == batch["labels"]).float().mean()}


def train_scratch(model: ScratchRNNClassifier, ids: Sequence[Sequence[int]], labels: Sequence[int],
                  config: ScratchTrainConfig | None = None, *, device="cpu", progress: bool = False,
                  **settings) -> History:
    """Train every weight of ``model`` on token ids with the shared loop (length-bucketed batches)."""
    config = replace(config or ScratchTrainConfig(), **settings)
    pad = int(model.embedding.padding_idx or 0)
    torch.manual_seed(config.seed)
    batches = bucketed_batches(ids, labels, batch_size=config.batch_size, pad_id=pad, seed=config.seed)
    batches = tuned_on_cpu(batches, device, period_seconds=2.0)   # a small LSTM is often faster on one thread
    return fit(model, batches, _scratch_loss, config, device=device, progress=progress)


@torch.no_grad()
def scratch_predict(model: ScratchRNNClassifier, ids: Sequence[Sequence[int]], batch_size: int = 256) -> list[int]:
    """The predicted class of each text (in the order of ``ids``)."""
    device = next(model.parameters()).device
    pad = int(model.embedding.padding_idx or 0)
    out = [0] * len(ids)
    was_training = model.training
    model.eval()
    try:
        for rows, batch in sorted_batches(ids, None, batch_size=batch_size, pad_id=pad):
            logits = model(batch["input_ids"].to(device), batch["attention_mask"].to(device))   # [B, C]
            for row, pred in zip(rows, logits.argmax(-1).tolist()):
                out[row] = pred
    finally:
        model.train(was_training)
    return out
