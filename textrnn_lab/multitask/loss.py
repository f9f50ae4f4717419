"""The combined loss of the two tasks: a weighted sum of two cross-entropies.

    total = w_sentence * CE(sentence_logits, sentence_labels)
          + w_token    * CE(token_logits at the labelled sub-tokens, their tags)

The token term averages over the sub-tokens that carry a label (the first piece
of each word); the pieces labelled -100 are left out. A batch without a single
labelled sub-token contributes 0 to the token term (not NaN). The weights trade
the tasks off: with the token head frozen, for example, the token term still
sends gradients into a shared encoder, through the frozen head.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from .tags import IGNORE_INDEX


def token_loss(token_logits: torch.Tensor, token_labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the labelled sub-tokens: ``[B, T, K], [B, T] -> []`` (0 when none is labelled)."""
    flat_logits = token_logits.reshape(-1, token_logits.shape[-1])   # [B*T, K]
    flat_labels = token_labels.reshape(-1)                           # [B*T]
    if not bool((flat_labels != IGNORE_INDEX).any()):
        return flat_logits.sum() * 0.0                               # keeps the graph, adds nothing
    return F.cross_entropy(flat_logits, flat_labels, ignore_index=IGNORE_INDEX)


def loss_parts(sentence_logits: torch.Tensor, token_logits: torch.Tensor, sentence_labels: torch.Tensor,
               token_labels: torch.Tensor, weights: Sequence[float] = (1.0, 1.0)):
    """``(total, sentence loss, token loss)``: the combined loss and the two terms before weighting."""
    sentence = F.cross_entropy(sentence_logits, sentence_labels)     # []
    token = token_loss(token_logits, token_labels)                   # []
    return weights[0] * sentence + weights[1] * token, sentence, token


def multitask_loss(sentence_logits: torch.Tensor, token_logits: torch.Tensor, sentence_labels: torch.Tensor,
                   token_labels: torch.Tensor, weights: Sequence[float] = (1.0, 1.0)) -> torch.Tensor:
    """``weights[0] * sentence CE + weights[1] * token CE``, a scalar tensor.

    ``sentence_logits [B, C]``, ``token_logits [B, T, K]``, ``sentence_labels [B]``,
    ``token_labels [B, T]`` (-100 where a sub-token has no label).
    """
    return loss_parts(sentence_logits, token_logits, sentence_labels, token_labels, weights)[0]
