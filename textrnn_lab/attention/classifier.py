"""A text classifier built on one self-attention layer, in PyTorch, with its parameters counted layer by layer.

::

    config = SelfAttentionClassifierConfig(vocab_size=5000, num_classes=2)
    model = SelfAttentionClassifier(config)
    logits = model(ids)                         # ids LongTensor[B, L] (0 = padding) -> logits [B, C]
    for row in parameter_table(config): ...     # each layer's count, from its formula
    result = train_classifier(config, data, steps=300, seed=0)

The flow, one line per layer::

    ids      [B, L]        word ids, padded with 0 to L
    x        [B, L, E]     Embedding(V, E)
    a        [B, L, E]     multi-head self-attention (nh heads of size hd), padding masked out
    a        [B, L, E]     LayerNorm(E)
    pooled   [B, E]        the mean over the real words (over all L positions without the mask)
    h        [B, D]        Dropout, Linear(E, D), ReLU, Dropout
    logits   [B, C]        Linear(D, C): C = 2 scores for softmax (or C = 1 for a sigmoid)

There are no position embeddings: the layer sees a bag of words, and the order
of the words changes nothing (the chapter measures it). Without the padding
mask, the real words attend to the padding, and the padding is averaged into
``pooled``: a sentence's prediction then depends on how much padding it has.

Shapes: B batch, L ``max_length``, V ``vocab_size``, E ``embed_dim``, nh
``num_heads``, hd ``key_dim``, D ``dense_units``, C output units.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CourseError
from ..layers.rnn import count_parameters
from ..runtime.seeding import seed_everything
from ..training.loop import History, evaluate, fit
from .scaled import MultiHeadSelfAttention, multihead_parameter_count


@dataclass
class SelfAttentionClassifierConfig:
    """The classifier's sizes; the defaults are the question's (395,203 parameters with ``num_classes=3``)."""

    vocab_size: int = 5000      # V, padding and the unknown word included
    embed_dim: int = 64         # E
    max_length: int = 100       # L: every row is padded or cut to it
    num_heads: int = 4          # nh
    key_dim: int = 64           # hd: size of each head's queries, keys and values (Keras's key_dim)
    dense_units: int = 128      # D
    num_classes: int = 2        # C: 2+ -> softmax over C units; 1 -> one sigmoid unit (binary)
    dropout: float = 0.2
    use_mask: bool = True       # hide the padding from attention and pooling
    pad_id: int = 0
    keras_init: bool = True     # start from Keras's default initialisation (else PyTorch's own)

    def __post_init__(self):
        for name in ("vocab_size", "embed_dim", "max_length", "num_heads", "key_dim", "dense_units", "num_classes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CourseError(f"{name} must be a whole number >= 1, not {value!r}.")
        if not 0.0 <= self.dropout < 1.0:
            raise CourseError(f"dropout must be in [0, 1), not {self.dropout!r}.")

    def to_dict(self) -> dict:
        return asdict(self)


def parameter_table(config: SelfAttentionClassifierConfig) -> list[dict]:
    """One row per layer with parameters: its name, the formula, and the count the formula gives."""
    c = config
    V, E, nh, hd, D, C = c.vocab_size, c.embed_dim, c.num_heads, c.key_dim, c.dense_units, c.num_classes
    return [
        {"layer": "embedding", "formula": f"V*E = {V}*{E}", "parameters": V * E},
        {"layer": "multi-head attention",
         "formula": f"3*(E*nh*hd + nh*hd) + (nh*hd*E + E) = 3*({E}*{nh}*{hd} + {nh}*{hd}) + ({nh}*{hd}*{E} + {E})",
         "parameters": multihead_parameter_count(E, nh, hd)},
        {"layer": "layer normalization", "formula": f"2*E = 2*{E}", "parameters": 2 * E},
        {"layer": "dense (ReLU)", "formula": f"E*D + D = {E}*{D} + {D}", "parameters": E * D + D},
        {"layer": "output", "formula": f"D*C + C = {D}*{C} + {C}", "parameters": D * C + C},
    ]


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """x [B, L, E], mask [B, L] (True = real) -> [B, E], the mean over the real positions (all, without a mask)."""
    if mask is None:
        return x.mean(dim=1)
    weights = mask.to(x.dtype)[..., None]                        # [B, L, 1]
    return (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


class SelfAttentionClassifier(nn.Module):
    """Embedding -> multi-head self-attention -> LayerNorm -> mean pooling -> dense -> output scores."""

    def __init__(self, config: SelfAttentionClassifierConfig):
        super().__init__()
        c = self.config = config
        self.embed = nn.Embedding(c.vocab_size, c.embed_dim)
        self.attention = MultiHeadSelfAttention(c.embed_dim, c.num_heads, head_dim=c.key_dim)
        self.norm = nn.LayerNorm(c.embed_dim, eps=1e-6)
        self.drop = nn.Dropout(c.dropout)
        self.dense = nn.Linear(c.embed_dim, c.dense_units)
        self.head = nn.Linear(c.dense_units, c.num_classes)
        if c.keras_init:
            self.reset_like_keras()

    @torch.no_grad()
    def reset_like_keras(self) -> None:
        """Keras's defaults: embeddings uniform in [-0.05, 0.05], Glorot-uniform kernels, zero biases.

        PyTorch starts embeddings at N(0, 1), twenty times larger, and its linear layers
        at Kaiming-uniform with random biases; with the same optimizer and steps the two
        frameworks then train to different accuracies although the model is the same.
        """
        nn.init.uniform_(self.embed.weight, -0.05, 0.05)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, ids: torch.Tensor, return_attention: bool = False):
        """ids LongTensor[B, L] -> logits [B, C] (and the attention weights [B, nh, L, L] if asked)."""
        if ids.dim() != 2:
            raise CourseError(f"the classifier expects word ids of shape [B, L], got {tuple(ids.shape)}.")
        mask = ids != self.config.pad_id if self.config.use_mask else None   # [B, L]
        x = self.embed(ids)                                   # [B, L, E]
        a, weights = self.attention(x, mask)                  # [B, L, E], [B, nh, L, L]
        a = self.norm(a)                                      # [B, L, E]
        pooled = masked_mean(a, mask)                         # [B, E]
        h = self.drop(F.relu(self.dense(self.drop(pooled))))  # [B, D]
        logits = self.head(h)                                 # [B, C]
        return (logits, weights) if return_attention else logits

    def num_parameters(self) -> int:
        return count_parameters(self)


def classifier_loss(model: SelfAttentionClassifier, batch):
    """(ids, labels) -> (loss, {"acc"}): cross-entropy over C >= 2 softmax units, or binary cross-entropy
    on one sigmoid unit (C = 1), both from the raw scores (the softmax / sigmoid is inside the loss)."""
    ids, labels = batch
    logits = model(ids)                                       # [B, C]
    if logits.shape[-1] == 1:
        loss = F.binary_cross_entropy_with_logits(logits[:, 0], labels.float())
        predicted = (logits[:, 0] > 0).long()
    else:
        loss = F.cross_entropy(logits, labels)
        predicted = logits.argmax(dim=-1)
    return loss, {"acc": (predicted == labels).float().mean()}


def batches(ids: torch.Tensor, labels: torch.Tensor, batch_size: int, seed: int):
    """An endless stream of shuffled (ids [B, L], labels [B]) batches, reshuffled every pass."""
    gen = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(len(ids), generator=gen)
        for start in range(0, len(ids) - batch_size + 1, batch_size):
            pick = order[start:start + batch_size]
            yield ids[pick], labels[pick]


def eval_batches(ids: torch.Tensor, labels: torch.Tensor, batch_size: int = 512):
    return [(ids[i:i + batch_size], labels[i:i + batch_size]) for i in range(0, len(ids), batch_size)]


@torch.no_grad()
def predict_proba(model: SelfAttentionClassifier, ids: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """FloatTensor[N]: the probability of class 1 (positive) for each row of ``ids``, in eval mode."""
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(ids), batch_size):
        logits = model(ids[i:i + batch_size].to(device))
        p = torch.sigmoid(logits[:, 0]) if logits.shape[-1] == 1 else torch.softmax(logits, -1)[:, 1]
        out.append(p.cpu())
    model.train(was)
    return torch.cat(out)


@dataclass
class ClassifierRun:
    """One training run: the model, its test accuracy and loss, the history, the seconds it took."""

    model: SelfAttentionClassifier
    test_acc: float
    test_loss: float
    history: History
    seconds: float


def train_classifier(config: SelfAttentionClassifierConfig, data, steps: int = 300, batch_size: int = 64,
                     lr: float = 1e-3, seed: int = 0, device="cpu") -> ClassifierRun:
    """Train a fresh classifier for ``steps`` Adam steps on ``data`` (a ``SentimentSplits``), then test it."""
    if data.train_ids.shape[1] != config.max_length:
        raise CourseError(f"the rows are {data.train_ids.shape[1]} ids long, the config expects {config.max_length}.")
    seed_everything(seed)
    model = SelfAttentionClassifier(config)
    started = time.perf_counter()
    history = fit(model, batches(data.train_ids, data.train_labels, batch_size, seed), classifier_loss,
                  max_steps=steps, lr=lr, device=device, progress=False)
    seconds = time.perf_counter() - started
    scores = evaluate(model, eval_batches(data.test_ids, data.test_labels), classifier_loss, device=device)
    return ClassifierRun(model, scores["acc"], scores["loss"], history, seconds)
