"""The pre-trained encoder with a classification head: what the head computes, and freezing the encoder.

``load_encoder(num_labels=C)`` gives a ``BertForSequenceClassification``: the
pre-trained body and a NEW head with random weights. The head reads the state of
the first token (``[CLS]``), passes it through the pooler (a dense layer and tanh)
and a linear layer to one score per class::

    hidden = model.bert(input_ids, attention_mask).last_hidden_state   # [B, T, H]
    logits = head_logits(hidden, *head_weights(model))                 # [B, C], as model(...).logits

Until the head is trained its scores are random, and so is the softmax
"confidence" a pipeline prints from them. Freezing the encoder
(:func:`freeze_encoder`) trains the head alone: fast, but it cannot adapt the
token states to the task.

Letters: B batch size, T tokens, H hidden size (384 for all-MiniLM-L6-v2), C classes.
"""
from __future__ import annotations

import torch
from torch import nn


def head_logits(hidden: torch.Tensor, pooler_weight: torch.Tensor, pooler_bias: torch.Tensor,
                weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """The classification head of a BERT classifier (eval mode, no dropout): ``[B, T, H] -> [B, C]``."""
    first = hidden[:, 0]                                              # [B, H], the [CLS] token
    pooled = torch.tanh(first @ pooler_weight.T + pooler_bias)        # [B, H]
    return pooled @ weight.T + bias                                   # [B, C]


def head_weights(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(pooler_weight [H, H], pooler_bias [H], weight [C, H], bias [C])`` of a BERT classifier."""
    pooler = model.base_model.pooler.dense
    return (pooler.weight.detach(), pooler.bias.detach(),
            model.classifier.weight.detach(), model.classifier.bias.detach())


def freeze_encoder(model: nn.Module, embeddings_only: bool = False) -> int:
    """Stop gradients to the encoder body (or only to its embeddings); return the trainable parameters left.

    ``embeddings_only=True`` freezes the token, position and type embeddings alone (half
    of all-MiniLM-L6-v2's parameters): fine-tuning is then cheaper per step on a CPU and
    as accurate, since a small labelled set cannot improve 30,522 word vectors anyway.
    """
    body = model.base_model
    frozen = body.embeddings if embeddings_only else body
    for param in frozen.parameters():
        param.requires_grad_(False)
    if not embeddings_only and getattr(body, "pooler", None) is not None:
        for param in body.pooler.parameters():   # the pooler belongs to the head
            param.requires_grad_(True)
    return trainable_parameters(model)


def unfreeze(model: nn.Module) -> int:
    """Make every parameter trainable again; return their number."""
    for param in model.parameters():
        param.requires_grad_(True)
    return trainable_parameters(model)


def trainable_parameters(model: nn.Module) -> int:
    """The number of parameters that receive gradients."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
