"""Question 8c's "encoder-decoder text classifier", built as what it is: an encoder with a classification head.

The question's model reads a text with an LSTM, keeps the final hidden state,
and passes it to a single softmax layer it calls the "decoder". That layer
writes no sequence, reads none of its own outputs and has no state: it is a
*classification head*, and the model is an ordinary sequence classifier
(many-to-one). We build it under its honest name, in PyTorch here and in
Keras 3 in :mod:`.keras_classifier`::

    data = labelled_split("domain", per_class=1500)           # VADER sentences, 4 sources
    vocab = WordVocab.from_texts(data.train_texts, min_count=2)
    model = EncoderClassifier(EncoderClassifierConfig(len(vocab), data.num_classes))
    logits = model(ids, lengths)                              # [B, C]
    result = train_encoder_classifier(data, max_steps=400)

Two things the question's code gets wrong are fixed: its final state is read
after the padding (a Keras ``Embedding`` without ``mask_zero=True`` lets the
LSTM run over the padding zeros), here sequences are packed so the state is the
last *real* word's; and its vocabulary size was typed in (5000) apart from the
data, here it comes from the vocabulary.

Shapes: ``B`` batch, ``T`` words, ``E`` embedding, ``H`` hidden units, ``C`` classes.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from ..data.loaders import load_dataset
from ..data.vocab import WordVocab
from ..errors import CourseError
from ..layers.rnn import build_rnn, count_parameters
from ..runtime.seeding import seed_everything
from ..training.config import TrainConfig
from ..training.loop import History, fit
from ..training.threads import AdaptiveThreads

LABELS = ("domain", "sentiment")


@dataclass
class LabelledSplit:
    """Texts and integer labels for training and testing, and the label names."""

    train_texts: list[str]
    train_labels: list[int]
    test_texts: list[str]
    test_labels: list[int]
    label_names: list[str]
    label: str

    @property
    def num_classes(self) -> int:
        return len(self.label_names)


def labelled_split(label: str = "domain", per_class: int = 1500, test_per_class: int = 300,
                   seed: int = 0) -> LabelledSplit:
    """A balanced train/test split of the shipped VADER sentences.

    ``label="domain"``: which of the four sources a sentence comes from (movie
    reviews, NYT editorials, tweets, Amazon reviews), 4 classes; ``"sentiment"``:
    the sign of its human rating, positive or negative (neutral ones left out).
    ``per_class`` / ``test_per_class`` sentences of each class, drawn without overlap.
    """
    if label not in LABELS:
        raise CourseError(f"label must be one of {', '.join(LABELS)}, not {label!r}.")
    for name, value in (("per_class", per_class), ("test_per_class", test_per_class)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CourseError(f"{name} must be a whole number >= 1, not {value!r}.")
    frame = load_dataset("vader")
    column = "domain" if label == "domain" else "label"
    if label == "sentiment":
        frame = frame[frame["label"].isin(["negative", "positive"])]
    names = sorted(frame[column].unique())
    rng = np.random.default_rng(seed)
    split: dict[str, list] = {"train_texts": [], "train_labels": [], "test_texts": [], "test_labels": []}
    for c, name in enumerate(names):
        rows = frame.index[frame[column] == name].to_numpy()
        if len(rows) < per_class + test_per_class:
            raise CourseError(f"class {name!r} has {len(rows)} sentences, fewer than the {per_class} + "
                              f"{test_per_class} asked for.", hint="lower per_class or test_per_class.")
        chosen = rng.permutation(rows)[: per_class + test_per_class]
        texts = frame.loc[chosen, "text"].astype(str).tolist()
        split["train_texts"] += texts[:per_class]
        split["train_labels"] += [c] * per_class
        split["test_texts"] += texts[per_class:]
        split["test_labels"] += [c] * test_per_class
    order = rng.permutation(len(split["train_texts"]))
    split["train_texts"] = [split["train_texts"][i] for i in order]
    split["train_labels"] = [split["train_labels"][i] for i in order]
    return LabelledSplit(**split, label_names=[str(n) for n in names], label=label)


@dataclass
class EncoderClassifierConfig:
    """Sizes of the classifier; ``cell`` is the encoder's (the question used an LSTM)."""

    vocab_size: int
    num_classes: int
    embed_dim: int = 64
    hidden_size: int = 64
    cell: str = "lstm"
    dropout: float = 0.2
    pad_id: int = 0

    def __post_init__(self):
        for name in ("vocab_size", "num_classes", "embed_dim", "hidden_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CourseError(f"{name} must be a whole number >= 1, not {value!r}.")
        if self.num_classes < 2:
            raise CourseError(f"a classifier needs at least 2 classes, not {self.num_classes}.")

    def to_dict(self) -> dict:
        return asdict(self)


class EncoderClassifier(nn.Module):
    """Embedding -> recurrent encoder -> its final state (the last real word's) -> linear head -> class logits."""

    def __init__(self, config: EncoderClassifierConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=config.pad_id)
        self.encoder = build_rnn(config.cell, config.embed_dim, config.hidden_size)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size, config.num_classes)   # the question's "decoder"

    def encode(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``ids [B, T]``, ``lengths [B]`` -> the encoder's final hidden state ``[B, H]`` (at each last real word)."""
        x = self.embedding(ids)                                                  # [B, T, E]
        packed = pack_padded_sequence(x, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        _, state = self.encoder(packed)                                         # [1, B, H] (LSTM: (h, c))
        h = state[0] if isinstance(state, tuple) else state
        return h[-1]                                                             # [B, H]

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.encode(ids, lengths)))               # [B, C]


@dataclass
class ClassifierTrainConfig(TrainConfig):
    """Training the classifier: a step budget, batch size, the longest text kept, vocabulary settings, seed."""

    max_steps: int | None = 400
    lr: float = 3e-3
    clip_grad_norm: float | None = 1.0
    amp: bool | str = False
    batch_size: int = 64
    max_len: int = 48
    min_count: int = 2
    max_vocab: int = 8000
    seed: int = 0
    threads: int | str = "auto"   # CPU threads: "auto" measures one against all while training


@dataclass
class ClassifierResult:
    model: EncoderClassifier
    vocab: WordVocab
    history: History
    test_accuracy: float
    seconds: float
    parameters: int
    extra: dict = field(default_factory=dict)


def _loss(model: nn.Module, batch):
    ids, lengths, labels = batch
    logits = model(ids, lengths)                                                  # [B, C]
    return F.cross_entropy(logits, labels), {"acc": (logits.argmax(-1) == labels).float().mean()}


def encode_texts(vocab: WordVocab, texts: list[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Texts -> ``(ids [N, T], lengths [N])`` (cut at ``max_len`` words; an empty text keeps one padding id)."""
    ids, lengths = vocab.encode_batch(texts, max_len=max_len)
    if ids.shape[1] == 0:
        ids = torch.zeros(len(texts), 1, dtype=torch.long)
    return ids, lengths


@torch.no_grad()
def classifier_accuracy(model: EncoderClassifier, ids: torch.Tensor, lengths: torch.Tensor, labels,
                        batch_size: int = 512) -> float:
    model.eval()
    labels = torch.as_tensor(labels)
    right = 0
    for i in range(0, len(labels), batch_size):
        logits = model(ids[i:i + batch_size], lengths[i:i + batch_size])         # [B, C]
        right += int((logits.argmax(-1) == labels[i:i + batch_size]).sum())
    return right / len(labels)


def train_encoder_classifier(data: LabelledSplit, config: ClassifierTrainConfig | None = None,
                             model_config: dict | None = None, **settings) -> ClassifierResult:
    """Build the vocabulary on the training texts, train :class:`EncoderClassifier` with ``fit``, test it."""
    from dataclasses import replace

    config = replace(config or ClassifierTrainConfig(), **settings)
    seed_everything(config.seed)
    vocab = WordVocab.from_texts(data.train_texts, min_count=config.min_count, max_size=config.max_vocab)
    model = EncoderClassifier(EncoderClassifierConfig(len(vocab), data.num_classes, **(model_config or {})))
    ids, lengths = encode_texts(vocab, data.train_texts, config.max_len)        # [N, T], [N]
    labels = torch.tensor(data.train_labels)

    def batches():
        gen = torch.Generator().manual_seed(config.seed)
        while True:
            order = torch.randperm(len(labels), generator=gen)
            for i in range(0, len(order) - config.batch_size + 1, config.batch_size):
                rows = order[i:i + config.batch_size]
                width = max(1, int(lengths[rows].max()))
                yield ids[rows, :width], lengths[rows], labels[rows]

    base = {f: getattr(config, f) for f in TrainConfig.__dataclass_fields__}
    stream = batches()
    before = torch.get_num_threads()
    if config.threads == "auto":
        stream = AdaptiveThreads().wrap(stream)
    else:
        torch.set_num_threads(int(config.threads))
    start = time.perf_counter()
    try:
        history = fit(model, stream, _loss, TrainConfig(**base), device="cpu", progress=False)
    finally:
        if config.threads != "auto":
            torch.set_num_threads(before)
    seconds = time.perf_counter() - start
    test_ids, test_lengths = encode_texts(vocab, data.test_texts, config.max_len)
    accuracy = classifier_accuracy(model, test_ids, test_lengths, data.test_labels)
    return ClassifierResult(model, vocab, history, accuracy, seconds, count_parameters(model))
