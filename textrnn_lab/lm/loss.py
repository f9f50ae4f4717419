"""The training loss of a character language model, with the hidden state carried between batches.

Introduced in chapter 01 (truncated back-propagation through time over
streams) and used again in chapter 04 (truncation inside one long window).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CourseError
from ..layers.rnn import detach_state, state_batch_size
from .model import CharLMState


class TBPTTLoss:
    """``loss_fn`` for :func:`~textrnn_lab.training.loop.fit` that carries the hidden state between batches.

    A batch is ``(x, y, reset)`` as made by :class:`~textrnn_lab.lm.batching.StreamBatches`
    (``x``, ``y``: LongTensor[B, T]), or ``(x, y)``, which always starts from a
    zero state. The state after a batch (detached) starts the next one, unless
    ``reset`` is True. Training and evaluation (``model.training``) keep
    separate states. The loss is the mean cross-entropy per character, in nats.

    With ``truncate=k`` the window itself is read in chunks of k characters and
    the state is detached between them: information still flows forward through
    all T steps, gradients flow back at most k.
    """

    def __init__(self, truncate: int | None = None):
        if truncate is not None and (isinstance(truncate, bool) or not isinstance(truncate, int) or truncate < 1):
            raise CourseError(f"truncate must be a whole number >= 1 or None, not {truncate!r}.")
        self.truncate = truncate
        self.state: dict[bool, CharLMState | None] = {True: None, False: None}

    def __call__(self, model: nn.Module, batch) -> torch.Tensor:
        x, y = batch[0], batch[1]                                      # [B, T] each
        reset = bool(batch[2]) if len(batch) > 2 else True
        mode = model.training
        state = None if reset else self.state[mode]
        if state is not None and state_batch_size(state) != x.shape[0]:
            state = None
        step = self.truncate or x.shape[1]
        chunks = []
        for start in range(0, x.shape[1], step):
            logits, state = model(x[:, start:start + step], state)    # [B, k, V]
            chunks.append(logits)
            state = detach_state(state)
        self.state[mode] = state
        logits = torch.cat(chunks, dim=1)                              # [B, T, V]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
