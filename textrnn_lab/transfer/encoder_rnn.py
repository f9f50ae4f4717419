"""A frozen pre-trained encoder's token states -> RNN -> linear: a classifier that reads each text's LAST REAL token.

Introduced in chapter 02 (one of the ways to transfer a pre-trained encoder) and
used again in chapter 09 (the encoder -> LSTM -> linear challenge model)::

    tokenizer, encoder = load_encoder()                          # all-MiniLM-L6-v2, offline, E = 384
    config = EncoderRNNConfig(cell="lstm", hidden_size=128, num_classes=2)

    cache = encode_token_states(texts, tokenizer, encoder)        # the frozen encoder runs ONCE per text
    head = RNNHead(config, cache.embed_dim)                       # the only trainable part
    history = train_rnn_head(head, cache, labels, EncoderRNNTrainConfig(max_steps=300))
    probs = predict_proba(head, encode_token_states(new_texts, tokenizer, encoder))   # [N, C]

    model = EncoderRNNClassifier(config, tokenizer, encoder, head=head)   # the same head on raw text
    probs = model.predict_proba(["a fine film", "dull"])          # [2, C]

Why "last real": a batch of texts of different lengths is right-padded to its
longest text, and a forward RNN keeps running over the padding. Its output at
position ``T-1`` (``outputs[:, -1, :]``) is therefore, for every text shorter
than the longest, the state *after reading padding*; and it changes with
whatever else is in the batch. The readouts, ``EncoderRNNConfig.readout``:

* ``"last"`` (the default): each row's output at its last position whose
  attention mask is 1. A bidirectional RNN cannot be fixed that way: its
  backward pass starts at position ``T-1`` and reads the padding *before* the
  text, so every backward output of a shorter row is contaminated; with
  ``bidirectional=True`` this readout packs the sequences instead;
* ``"packed"``: the RNN runs on a ``PackedSequence`` and never sees padding;
  its final state ``h_n`` is read. The same numbers as ``"last"``;
* ``"final"``: ``outputs[:, -1, :]``, the padding bug, kept to measure it.

Shapes: ``N`` texts, ``B`` batch, ``T`` tokens (padded), ``E`` encoder hidden
size (384 for MiniLM), ``H`` RNN hidden size, ``D`` directions, ``L`` layers,
``C`` classes. With a cache, padded positions hold zeros; through the full
encoder (:class:`EncoderRNNClassifier`) they hold the encoder's states at the
``[PAD]`` tokens. Either way the ``"last"`` and ``"packed"`` readouts never see them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from ..errors import CourseError
from ..layers.rnn import build_rnn, cell_name
from ..runtime.device import get_device
from ..training.config import TrainConfig
from ..training.loop import History, fit
from ..training.threads import tuned_on_cpu

#: how the classifier reads the RNN's outputs (see the module docstring)
READOUTS = ("last", "packed", "final")


# --------------------------------------------------------------------------- reading the RNN


def _check_outputs_and_mask(outputs: torch.Tensor, mask: torch.Tensor) -> None:
    if not isinstance(outputs, torch.Tensor) or outputs.ndim != 3:
        raise CourseError(f"outputs must be a tensor [B, T, H], not {getattr(outputs, 'shape', type(outputs))}.")
    if not isinstance(mask, torch.Tensor) or tuple(mask.shape) != tuple(outputs.shape[:2]):
        raise CourseError(
            f"the attention mask must have shape [B, T] = {tuple(outputs.shape[:2])}, "
            f"not {tuple(getattr(mask, 'shape', ()))}.",
            hint="pass the tokenizer's attention_mask of the same batch (1 = real token, 0 = padding)",
        )


def lengths_from_mask(mask: torch.Tensor) -> torch.Tensor:
    """Real tokens per row of an attention mask ``[B, T]`` (1 = real, 0 = padding) -> LongTensor[B]."""
    return (mask != 0).long().sum(dim=1)  # [B]


def last_real_index(mask: torch.Tensor) -> torch.Tensor:
    """The position of each row's last real token -> LongTensor[B]; an empty row is an error.

    Works for right padding (``length - 1``) and for left padding (``T - 1``) alike.
    """
    real = (mask != 0).long()                                              # [B, T]
    if bool((real.sum(dim=1) == 0).any()):
        raise CourseError("a row of the attention mask has no real token (all zeros).",
                          hint="every text needs at least one token; drop empty texts before batching")
    positions = torch.arange(1, real.shape[1] + 1, device=real.device)   # [T] 1..T
    return (real * positions).argmax(dim=1)                               # [B]


def first_real_index(mask: torch.Tensor) -> torch.Tensor:
    """The position of each row's first real token -> LongTensor[B] (0 with right padding)."""
    real = (mask != 0).long()                                              # [B, T]
    positions = torch.arange(real.shape[1], 0, -1, device=real.device)   # [T] T..1
    return (real * positions).argmax(dim=1)                               # [B]


def last_real_position(outputs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``outputs [B, T, H]`` read at each row's last real position (from ``mask [B, T]``) -> ``[B, H]``.

    The fix of ``outputs[:, -1, :]``: row ``b`` gives ``outputs[b, last_real_index(mask)[b]]``.
    """
    _check_outputs_and_mask(outputs, mask)
    index = last_real_index(mask)                                          # [B]
    gather = index.view(-1, 1, 1).expand(-1, 1, outputs.shape[2])        # [B, 1, H]
    return outputs.gather(1, gather).squeeze(1)                           # [B, H]


def last_padded_position(outputs: torch.Tensor) -> torch.Tensor:
    """``outputs[:, -1, :]``: THE BUG on right-padded batches (a padding position for shorter rows) -> ``[B, H]``."""
    return outputs[:, -1, :]


# --------------------------------------------------------------------------- the trainable head


@dataclass
class EncoderRNNConfig:
    """The RNN and the classifier on top of a frozen encoder.

    ``encoder``: a name for :func:`~textrnn_lab.layers.pretrained.load_encoder`
    (``None``: the packaged all-MiniLM-L6-v2); ``max_length``: tokens kept per
    text; ``readout``: one of :data:`READOUTS`; ``dropout`` applies to the
    RNN's summary before the linear layer (and between stacked layers).
    """

    cell: str = "lstm"
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.1
    num_classes: int = 2
    readout: str = "last"
    encoder: str | None = None
    max_length: int = 128

    def __post_init__(self):
        self.cell = cell_name(self.cell)
        if self.readout not in READOUTS:
            raise CourseError(f"unknown readout {self.readout!r}.", hint=f"choose one of: {', '.join(READOUTS)}")
        for name in ("hidden_size", "num_layers", "max_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CourseError(f"{name} must be a whole number >= 1, not {value!r}.")
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int) or self.num_classes < 2:
            raise CourseError(f"num_classes must be a whole number >= 2, not {self.num_classes!r}.")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise CourseError(f"dropout must be in [0, 1), not {self.dropout!r}.")

    def to_dict(self) -> dict:
        return asdict(self)


class RNNHead(nn.Module):
    """RNN over token states, read out at the last real token, then a linear layer: ``[B, T, E] -> [B, C]``.

    This is everything that trains when the encoder is frozen.
    """

    def __init__(self, config: EncoderRNNConfig, input_size: int):
        super().__init__()
        self.config = config
        self.input_size = int(input_size)
        self.rnn = build_rnn(config.cell, self.input_size, config.hidden_size, num_layers=config.num_layers,
                             bidirectional=config.bidirectional, dropout=config.dropout)
        directions = 2 if config.bidirectional else 1
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(directions * config.hidden_size, config.num_classes)

    def summary(self, states: torch.Tensor, mask: torch.Tensor, readout: str | None = None) -> torch.Tensor:
        """The RNN's summary of each text, ``[B, D*H]``, read as ``readout`` (default: the config's)."""
        readout = readout or self.config.readout
        if readout not in READOUTS:
            raise CourseError(f"unknown readout {readout!r}.", hint=f"choose one of: {', '.join(READOUTS)}")
        if states.ndim != 3 or states.shape[2] != self.input_size:
            raise CourseError(f"token states must be [B, T, {self.input_size}], not {tuple(states.shape)}.",
                              hint="the head was built for another encoder's hidden size")
        _check_outputs_and_mask(states, mask)
        states = states.to(self.classifier.weight.dtype)
        if readout == "packed":
            lengths = lengths_from_mask(mask).cpu()                            # [B], on the CPU as packing wants
            if bool((lengths == 0).any()):
                raise CourseError("a row of the attention mask has no real token (all zeros).")
            packed = pack_padded_sequence(states, lengths, batch_first=True, enforce_sorted=False)
            _, state = self.rnn(packed)
            h_n = state[0] if isinstance(state, tuple) else state               # [L*D, B, H]
            if self.config.bidirectional:
                return torch.cat([h_n[-2], h_n[-1]], dim=1)                    # [B, 2H]
            return h_n[-1]                                                      # [B, H]
        if readout == "last" and self.config.bidirectional:
            return self.summary(states, mask, "packed")  # the backward pass must not read padding first
        outputs, _ = self.rnn(states)                                           # [B, T, D*H]
        if readout == "final":
            return last_padded_position(outputs)                                # [B, D*H] (the bug)
        return last_real_position(outputs, mask)                                # [B, H]

    def forward(self, states: torch.Tensor, mask: torch.Tensor, readout: str | None = None) -> torch.Tensor:
        summary = self.summary(states, mask, readout)                           # [B, D*H]
        return self.classifier(self.dropout(summary))                           # [B, C]


def right_pad(pieces: Sequence[torch.Tensor], pad_to: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Variable-length sequences ``[T_i, E]`` as one right-padded batch: ``(states [B, T, E], mask [B, T] long)``.

    Row ``b`` holds sequence ``b`` then zeros; the mask is 1 on its ``T_i``
    positions and 0 after. ``T`` is the longest ``T_i``, or ``pad_to`` if larger.
    """
    if not len(pieces):
        raise CourseError("a batch needs at least one sequence.")
    if any(p.ndim != 2 for p in pieces) or len({int(p.shape[1]) for p in pieces}) != 1:
        raise CourseError("every sequence must be [T_i, E] with the same E.")
    lengths = [int(p.shape[0]) for p in pieces]
    steps = max(max(lengths), int(pad_to or 0))
    first = pieces[0]
    states = torch.zeros(len(pieces), steps, first.shape[1], dtype=first.dtype, device=first.device)  # [B, T, E]
    mask = torch.zeros(len(pieces), steps, dtype=torch.long, device=first.device)                     # [B, T]
    for row, (piece, n) in enumerate(zip(pieces, lengths)):
        states[row, :n] = piece
        mask[row, :n] = 1
    return states, mask


# --------------------------------------------------------------------------- the frozen encoder, cached


@dataclass
class TokenStates:
    """The frozen encoder's token states of N texts, computed once and kept in memory.

    ``flat [sum of lengths, E]`` holds every real token's state, text after
    text (float16 by default: half the memory, and the RNN reads float32);
    ``offsets [N + 1]`` says where each text starts. Padding is added per
    batch by :meth:`batch`, so no memory is spent on it.
    """

    flat: torch.Tensor
    offsets: torch.Tensor

    def __len__(self) -> int:
        return int(self.offsets.shape[0]) - 1

    @property
    def embed_dim(self) -> int:
        return int(self.flat.shape[1])

    @property
    def lengths(self) -> torch.Tensor:
        """Real tokens per text, LongTensor[N] ([CLS] and [SEP] included)."""
        return self.offsets[1:] - self.offsets[:-1]

    def text(self, i: int) -> torch.Tensor:
        """The states of text ``i``, ``[T_i, E]`` (float32)."""
        return self.flat[int(self.offsets[i]):int(self.offsets[i + 1])].float()

    def batch(self, index: Sequence[int] | torch.Tensor,
              pad_to: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Texts ``index`` right-padded with zeros: ``(states [B, T, E] float32, mask [B, T] long)``.

        ``T`` is the longest of them, or ``pad_to`` when given (at least that).
        """
        index = [int(i) for i in (index.tolist() if isinstance(index, torch.Tensor) else index)]
        if not index:
            raise CourseError("a batch needs at least one text.")
        return right_pad([self.text(i) for i in index], pad_to)

    def subset(self, index: Sequence[int] | torch.Tensor) -> "TokenStates":
        """A new cache holding texts ``index`` in that order."""
        index = [int(i) for i in (index.tolist() if isinstance(index, torch.Tensor) else index)]
        parts = [self.flat[int(self.offsets[i]):int(self.offsets[i + 1])] for i in index]
        lengths = torch.tensor([p.shape[0] for p in parts], dtype=torch.long)
        offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)])
        flat = torch.cat(parts) if parts else self.flat[:0]
        return TokenStates(flat, offsets)

    @property
    def nbytes(self) -> int:
        return self.flat.numel() * self.flat.element_size()


def encode_token_states(texts: Sequence[str], tokenizer, encoder, *, batch_size: int = 64, max_length: int = 128,
                        device=None, dtype: torch.dtype = torch.float16) -> TokenStates:
    """Run the frozen ``encoder`` once over ``texts`` and keep every real token's state (a :class:`TokenStates`).

    Texts are batched by length (little padding, so it is fast), without
    gradients, in eval mode; the result is in the order of ``texts``, on the CPU.
    """
    if isinstance(texts, str):
        texts = [texts]
    texts = [str(t) for t in texts]
    if not texts:
        raise CourseError("no texts to encode.")
    empty = [i for i, t in enumerate(texts) if not t.strip()]
    if empty:
        raise CourseError(f"{len(empty)} text(s) are empty (the first at position {empty[0]}).",
                          hint="drop empty texts before encoding them")
    if batch_size < 1:
        raise CourseError(f"batch_size must be at least 1, not {batch_size}.")
    body = getattr(encoder, "base_model", encoder)
    if device is None:
        try:
            target = next(body.parameters()).device
        except StopIteration:  # pragma: no cover - a model without parameters
            target = torch.device("cpu")
    else:
        target = get_device(device)
        body.to(target)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    pieces: list[torch.Tensor | None] = [None] * len(texts)
    was_training = body.training
    body.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(order), batch_size):
                index = order[start:start + batch_size]
                batch = tokenizer([texts[i] for i in index], padding=True, truncation=True, max_length=max_length,
                                  return_tensors="pt")
                batch = {k: v.to(target) for k, v in batch.items()}
                states = body(**batch).last_hidden_state                     # [B, T, E]
                real = batch["attention_mask"].bool()                        # [B, T]
                for row, i in enumerate(index):
                    pieces[i] = states[row][real[row]].to("cpu", dtype)      # [T_i, E]
    finally:
        body.train(was_training)
    lengths = torch.tensor([p.shape[0] for p in pieces], dtype=torch.long)  # [N]
    offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)])
    return TokenStates(torch.cat(pieces), offsets)


# --------------------------------------------------------------------------- training and predicting


@dataclass
class EncoderRNNTrainConfig(TrainConfig):
    """:class:`~textrnn_lab.training.config.TrainConfig` plus the batch size and the seed of the batch order."""

    max_steps: int | None = 400
    lr: float = 2e-3
    clip_grad_norm: float | None = 1.0
    batch_size: int = 32
    seed: int = 0


def _labels_tensor(labels, n: int) -> torch.Tensor:
    y = torch.as_tensor(list(labels) if not isinstance(labels, torch.Tensor) else labels).long().flatten()
    if y.shape[0] != n:
        raise CourseError(f"{y.shape[0]} labels for {n} texts.", hint="give one label (a class index) per text")
    if bool((y < 0).any()):
        raise CourseError("labels must be class indices 0 .. num_classes-1.")
    return y


def token_batches(cache: TokenStates, labels, batch_size: int, *, seed: int = 0,
                  shuffle: bool = True) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Endless ``(states [B, T, E], mask [B, T], labels [B])`` batches, a new random order every pass."""
    y = _labels_tensor(labels, len(cache))
    generator = torch.Generator().manual_seed(int(seed))
    while True:
        order = torch.randperm(len(cache), generator=generator) if shuffle else torch.arange(len(cache))
        for start in range(0, len(cache), batch_size):
            index = order[start:start + batch_size]
            states, mask = cache.batch(index)
            yield states, mask, y[index]


def head_loss(head: RNNHead, batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Cross-entropy and accuracy on ``(states, mask, labels)``: the ``loss_fn`` for :func:`fit`."""
    states, mask, y = batch
    logits = head(states, mask)                                                 # [B, C]
    return F.cross_entropy(logits, y), {"acc": (logits.argmax(dim=-1) == y).float().mean()}


def train_rnn_head(head: RNNHead, cache: TokenStates, labels, config: EncoderRNNTrainConfig | None = None, *,
                   device="cpu", progress: bool = False, **settings) -> History:
    """Train ``head`` on cached token states with the shared loop (AdamW, clipping); the encoder never runs."""
    config = replace(config or EncoderRNNTrainConfig(), **settings)
    labels = _labels_tensor(labels, len(cache))
    if int(labels.max()) >= head.config.num_classes:
        raise CourseError(f"a label is {int(labels.max())}, but the head has {head.config.num_classes} classes.")
    batches = token_batches(cache, labels, config.batch_size, seed=config.seed)
    batches = tuned_on_cpu(batches, device, period_seconds=2.0)   # a small LSTM is often faster on one thread
    return fit(head, batches, head_loss, config, device=device, progress=progress)


@torch.no_grad()
def predict_proba(head: RNNHead, cache: TokenStates, *, batch_size: int = 256, readout: str | None = None,
                  sort_by_length: bool = True, pad_to: int | None = None, device=None) -> torch.Tensor:
    """Class probabilities ``[N, C]`` (on the CPU, in the order of the cache), without gradients, in eval mode.

    ``sort_by_length`` batches texts of similar length (little padding);
    ``False`` keeps the cache's order, and ``pad_to`` pads every batch to at
    least that many positions: with ``readout="final"`` both change the answers.
    """
    target = device if device is not None else next(head.parameters()).device
    order = torch.argsort(cache.lengths, stable=True) if sort_by_length else torch.arange(len(cache))
    out = torch.empty(len(cache), head.config.num_classes)
    was_training = head.training
    head.eval()
    try:
        for start in range(0, len(cache), batch_size):
            index = order[start:start + batch_size]
            states, mask = cache.batch(index, pad_to=pad_to)
            logits = head(states.to(target), mask.to(target), readout)          # [B, C]
            out[index] = logits.float().softmax(dim=-1).cpu()
    finally:
        head.train(was_training)
    return out


# --------------------------------------------------------------------------- the whole model, on raw text


class EncoderRNNClassifier(nn.Module):
    """Frozen encoder -> :class:`RNNHead`: ``(input_ids [B, T], attention_mask [B, T]) -> logits [B, C]``.

    ``tokenizer``/``encoder`` default to ``load_encoder(config.encoder)``; a
    trained ``head`` may be passed in (one trained on a cache of the same
    encoder). The encoder stays frozen: no gradients, and in eval mode even
    when the model is put in training mode.
    """

    def __init__(self, config: EncoderRNNConfig | None = None, tokenizer=None, encoder=None,
                 head: RNNHead | None = None):
        super().__init__()
        config = config or EncoderRNNConfig()
        if (tokenizer is None) != (encoder is None):
            raise CourseError("pass both tokenizer and encoder, or neither (to load config.encoder).")
        if encoder is None:
            from ..layers.pretrained import load_encoder

            tokenizer, encoder = load_encoder(config.encoder)
        self.config = config
        self.tokenizer = tokenizer
        self.encoder = getattr(encoder, "base_model", encoder)
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        embed_dim = int(self.encoder.config.hidden_size)
        if head is not None and head.input_size != embed_dim:
            raise CourseError(f"the head reads states of size {head.input_size}, the encoder gives {embed_dim}.")
        self.head = head if head is not None else RNNHead(config, embed_dim)
        self.encoder.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        self.encoder.eval()  # frozen: dropout stays off
        return self

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, readout: str | None = None,
                **encoder_inputs) -> torch.Tensor:
        with torch.no_grad():
            states = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  **encoder_inputs).last_hidden_state          # [B, T, E]
        return self.head(states, attention_mask, readout)                       # [B, C]

    def tokenize(self, texts: Sequence[str], pad_to: int | None = None) -> dict[str, torch.Tensor]:
        """Right-padded ``input_ids``/``attention_mask`` ``[B, T]`` on the model's device.

        ``pad_to``: pad (and truncate) every text to exactly that many tokens,
        whatever the others in the batch; otherwise to the longest of them.
        """
        texts = [texts] if isinstance(texts, str) else [str(t) for t in texts]
        kwargs = dict(padding="max_length", max_length=max(pad_to, 1)) if pad_to else dict(padding=True)
        batch = self.tokenizer(texts, truncation=True, return_tensors="pt",
                               **{"max_length": self.config.max_length, **kwargs})
        device = next(self.head.parameters()).device
        return {k: v.to(device) for k, v in batch.items()}

    @torch.no_grad()
    def predict_proba(self, texts: Sequence[str], readout: str | None = None,
                      pad_to: int | None = None) -> torch.Tensor:
        """Class probabilities ``[B, C]`` of ``texts`` run as ONE batch (padding depends on the batch)."""
        was_training = self.training
        self.eval()
        try:
            batch = self.tokenize(texts, pad_to)
            return self(batch["input_ids"], batch["attention_mask"], readout).float().softmax(dim=-1).cpu()
        finally:
            self.train(was_training)
