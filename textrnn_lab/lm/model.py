"""The character-level language model of chapter 01: embedding, recurrent layers, optional attention, output.

::

    config = CharLMConfig(vocab_size=len(vocab), cell="gru", hidden_size=256)
    model = CharLM(config)
    logits, state = model(x)              # x: LongTensor[B, T] -> logits: FloatTensor[B, T, V]
    logits, state = model(x_next, state)  # the next chunk goes on from where the last one stopped

Shapes: B sequences in a batch, T time steps, E embedding size, H hidden
units, V symbols in the vocabulary, L layers, W the attention window, A the
size of the attention's queries and keys.
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from torch import nn

from ..errors import CourseError
from ..layers.rnn import build_rnn, count_parameters, set_keep_gate_bias
from .config import CharLMConfig


class CharLMState(NamedTuple):
    """What the model carries from one chunk of text to the next.

    ``rnn``: the recurrent state, ``FloatTensor[L, B, H]`` (RNN, GRU) or a pair
    ``(h, c)`` of those (LSTM). ``memory``: the last ``W - 1`` outputs of the
    recurrent layer, ``FloatTensor[B, M, H]`` with ``M <= W - 1``, which the
    attention looks back at (``None`` without attention).
    """

    rnn: Any
    memory: torch.Tensor | None = None


class PastAttention(nn.Module):
    """Scaled dot-product attention of each position over the recent hidden states.

    Position ``t`` looks at the hidden states of positions ``t - W + 1 .. t``
    (itself included, never the future), the earlier ones coming from
    ``memory`` when ``t`` is near the start of a chunk::

        keys    = [memory ; h]                      [B, S, H]   S = M + T
        q, k    = Wq h, Wk keys                     [B, T, A], [B, S, A]
        scores  = q k^T / sqrt(A), masked           [B, T, S]
        weights = softmax(scores)                   [B, T, S]   each row sums to 1
        context = weights keys                      [B, T, H]
        out     = tanh(Wc [h ; context])            [B, T, H]
    """

    def __init__(self, hidden_size: int, attn_dim: int, window: int):
        super().__init__()
        self.window = window
        self.scale = 1.0 / math.sqrt(attn_dim)
        self.query = nn.Linear(hidden_size, attn_dim, bias=False)
        self.key = nn.Linear(hidden_size, attn_dim, bias=False)
        self.combine = nn.Linear(2 * hidden_size, hidden_size)

    def forward(self, h: torch.Tensor, memory: torch.Tensor | None):
        """h: [B, T, H], memory: [B, M, H] or None -> (out [B, T, H], weights [B, T, S], memory [B, M', H])."""
        B, T, H = h.shape
        if memory is None:
            memory = h.new_zeros(B, 0, H)
        M = memory.shape[1]
        keys = torch.cat([memory, h], dim=1)                      # [B, S, H]
        q = self.query(h)                                         # [B, T, A]
        k = self.key(keys)                                        # [B, S, A]
        scores = torch.bmm(q, k.transpose(1, 2)) * self.scale     # [B, T, S]
        pos_q = torch.arange(M, M + T, device=h.device)[:, None]  # [T, 1] position of each query
        pos_k = torch.arange(M + T, device=h.device)[None, :]     # [1, S] position of each key
        visible = (pos_k <= pos_q) & (pos_k > pos_q - self.window)  # [T, S]
        scores = scores.masked_fill(~visible, float("-inf"))
        weights = torch.softmax(scores, dim=-1)                   # [B, T, S]
        context = torch.bmm(weights, keys)                        # [B, T, H]
        out = torch.tanh(self.combine(torch.cat([h, context], dim=-1)))  # [B, T, H]
        keep = self.window - 1
        new_memory = keys[:, keys.shape[1] - min(keep, keys.shape[1]):] if keep > 0 else keys[:, :0]
        return out, weights, new_memory


class CharLM(nn.Module):
    """Embedding -> recurrent layers -> (attention over past states) -> linear, one character at a time.

    ``forward(x, state)`` takes ids ``LongTensor[B, T]`` and returns logits
    ``FloatTensor[B, T, V]``, where ``logits[b, t]`` scores the character that
    follows ``x[b, t]``, and the state to pass with the next chunk.
    """

    def __init__(self, config: CharLMConfig):
        super().__init__()
        self.config = config
        c = config
        self.embed = nn.Embedding(c.vocab_size, c.embed_dim)
        self.rnn = build_rnn(c.cell, c.embed_dim, c.hidden_size, num_layers=c.num_layers, dropout=c.dropout)
        self.attention = PastAttention(c.hidden_size, c.attn_dim, c.attn_window) if c.attention else None
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden_size, c.vocab_size)
        if c.cell == "lstm":
            set_keep_gate_bias(self.rnn, 1.0)  # forget gate near sigmoid(1) = 0.73: remember by default at the start

    def forward(self, x: torch.Tensor, state: CharLMState | None = None, return_attention: bool = False):
        """x: LongTensor[B, T] -> (logits [B, T, V], state) or, with ``return_attention``,
        (logits, state, weights [B, T, S]) where ``weights[b, t, s]`` is the attention paid by
        position t to key s of ``[memory ; this chunk]`` (``None`` without attention)."""
        if x.dim() != 2:
            raise CourseError(f"CharLM expects ids of shape [B, T], got {tuple(x.shape)}.")
        e = self.embed(x)                                  # [B, T, E]
        rnn_state = state.rnn if state is not None else None
        h, rnn_state = self.rnn(e, rnn_state)              # h: [B, T, H]; state [L, B, H] or (h, c)
        weights, memory = None, None
        if self.attention is not None:
            h, weights, memory = self.attention(h, state.memory if state is not None else None)
        logits = self.head(self.drop(h))                   # [B, T, V]
        new_state = CharLMState(rnn_state, memory)
        if return_attention:
            return logits, new_state, weights
        return logits, new_state

    def num_parameters(self) -> int:
        """Every value in the model's parameters (all of them are trained)."""
        return count_parameters(self)
