"""Training the two-headed model in one freezing mode, with the shared step-based loop.

    run = train_multitask(encoder, train_base, train_set, {"in-domain": (base, test_set)},
                          MultiTaskTrainConfig(freeze="encoder", max_steps=200), MultiTaskConfig(), seed=0)
    run.row()          # mode, seed, trainable parameters, seconds, the scores on every test set
    run.history        # training.loop.History: per step "loss", "sentence_loss", "token_loss"
    run.changes        # the largest change of any parameter of each part: 0.0 exactly where frozen

Batches are ``(hidden [B, T, H], mask [B, T], token_labels [B, T], sentence_labels [B])``
cut from the base states computed once (see :func:`.model.base_states`).
The optimizer is AdamW over the parameters that may train, with its own
learning rate for the pre-trained layers (``encoder_lr``, small, so that they
move a little from what they know) and for the new heads (``lr``).
With everything frozen there is nothing to optimise: no step is taken, the
model is only evaluated, and the run says so (``run.note``). With the encoder
frozen its output never changes, so it is computed once for the training set
(inside the timed part) and only the heads run at each step.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

import torch

from ..errors import CourseError
from ..runtime.device import get_device
from ..runtime.seeding import seed_everything
from ..training.config import TrainConfig
from ..training.loop import History, evaluate, fit
from .batching import EncodedSentences, batch_indices, bucketed_indices, trim
from .evaluation import evaluate_tasks
from .loss import loss_parts
from .model import FREEZE_MODES, MultiTaskConfig, MultiTaskModel, length_batches


@dataclass
class MultiTaskTrainConfig(TrainConfig):
    """A training run of chapter 08: the shared budget fields, plus batches, loss weights and the freezing mode."""

    max_steps: int | None = 150
    lr: float = 3e-3              # the new heads
    encoder_lr: float = 3e-4      # the pre-trained transformer layers
    batch_size: int = 16
    sentence_weight: float = 1.0
    token_weight: float = 1.0
    freeze: str = "nothing"

    def __post_init__(self):
        super().__post_init__()
        if self.freeze not in FREEZE_MODES:
            raise CourseError(f"unknown freezing mode {self.freeze!r}.",
                              hint=f"choose one of: {', '.join(FREEZE_MODES)}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise CourseError(f"batch_size must be a whole number >= 1, not {self.batch_size!r}.")
        if min(self.sentence_weight, self.token_weight) < 0:
            raise CourseError("loss weights must be >= 0.")

    @property
    def weights(self) -> tuple[float, float]:
        return (float(self.sentence_weight), float(self.token_weight))


@dataclass
class MultiTaskRun:
    """What one run measured."""

    mode: str
    seed: int
    trainable: int
    seconds: float
    scores: dict[str, dict[str, float]]
    changes: dict[str, float]
    history: History = field(default_factory=History)
    start_loss: dict[str, float] = field(default_factory=dict)
    note: str = ""
    model: Any = field(default=None, repr=False)

    def row(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode, "seed": self.seed, "trainable": self.trainable,
                               "seconds": round(self.seconds, 2)}
        for split, values in self.scores.items():
            for key, value in values.items():
                out[f"{key}_{split}"] = value
        return out


def task_batches(base: torch.Tensor, encoded: EncodedSentences, batch_size: int, seed: int | None = 0
                 ) -> Iterator[tuple[torch.Tensor, ...]]:
    """Batches ``(hidden [B, T, H], mask [B, T], token_labels [B, T], sentence_labels [B])``, trimmed to their longest.

    Endless, shuffled by ``seed`` and grouped by length (see :func:`.batching.bucketed_indices`);
    ``seed=None``: one pass in order.
    """
    if base.shape[:2] != encoded.input_ids.shape:
        raise CourseError(f"the base states {tuple(base.shape)} do not match the sentences "
                          f"{tuple(encoded.input_ids.shape)}.", hint="compute base_states from the same encoding")
    lengths = encoded.attention_mask.sum(dim=1)
    order = batch_indices(len(encoded), batch_size, seed=None) if seed is None else \
        bucketed_indices(lengths, batch_size, seed=seed)
    for index in order:
        mask, hidden, labels = trim(encoded.attention_mask[index], base[index], encoded.token_labels[index])
        yield hidden, mask, labels, encoded.sentence_labels[index]


def make_loss_fn(weights=(1.0, 1.0)):
    """The loss function ``fit`` calls: the combined loss, with both terms kept per step."""

    def loss_fn(model, batch):
        hidden, mask, token_labels, sentence_labels = batch
        sentence_logits, token_logits = model(hidden, mask)                # [B, C], [B, T, K]
        total, sentence, token = loss_parts(sentence_logits, token_logits, sentence_labels, token_labels, weights)
        return total, {"sentence_loss": sentence.detach(), "token_loss": token.detach()}

    return loss_fn


class _HeadsOnly(torch.nn.Module):
    """The model's heads alone, fed the frozen encoder's output (computed once): what trains when the encoder cannot."""

    def __init__(self, model: MultiTaskModel):
        super().__init__()
        self.model = model

    def forward(self, hidden, mask):
        return self.model.heads(hidden, mask)


@torch.no_grad()
def encoded_states(model: MultiTaskModel, base: torch.Tensor, mask: torch.Tensor, batch_size: int = 64,
                   device=None) -> torch.Tensor:
    """The output of the model's (frozen) encoder layers for every sentence: ``[N, T, H]`` on the CPU."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = torch.zeros_like(base)
    try:
        for index in length_batches(mask, batch_size):
            length = max(1, int(mask[index].sum(dim=1).max()))
            part = mask[index, :length].to(device)
            out[index, :length] = model.encode(base[index, :length].to(device), part).float().cpu()
    finally:
        model.train(was_training)
    return out


def _optimizer(model: MultiTaskModel, config: MultiTaskTrainConfig) -> torch.optim.Optimizer | None:
    groups = []
    encoder = [p for p in model.encoder.parameters() if p.requires_grad]
    heads = [p for name in ("sentence_head", "token_head") for p in model.part(name).parameters() if p.requires_grad]
    if encoder:
        groups.append({"params": encoder, "lr": config.encoder_lr})
    if heads:
        groups.append({"params": heads, "lr": config.lr})
    if not groups:
        return None
    return torch.optim.AdamW(groups, weight_decay=config.weight_decay)


def train_multitask(encoder, base: torch.Tensor, train_set: EncodedSentences,
                    tests: Mapping[str, tuple[torch.Tensor, EncodedSentences]],
                    config: MultiTaskTrainConfig | None = None, model_config: MultiTaskConfig | None = None,
                    seed: int = 0, device="auto", keep_model: bool = False) -> MultiTaskRun:
    """Train a fresh model (top layers copied from ``encoder``) in ``config.freeze`` mode; score it on ``tests``."""
    config = config or MultiTaskTrainConfig()
    model_config = model_config or MultiTaskConfig(num_classes=len(train_set.classes))
    device = get_device(device) if not isinstance(device, torch.device) else device
    seed_everything(seed)
    model = MultiTaskModel.from_encoder(encoder, model_config, seed=seed).freeze(config.freeze).to(device)
    snapshot = model.snapshot()
    loss_fn = make_loss_fn(config.weights)
    start = evaluate(model, _first_batches(base, train_set, config.batch_size), loss_fn, device)
    optimizer = _optimizer(model, config)
    history, note, seconds = History(), "", 0.0
    if optimizer is None:
        note = "every parameter is frozen: nothing to optimise, so no step was taken"
    else:
        started = time.perf_counter()
        trained, states = model, base
        if "encoder" in model.frozen and len(model.encoder):
            trained = _HeadsOnly(model)
            states = encoded_states(model, base, train_set.attention_mask, device=device)
        history = fit(trained, task_batches(states, train_set, config.batch_size, seed=seed), loss_fn, config,
                      optimizer=optimizer, device=device, progress=False)
        seconds = time.perf_counter() - started
    scores = {name: evaluate_tasks(model, test_base, test_set, device=device)
              for name, (test_base, test_set) in tests.items()}
    return MultiTaskRun(mode=config.freeze, seed=seed, trainable=model.trainable_parameters(), seconds=seconds,
                        scores=scores, changes=model.changes_since(snapshot), history=history,
                        start_loss={k: float(v) for k, v in start.items()}, note=note,
                        model=model if keep_model else None)


def _first_batches(base, encoded, batch_size, count: int = 4):
    """The first ``count`` batches in order: where every run's loss starts (the same sentences for all)."""
    batches = task_batches(base, encoded, batch_size, seed=None)
    return [batch for batch, _ in zip(batches, range(count))]
