"""The encoder-decoder: a GRU reads the source into a state, a second GRU writes the target from it.

::

    config = Seq2SeqConfig(src_vocab_size=38, tgt_vocab_size=14)
    model = Seq2Seq(config)
    logits = model(batch.src, batch.src_lengths, batch.tgt_in)            # [B, T, V]
    logits = model(batch.src, batch.src_lengths, batch.tgt_in, teacher_forcing_ratio=0.0)  # free running

Without attention (``attention="none"``, this chapter) the decoder sees the
source only through its initial state, the encoder's final state: the *context
vector*, one ``[H]`` vector per layer whatever the source's length. That is the
bottleneck the chapter measures.

With an attention module (chapter 07) the decoder works in the Bahdanau style:
at step ``t`` the *previous* top-layer state ``s_{t-1}`` is the query, the
encoder outputs are the keys (and values), and the context ``c_t`` they give
is fed both into the GRU's input (``[emb(y_{t-1}); c_t]``) and into the output
layer (``[s_t; c_t] -> logits``). An attention module is any ``nn.Module``
called as ``attention(query [B, H], keys [B, S, H], mask [B, S] bool, True =
real) -> (context [B, H], weights [B, S])``; pass it as
``Seq2Seq(config, attention=module)``, or register a factory under a name with
:func:`register_attention` so that ``Seq2SeqConfig(attention=name)`` builds it.

Shapes: ``B`` batch, ``S`` source positions, ``T`` target positions, ``E``
embedding, ``H`` hidden units, ``L`` layers, ``V`` target vocabulary.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..errors import CourseError
from ..layers.rnn import build_rnn

#: attention factories by name: ``f(config) -> module``; chapter 07 registers "additive" and "dot"
ATTENTION: dict[str, Callable[["Seq2SeqConfig"], nn.Module]] = {}


def register_attention(name: str, factory: Callable[["Seq2SeqConfig"], nn.Module]) -> None:
    """Make ``Seq2SeqConfig(attention=name)`` build ``factory(config)`` as the decoder's attention."""
    if not isinstance(name, str) or not name or name == "none":
        raise CourseError(f"an attention name is a non-empty string other than 'none', not {name!r}.")
    ATTENTION[name] = factory


@dataclass
class Seq2SeqConfig:
    """The model's sizes; ``pad_id``/``bos_id``/``eos_id`` are the target vocabulary's (the source pads with pad_id).

    ``attention``: ``"none"`` (the decoder sees the source only through its
    initial state) or a name registered with :func:`register_attention`.
    ``dropout`` applies to the embeddings and between stacked GRU layers.
    """

    src_vocab_size: int
    tgt_vocab_size: int
    embed_dim: int = 32
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0
    attention: str = "none"
    pad_id: int = 0
    bos_id: int = 1
    eos_id: int = 2

    def __post_init__(self):
        for name in ("src_vocab_size", "tgt_vocab_size", "embed_dim", "hidden_size", "num_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CourseError(f"{name} must be a whole number >= 1, not {value!r}.")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise CourseError(f"dropout is a probability in [0, 1), not {self.dropout!r}.")
        if not isinstance(self.attention, str):
            raise CourseError(f"attention is a name ('none' or a registered one), not {self.attention!r}.")
        if max(self.pad_id, self.bos_id, self.eos_id) >= self.tgt_vocab_size:
            raise CourseError("pad_id, bos_id and eos_id must be ids of the target vocabulary.")

    def to_dict(self) -> dict:
        return asdict(self)


class Encoder(nn.Module):
    """Source ids -> ``(outputs [B, S, H], state [L, B, H])``.

    The sequences are *packed* by length, so the final state is read at each
    source's last real word, never at a padding position, and ``outputs`` is
    zero at padding positions.
    """

    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        self.embedding = nn.Embedding(config.src_vocab_size, config.embed_dim, padding_idx=config.pad_id)
        self.dropout = nn.Dropout(config.dropout)
        self.rnn = build_rnn("gru", config.embed_dim, config.hidden_size, num_layers=config.num_layers,
                             dropout=config.dropout)

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.dropout(self.embedding(src))                                 # [B, S, E]
        packed = pack_padded_sequence(x, src_lengths.cpu(), batch_first=True, enforce_sorted=False)
        packed_out, state = self.rnn(packed)                                  # state [L, B, H]
        outputs, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=src.shape[1])  # [B, S, H]
        return outputs, state


def decoder_step(y_prev: torch.Tensor, state: torch.Tensor, embedding: torch.Tensor, gru: nn.GRU,
                 out_weight: torch.Tensor, out_bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One decoder step without attention, written with plain tensors (what :meth:`Decoder.step` does in eval mode).

    ``y_prev [B]`` ids of the previous tokens, ``state [L, B, H]``, ``embedding [V, E]``
    (the rows are the tokens' vectors), ``gru`` a ``batch_first`` ``nn.GRU(E, H, L)``,
    ``out_weight [V, H]``, ``out_bias [V]`` -> ``(logits [B, V], new state [L, B, H])``.
    """
    x = embedding[y_prev]                                  # [B, E]: one row per previous token
    output, state = gru(x.unsqueeze(1), state)             # output [B, 1, H] (one time step), state [L, B, H]
    logits = output.squeeze(1) @ out_weight.T + out_bias   # [B, V]: the top layer's new state, projected
    return logits, state


class Decoder(nn.Module):
    """Writes the target one token at a time from a state; optionally attends over the encoder's outputs.

    :meth:`step` is one time step (what greedy decoding and beam search call);
    :meth:`forward` runs all target steps with teacher forcing (or, with a
    ``teacher_forcing_ratio`` below 1, feeding back its own predictions).
    """

    def __init__(self, config: Seq2SeqConfig, attention: nn.Module | None = None):
        super().__init__()
        self.config = config
        self.attention = attention
        H, E = config.hidden_size, config.embed_dim
        extra = H if attention is not None else 0   # the context joins the GRU's input and the output layer
        self.embedding = nn.Embedding(config.tgt_vocab_size, E, padding_idx=config.pad_id)
        self.dropout = nn.Dropout(config.dropout)
        self.rnn = build_rnn("gru", E + extra, H, num_layers=config.num_layers, dropout=config.dropout)
        self.out = nn.Linear(H + extra, config.tgt_vocab_size)

    def step(self, y_prev: torch.Tensor, state: torch.Tensor, encoder_outputs: torch.Tensor | None = None,
             source_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """One step: ``y_prev [B]`` (ids), ``state [L, B, H]`` -> ``(logits [B, V], state [L, B, H], weights)``.

        ``weights`` is the attention over the source ``[B, S]``, or ``None`` without attention
        (then ``encoder_outputs`` and ``source_mask`` are not needed).
        """
        x = self.dropout(self.embedding(y_prev))                              # [B, E]
        weights = None
        if self.attention is not None:
            if encoder_outputs is None or source_mask is None:
                raise CourseError("a decoder with attention needs encoder_outputs and source_mask at every step.")
            context, weights = self.attention(state[-1], encoder_outputs, source_mask)  # [B, H], [B, S]
            x = torch.cat([x, context], dim=-1)                               # [B, E + H]
        output, state = self.rnn(x.unsqueeze(1), state)                       # output [B, 1, H], state [L, B, H]
        h = output.squeeze(1)                                                 # [B, H]
        if self.attention is not None:
            h = torch.cat([h, context], dim=-1)                               # [B, 2H]
        logits = self.out(self.dropout(h))                                    # [B, V]
        return logits, state, weights

    def forward(self, tgt_in: torch.Tensor, state: torch.Tensor, encoder_outputs: torch.Tensor | None = None,
                source_mask: torch.Tensor | None = None, teacher_forcing_ratio: float = 1.0,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """All steps: ``tgt_in [B, T]`` (``<bos>`` y_1 .. y_{T-1}) -> ``(logits [B, T, V], weights [B, T, S] or None)``.

        At step ``t`` the input is the true ``tgt_in[:, t]`` with probability
        ``teacher_forcing_ratio`` (drawn per sequence and step), else the
        model's own previous prediction (its arg-max, no gradient through the
        choice): 1.0 is teacher forcing, 0.0 free running.
        """
        ratio = float(teacher_forcing_ratio)
        if not 0.0 <= ratio <= 1.0:
            raise CourseError(f"teacher_forcing_ratio is a probability in [0, 1], not {teacher_forcing_ratio!r}.")
        if ratio == 1.0 and self.attention is None:
            # every input is known in advance: one call of the GRU over all steps (the same numbers as stepping)
            x = self.dropout(self.embedding(tgt_in))                          # [B, T, E]
            outputs, _ = self.rnn(x, state)                                   # [B, T, H]
            return self.out(self.dropout(outputs)), None                     # [B, T, V]
        steps, all_weights = [], []
        y_prev = tgt_in[:, 0]                                                 # [B]: <bos>
        for t in range(tgt_in.shape[1]):
            logits, state, weights = self.step(y_prev, state, encoder_outputs, source_mask)  # [B, V]
            steps.append(logits)
            if weights is not None:
                all_weights.append(weights)
            if t + 1 < tgt_in.shape[1]:
                predicted = logits.detach().argmax(dim=-1)                    # [B]
                if ratio == 1.0:
                    y_prev = tgt_in[:, t + 1]
                elif ratio == 0.0:
                    y_prev = predicted
                else:
                    coin = torch.rand(tgt_in.shape[0], generator=generator, device="cpu").to(tgt_in.device)
                    y_prev = torch.where(coin < ratio, tgt_in[:, t + 1], predicted)  # [B]
        weights_out = torch.stack(all_weights, dim=1) if all_weights else None  # [B, T, S]
        return torch.stack(steps, dim=1), weights_out                         # [B, T, V]


def build_attention(config: Seq2SeqConfig) -> nn.Module | None:
    """The attention module ``config.attention`` names (``None`` for ``"none"``)."""
    if config.attention == "none":
        return None
    if config.attention not in ATTENTION:
        known = ", ".join(["none", *ATTENTION]) or "none"
        raise CourseError(f"no attention registered under {config.attention!r} (known: {known}).",
                          hint="import textrnn_lab.attention first (it registers 'additive' and 'dot'), "
                               "or pass the module itself: Seq2Seq(config, attention=module).")
    return ATTENTION[config.attention](config)


class Seq2Seq(nn.Module):
    """Encoder + decoder. ``attention``: a module (see the module docstring); ``None`` builds ``config.attention``."""

    def __init__(self, config: Seq2SeqConfig, attention: nn.Module | None = None):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config, attention if attention is not None else build_attention(config))

    @property
    def has_attention(self) -> bool:
        return self.decoder.attention is not None

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``src [B, S]``, ``src_lengths [B]`` -> ``(encoder_outputs [B, S, H], state [L, B, H], mask [B, S])``."""
        if src.ndim != 2 or src_lengths.shape != (src.shape[0],):
            raise CourseError(f"src must be [B, S] and src_lengths [B]; got {tuple(src.shape)} and "
                              f"{tuple(src_lengths.shape)}.")
        if int(src_lengths.min()) < 1:
            raise CourseError("every source needs at least one token (a length of 0 was given).")
        outputs, state = self.encoder(src, src_lengths)
        mask = torch.arange(src.shape[1], device=src.device)[None, :] < src_lengths.to(src.device)[:, None]  # [B, S]
        return outputs, state, mask

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor,
                teacher_forcing_ratio: float = 1.0, generator: torch.Generator | None = None,
                return_attention: bool = False):
        """``logits [B, T, V]`` for ``tgt_in [B, T]``; with ``return_attention`` also the weights [B, T, S] or None."""
        encoder_outputs, state, mask = self.encode(src, src_lengths)
        logits, weights = self.decoder(tgt_in, state, encoder_outputs, mask, teacher_forcing_ratio, generator)
        return (logits, weights) if return_attention else logits
