"""One shared encoder, two task heads, and the switch that freezes parts of them.

Shape letters: B sentences in a batch, T sub-tokens, H hidden size (384 for
all-MiniLM-L6-v2), C sentence classes, K BIO tags.

    base = base_states(encoder, input_ids, attention_mask, layers=5)   # FloatTensor[N, T, H], computed once
    model = MultiTaskModel.from_encoder(encoder, MultiTaskConfig(num_classes=2, tuned_layers=1), seed=0)
    model.freeze("encoder")                 # one of FREEZE_MODES
    sentence_logits, token_logits = model(base[:8], attention_mask[:8])   # [B, C], [B, T, K]

The model is the *top* ``tuned_layers`` transformer layers of the pre-trained
encoder (copied, so every run starts from the same pre-trained weights) and two
linear heads: the sentence head reads the mean of the token vectors (padding
left out), the token head reads every token vector. The layers below are the
same in every freezing mode, frozen, so their output (:func:`base_states`) is
computed once for the whole data set instead of at every step: that is what
lets a CPU compare the freezing modes in minutes. With ``tuned_layers`` equal to
the encoder's depth (6) the whole transformer is in the model and only the word
embeddings stay fixed.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import CourseError
from ..layers.pretrained import DEFAULT_HIDDEN
from ..layers.rnn import count_parameters
from ..transfer.pooling import mean_pool
from .tags import TAGS

# what each mode freezes (requires_grad=False), in the order the chapter's table shows them
FREEZE_MODES: dict[str, tuple[str, ...]] = {
    "everything": ("encoder", "sentence_head", "token_head"),
    "encoder": ("encoder",),
    "sentence_head": ("sentence_head",),
    "token_head": ("token_head",),
    "nothing": (),
}
PARTS = ("encoder", "sentence_head", "token_head")


@dataclass
class MultiTaskConfig:
    """The heads and how much of the pre-trained encoder the model holds (and may train)."""

    num_classes: int = 2
    num_tags: int = len(TAGS)
    hidden_size: int = 384
    tuned_layers: int = 1   # top transformer layers inside the model; those below are a fixed base
    dropout: float = 0.1

    def __post_init__(self):
        for name in ("num_classes", "num_tags", "hidden_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CourseError(f"{name} must be a whole number >= 1, not {value!r}.")
        if isinstance(self.tuned_layers, bool) or not isinstance(self.tuned_layers, int) or self.tuned_layers < 0:
            raise CourseError(f"tuned_layers must be a whole number >= 0, not {self.tuned_layers!r}.")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise CourseError(f"dropout must be in [0, 1), not {self.dropout!r}.")


def _layers_of(encoder) -> nn.ModuleList:
    body = getattr(encoder, "base_model", encoder)
    layers = getattr(getattr(body, "encoder", None), "layer", None)
    if not isinstance(layers, nn.ModuleList):
        raise CourseError(f"{type(encoder).__name__} has no encoder.layer list of transformer layers.",
                          hint="use a BERT-style encoder, e.g. load_encoder() (all-MiniLM-L6-v2)")
    return layers


def additive_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``[B, T]`` of 1 / 0 -> ``[B, 1, 1, T]`` of 0 / a large negative number, added to attention scores."""
    return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


def length_batches(mask: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """Row indices in batches of similar length (longest first): little padding when each batch is trimmed."""
    lengths = mask.sum(dim=1)                                               # [N]
    order = torch.argsort(lengths, descending=True, stable=True)
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


@torch.no_grad()
def base_states(encoder, input_ids: torch.Tensor, attention_mask: torch.Tensor, layers: int,
                batch_size: int = 64, device=None) -> torch.Tensor:
    """The encoder's hidden states after its first ``layers`` layers (0: the embeddings): ``[N, T, H]`` on the CPU.

    Computed in batches of similar length, in eval mode, without gradients: the
    frozen base that every freezing mode shares. Padding positions hold zeros.
    """
    depth = len(_layers_of(encoder))
    if not 0 <= layers <= depth:
        raise CourseError(f"the encoder has {depth} layers; the base cannot be {layers} of them.")
    if device is None:
        device = next(encoder.parameters()).device
    hidden = getattr(getattr(encoder, "config", None), "hidden_size", DEFAULT_HIDDEN)
    out = torch.zeros(*input_ids.shape, hidden)                             # [N, T, H]
    was_training = encoder.training
    encoder.eval()
    try:
        for index in length_batches(attention_mask, batch_size):
            length = max(1, int(attention_mask[index].sum(dim=1).max()))
            ids = input_ids[index, :length].to(device)                      # [B, T']
            mask = attention_mask[index, :length].to(device)                # [B, T']
            states = encoder(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
            out[index, :length] = states[layers].float().cpu() * mask.cpu()[..., None]
    finally:
        encoder.train(was_training)
    return out


class MultiTaskModel(nn.Module):
    """The tuned top of the encoder, a sentence head on the pooled vector, a token head on every position."""

    def __init__(self, config: MultiTaskConfig, layers: nn.ModuleList | None = None):
        super().__init__()
        self.config = config
        self.encoder = layers if layers is not None else nn.ModuleList()
        if len(self.encoder) != config.tuned_layers:
            raise CourseError(f"config.tuned_layers is {config.tuned_layers}, "
                              f"but {len(self.encoder)} layers were given.")
        self.dropout = nn.Dropout(config.dropout)
        self.sentence_head = nn.Linear(config.hidden_size, config.num_classes)  # [B, H] -> [B, C]
        self.token_head = nn.Linear(config.hidden_size, config.num_tags)        # [B, T, H] -> [B, T, K]
        self.frozen: tuple[str, ...] = ()

    @classmethod
    def from_encoder(cls, encoder, config: MultiTaskConfig, seed: int | None = None) -> "MultiTaskModel":
        """Copy the encoder's top ``config.tuned_layers`` layers; new heads, initialised from ``seed``."""
        layers = _layers_of(encoder)
        if config.tuned_layers > len(layers):
            raise CourseError(f"the encoder has {len(layers)} layers; tuned_layers={config.tuned_layers} is too many.")
        hidden = getattr(getattr(encoder, "config", None), "hidden_size", config.hidden_size)
        if hidden != config.hidden_size:
            raise CourseError(f"the encoder's hidden size is {hidden}, the config says {config.hidden_size}.")
        top = nn.ModuleList(copy.deepcopy(layers[len(layers) - config.tuned_layers:]))
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(int(seed))
            model = cls(config, top)
        return model

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``hidden [B, T, H]`` (the base), ``mask [B, T]`` -> ``(sentence_logits [B, C], token_logits [B, T, K])``."""
        return self.heads(self.encode(hidden, mask), mask)

    def encode(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The tuned transformer layers: ``[B, T, H] -> [B, T, H]``."""
        scores_mask = additive_mask(mask, hidden.dtype)                     # [B, 1, 1, T]
        for layer in self.encoder:
            out = layer(hidden, attention_mask=scores_mask)
            hidden = out[0] if isinstance(out, tuple) else out              # [B, T, H]
        return hidden

    def heads(self, hidden: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both heads on the encoder's output: ``[B, T, H] -> ([B, C], [B, T, K])``."""
        pooled = mean_pool(hidden, mask)                                    # [B, H]
        sentence_logits = self.sentence_head(self.dropout(pooled))          # [B, C]
        token_logits = self.token_head(self.dropout(hidden))                # [B, T, K]
        return sentence_logits, token_logits

    def part(self, name: str) -> nn.Module:
        if name not in PARTS:
            raise CourseError(f"the model has no part {name!r}.", hint=f"its parts are: {', '.join(PARTS)}")
        return getattr(self, name)

    def freeze(self, mode: str) -> "MultiTaskModel":
        """Freeze what ``mode`` says (see :data:`FREEZE_MODES`) and unfreeze the rest; returns the model."""
        if mode not in FREEZE_MODES:
            raise CourseError(f"unknown freezing mode {mode!r}.", hint=f"choose one of: {', '.join(FREEZE_MODES)}")
        self.frozen = FREEZE_MODES[mode]
        for name in PARTS:
            for parameter in self.part(name).parameters():
                parameter.requires_grad_(name not in self.frozen)
        return self.train(self.training)

    def train(self, mode: bool = True) -> "MultiTaskModel":
        """As ``nn.Module.train``, but a frozen encoder stays in eval mode (no dropout: a fixed feature extractor)."""
        super().train(mode)
        if "encoder" in self.frozen:
            self.encoder.eval()
        return self

    def trainable_parameters(self) -> int:
        return count_parameters(self, trainable_only=True)

    def snapshot(self) -> dict[str, torch.Tensor]:
        """A copy of every parameter, to measure later what training changed (:meth:`changes_since`)."""
        return {name: p.detach().clone() for name, p in self.named_parameters()}

    def changes_since(self, snapshot: dict[str, torch.Tensor]) -> dict[str, float]:
        """The largest absolute change of any parameter of each part since ``snapshot``."""
        out = {}
        for part in PARTS:
            prefix = part + "."
            deltas = [float((p.detach() - snapshot[name].to(p.device)).abs().max())
                      for name, p in self.named_parameters() if name.startswith(prefix) and p.numel()]
            out[part] = max(deltas) if deltas else 0.0
        return out
