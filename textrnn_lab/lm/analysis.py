"""Measurements of a trained character model: where its attention looks, what an unseen character does to it.

::

    by_distance = attention_by_distance(model, val_ids)      # FloatTensor[W]: mean weight d characters back
    damage = unknown_symbol_damage(model, val_ids, vocab.unk_id)
    damage.extra_per_offset     # FloatTensor[K]: extra nats/char k characters after the unknown one

Shapes: B streams, T characters per chunk, S keys (memory and chunk), W the
attention window, K the horizon after a replaced character.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import CourseError
from .batching import StreamBatches
from .model import CharLM


@torch.no_grad()
def attention_by_distance(model: CharLM, ids: torch.Tensor, batch_size: int = 16, seq_len: int = 128) -> torch.Tensor:
    """The attention weight given to the state d characters back, averaged over every position of ``ids``.

    ``ids`` is read as ``batch_size`` streams with the state (and the attention's memory)
    carried over; positions whose window is not yet full (the first W - 1 of each
    stream) are left out. Returns FloatTensor[W]; entry 0 is the weight on the
    position's own state, and the entries sum to 1.
    """
    if model.attention is None:
        raise CourseError("attention_by_distance needs a model built with attention=True.")
    W = model.attention.window
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count, state = torch.zeros(W, dtype=torch.float64), 0, None
    try:
        for x, _y, reset in StreamBatches(ids, batch_size, seq_len):
            memory = None if reset or state is None else state.memory
            M = 0 if memory is None else memory.shape[1]
            _logits, state, weights = model(x.to(device), None if reset else state, return_attention=True)
            T = x.shape[1]
            query = M + torch.arange(T)[:, None]                  # [T, 1] key index of each position itself
            key = query - torch.arange(W)[None, :]                # [T, W] key index d characters back
            full = (key >= 0).all(dim=1)                          # [T] windows with W states to look at
            if not bool(full.any()):
                continue
            index = key[full].clamp(min=0).to(device)             # [T', W]
            rows = weights[:, full.to(device)]                    # [B, T', S]
            picked = torch.gather(rows, 2, index[None].expand(rows.shape[0], -1, -1))  # [B, T', W]
            total += picked.double().sum(dim=(0, 1)).cpu()
            count += picked.shape[0] * picked.shape[1]
    finally:
        model.train(was_training)
    if count == 0:
        raise CourseError(f"the text is too short to fill an attention window of {W} characters.")
    return (total / count).float()


@dataclass(frozen=True)
class UnknownDamage:
    """What replacing one input character does to the predictions that follow it.

    ``extra_per_offset[k]``: the mean increase in loss (nats) on the prediction made k
    characters after the replaced one (k = 0: right after reading it), against the
    same windows read intact; ``clean_nats``: the mean loss over those positions intact.
    """

    extra_per_offset: torch.Tensor   # [K]
    clean_nats: float
    windows: int

    @property
    def extra_first(self) -> float:
        """Extra nats on the very next character."""
        return float(self.extra_per_offset[0])

    @property
    def extra_mean(self) -> float:
        """Extra nats per character, averaged over the K characters that follow."""
        return float(self.extra_per_offset.mean())


@torch.no_grad()
def unknown_symbol_damage(model: CharLM, ids: torch.Tensor, unk_id: int, windows: int = 256, context: int = 64,
                          horizon: int = 32, replacement: int | torch.Tensor | None = None,
                          seed: int = 0) -> UnknownDamage:
    """Replace one character of ``windows`` random stretches of ``ids`` and measure the harm downstream.

    Each window holds ``context`` characters and ``horizon`` more, the first of which is
    replaced; the loss is compared on the ``horizon`` predictions made from the replaced
    character on (k = 0 predicts the character after it). The replaced character becomes
    ``unk_id`` (an unseen character, as the vocabulary reads it) or ``replacement`` (an id,
    or LongTensor[windows] of ids, e.g. a typo).
    Both copies are read from a zero state.
    """
    length = context + horizon
    if len(ids) < length + 1:
        raise CourseError(f"the text ({len(ids)} characters) is shorter than one window of {length + 1}.")
    generator = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(ids) - length, (windows,), generator=generator)
    index = starts[:, None] + torch.arange(length + 1)[None, :]     # [N, context + horizon + 1]
    x, y = ids[index[:, :-1]], ids[index[:, 1:]]                      # [N, L] each
    bad = x.clone()
    bad[:, context] = unk_id if replacement is None else replacement
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        losses = []
        for inputs in (x, bad):
            logits, _ = model(inputs.to(device))                     # [N, L, V]
            nll = F.cross_entropy(logits.transpose(1, 2).float(), y.to(device), reduction="none")  # [N, L]
            losses.append(nll[:, context:].cpu())                   # [N, K] the predictions after the replaced one
    finally:
        model.train(was_training)
    clean, damaged = losses
    return UnknownDamage((damaged - clean).mean(dim=0), float(clean.mean()), windows)
