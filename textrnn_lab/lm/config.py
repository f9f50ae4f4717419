"""The settings of chapter 01's language model and of its training, as dataclasses.

The ``train-charlm`` command takes its defaults from these classes, so the
notebook, :func:`~textrnn_lab.lm.train.train_charlm` and the command share one
set. Both are saved in every checkpoint with ``asdict``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from ..errors import CourseError
from ..layers.rnn import cell_name
from ..training.config import TrainConfig


@dataclass
class CharLMConfig:
    """Hyper-parameters of :class:`CharLM` (saved in every checkpoint)."""

    vocab_size: int
    cell: str = "gru"           # "rnn" (Elman, tanh), "gru" or "lstm"
    embed_dim: int = 64         # E: size of a character's embedding
    hidden_size: int = 256      # H: size of the hidden state
    num_layers: int = 1         # L: stacked recurrent layers
    dropout: float = 0.0        # between stacked layers and before the output layer
    attention: bool = False     # attend over the last `attn_window` hidden states
    attn_window: int = 64       # W: how many hidden states (the current one included) attention sees
    attn_dim: int = 64          # A: size of queries and keys

    def __post_init__(self):
        self.cell = cell_name(self.cell)
        for name in ("vocab_size", "embed_dim", "hidden_size", "num_layers", "attn_window", "attn_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CourseError(f"{name} must be a positive whole number, not {value!r}.")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise CourseError(f"dropout must be in [0, 1), not {self.dropout!r}.")
        self.dropout = float(self.dropout)
        self.attention = bool(self.attention)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CharLMConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class CharLMTrainConfig(TrainConfig):
    """How :func:`train_charlm` trains; the defaults do well in three minutes on a laptop CPU.

    Adds to :class:`~textrnn_lab.training.loop.TrainConfig`: ``seq_len`` (T, the
    truncated-BPTT length), ``batch_size`` (B, parallel streams),
    ``warmup_steps`` of the learning-rate schedule, ``val_fraction`` (the end of
    the text held out), ``unk_rate`` (the share of input characters replaced by
    the unknown symbol, so that its embedding is trained: without it, a character
    never seen in training enters the model as an untrained random vector) and
    ``seed``. Both budgets may be set: whichever runs out
    first ends training; set ``max_seconds=None`` for a step budget alone.
    """

    max_seconds: float | None = 180.0
    evals: int | None = 10
    lr: float = 6e-3
    clip_grad_norm: float | None = 1.0
    seq_len: int = 64
    batch_size: int = 32
    warmup_steps: int = 50
    val_fraction: float = 0.1
    unk_rate: float = 0.002
    seed: int = 0

    def __post_init__(self):
        super().__post_init__()
        for name in ("seq_len", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CourseError(f"{name} must be a whole number >= 1, not {value!r}.")
        if not 0.0 <= float(self.unk_rate) < 0.5:
            raise CourseError(f"unk_rate must be in [0, 0.5), not {self.unk_rate!r}.")
        if not 0.0 < float(self.val_fraction) < 1.0:
            raise CourseError(f"val_fraction must be between 0 and 1, not {self.val_fraction!r}.")
        if self.max_steps is None and self.max_seconds is None:
            raise CourseError("give a budget: max_steps or max_seconds.")
