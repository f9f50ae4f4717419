"""Fine-tuning a pre-trained encoder as a classifier, within a time budget, and using it afterwards.

::

    data = read_labelled_texts("reviews.csv")
    train_index, test_index = stratified_split(data.labels)
    result = finetune(data.subset(train_index), FinetuneConfig(max_seconds=120), test=data.subset(test_index))
    result.accuracy, result.macro_f1, result.confusion     # on the held-out texts
    save_finetuned(result, "runs/my_classifier")           # save_pretrained + labels.json
    classify_texts("runs/my_classifier", ["What a film!"]) # [("positive", 0.97)]

What makes it fast on a CPU: texts are tokenised once; batches are padded only to
their own longest text and drawn from buckets of similar lengths
(:mod:`.batching`); the word embeddings, half of the parameters, are frozen by
default; the learning rate warms up, then decays with the budget
(:class:`~textrnn_lab.training.schedules.BudgetSchedule`, by steps or by seconds);
the number of CPU threads follows the measured step time
(:class:`~textrnn_lab.training.threads.AdaptiveThreads`); evaluation runs without
gradients, in large length-sorted batches. The loop is :func:`textrnn_lab.training.loop.fit`.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from ..errors import CourseError, DataError
from ..runtime.device import get_device
from ..runtime.files import atomic_write
from ..training.config import TrainConfig
from ..training.loop import History, fit
from ..training.schedules import BudgetSchedule
from ..training.threads import AdaptiveThreads
from .batching import bucketed_batches, sorted_batches, tokenize
from .classifier import freeze_encoder, trainable_parameters
from .metrics import accuracy, confusion_matrix, macro_f1
from .tabular import LabelledTexts

LABELS_FILE = "labels.json"


@dataclass
class FinetuneConfig(TrainConfig):
    """How to fine-tune: the :class:`TrainConfig` budget (``max_steps`` and/or ``max_seconds``) and more.

    ``epochs`` (passes over the training texts) becomes ``max_steps`` when given.
    ``encoder``: ``None`` is the packaged all-MiniLM-L6-v2; a directory or a hub name
    otherwise. ``freeze_embeddings`` keeps the word vectors fixed (faster, as accurate).
    ``threads``: CPU threads; ``None`` adapts between one and all cores as the load changes.
    With ``progress``, :func:`finetune` reports the training loss at 5 points of the budget
    unless ``evals`` or ``eval_every`` say otherwise.
    """

    max_seconds: float | None = 180.0
    lr: float = 1e-4
    weight_decay: float = 0.01
    epochs: float | None = None
    encoder: str | None = None
    batch_size: int = 16
    eval_batch_size: int = 128
    max_length: int = 128
    warmup_steps: int = 20
    freeze_embeddings: bool = True
    seed: int = 0
    threads: int | None = None

    def __post_init__(self):
        super().__post_init__()
        if self.epochs is not None and not float(self.epochs) > 0:
            raise CourseError(f"epochs must be a number > 0, not {self.epochs!r}.")
        for name in ("batch_size", "eval_batch_size", "max_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CourseError(f"{name} must be a whole number >= 1, not {value!r}.")

    def steps_for(self, num_texts: int) -> int | None:
        """The step budget: ``epochs`` passes over ``num_texts`` texts, or ``max_steps``, whichever is smaller."""
        steps = [s for s in (self.max_steps,) if s is not None]
        if self.epochs is not None:
            steps.append(max(1, math.ceil(float(self.epochs) * num_texts / self.batch_size)))
        return min(steps) if steps else None


@dataclass
class Evaluation:
    """A classifier's predictions on labelled texts and how good they are."""

    probabilities: torch.Tensor        # [N, C]
    predictions: list[int]
    accuracy: float
    macro_f1: float
    confusion: torch.Tensor            # [C, C], rows: true class
    seconds: float


@dataclass
class FinetuneResult:
    """What :func:`finetune` returns: the trained model, its tokenizer, and what was measured."""

    model: nn.Module
    tokenizer: Any
    label_names: list[str]
    config: FinetuneConfig
    history: History
    train_seconds: float
    trainable: int
    test: Evaluation | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def accuracy(self) -> float | None:
        return self.test.accuracy if self.test else None

    @property
    def macro_f1(self) -> float | None:
        return self.test.macro_f1 if self.test else None

    @property
    def confusion(self) -> torch.Tensor | None:
        return self.test.confusion if self.test else None


def load_classifier(label_names: Sequence[str], encoder: str | None = None, device="cpu"):
    """``(tokenizer, model)``: the pre-trained encoder with a new head of ``len(label_names)`` classes."""
    from ..layers.pretrained import load_encoder

    tokenizer, model = load_encoder(encoder, device=device, num_labels=len(label_names))
    set_label_names(model, label_names)
    return tokenizer, model


def set_label_names(model: nn.Module, label_names: Sequence[str]) -> None:
    """Write the class names into the model's config (``id2label`` / ``label2id``), as pipelines read them."""
    names = [str(n) for n in label_names]
    model.config.id2label = dict(enumerate(names))
    model.config.label2id = {n: i for i, n in enumerate(names)}


def reset_head(model: nn.Module, seed: int = 0) -> None:
    """New random weights for the classification layer (normal, std ``initializer_range``), from ``seed``."""
    layer = model.classifier
    gen = torch.Generator().manual_seed(int(seed))
    std = getattr(model.config, "initializer_range", 0.02)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen) * std)
        layer.bias.zero_()


def _loss(model: nn.Module, batch: dict[str, torch.Tensor]):
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    logits = out.logits                                                        # [B, C]
    loss = nn.functional.cross_entropy(logits.float(), batch["labels"])
    return loss, {"acc": (logits.argmax(dim=-1) == batch["labels"]).float().mean()}


@torch.no_grad()
def text_probabilities(model: nn.Module, tokenizer, texts: Sequence[str], batch_size: int = 128,
                  max_length: int = 128, device=None) -> torch.Tensor:
    """Class probabilities ``FloatTensor[N, C]`` (on the CPU, in the order of ``texts``), without gradients."""
    target = next(model.parameters()).device if device is None else get_device(device)
    model.to(target)
    ids = tokenize(tokenizer, list(texts), max_length=max_length)
    num_classes = int(model.config.num_labels)
    out = torch.empty(len(ids), num_classes)
    was_training = model.training
    model.eval()
    pad = tokenizer.pad_token_id or 0
    try:
        for rows, batch in sorted_batches(ids, None, batch_size=batch_size, pad_id=pad):
            logits = model(input_ids=batch["input_ids"].to(target),
                           attention_mask=batch["attention_mask"].to(target)).logits    # [B, C]
            out[torch.tensor(rows)] = logits.float().softmax(dim=-1).cpu()
    finally:
        model.train(was_training)
    return out


def evaluate_classifier(model: nn.Module, tokenizer, data: LabelledTexts, batch_size: int = 128,
                        max_length: int = 128) -> Evaluation:
    """Accuracy, macro-F1 and the confusion matrix of ``model`` on ``data``."""
    start = time.perf_counter()
    probs = text_probabilities(model, tokenizer, data.texts, batch_size=batch_size, max_length=max_length)
    pred = probs.argmax(dim=-1).tolist()
    classes = len(data.label_names)
    return Evaluation(probs, pred, accuracy(data.labels, pred), macro_f1(data.labels, pred, classes),
                      confusion_matrix(data.labels, pred, classes), time.perf_counter() - start)


def finetune(train: LabelledTexts, config: FinetuneConfig | None = None, *, test: LabelledTexts | None = None,
             device="auto", progress: bool = True, model: nn.Module | None = None, tokenizer=None) -> FinetuneResult:
    """Fine-tune the encoder (all layers but the word embeddings, by default) on ``train``; evaluate on ``test``.

    ``model`` / ``tokenizer``: a classifier already loaded (e.g. a copy made for each of
    several runs) instead of loading ``config.encoder``; its head is re-initialised from
    ``config.seed`` either way, so runs with the same seed start alike.
    """
    config = config or FinetuneConfig()
    if len(train) == 0:
        raise DataError("there are no training texts.")
    target = get_device(device)
    if model is None or tokenizer is None:
        tokenizer, model = load_classifier(train.label_names, config.encoder, device="cpu")
    if int(model.config.num_labels) != len(train.label_names):
        raise CourseError(f"the model has {model.config.num_labels} outputs but the data has "
                          f"{len(train.label_names)} classes.", hint="load it with num_labels=len(label_names)")
    set_label_names(model, train.label_names)
    reset_head(model, config.seed)
    if config.freeze_embeddings:
        freeze_encoder(model, embeddings_only=True)
    trainable = trainable_parameters(model)

    ids = tokenize(tokenizer, train.texts, max_length=config.max_length)
    pad = tokenizer.pad_token_id or 0
    max_steps = config.steps_for(len(ids))
    max_seconds = None if config.epochs is not None else config.max_seconds
    if max_steps is None and max_seconds is None:
        max_steps = math.ceil(3 * len(ids) / config.batch_size)
    batches = bucketed_batches(ids, train.labels, batch_size=config.batch_size, pad_id=pad, seed=config.seed)
    tuner = None
    if target.type == "cpu":
        if config.threads is not None:
            torch.set_num_threads(int(config.threads))
        else:
            tuner = AdaptiveThreads()
            batches = tuner.wrap(batches)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    warmup = min(config.warmup_steps, max(1, (max_steps or 10**9) // 10))
    schedule = BudgetSchedule(optimizer, max_steps=max_steps, max_seconds=max_seconds, warmup_steps=warmup)
    torch.manual_seed(config.seed)   # dropout masks
    start = time.perf_counter()
    history = fit(model, batches, _loss, config, optimizer=optimizer, scheduler=schedule, device=target,
                  progress=progress, max_steps=max_steps, max_seconds=max_seconds,
                  evals=config.evals or (None if config.eval_every or not progress else 5),
                  eval_every=config.eval_every)
    train_seconds = time.perf_counter() - start
    model.eval()
    for param in model.parameters():   # a saved model is a plain model: everything trainable again
        param.requires_grad_(True)
    result = FinetuneResult(model, tokenizer, list(train.label_names), config, history, train_seconds, trainable,
                            notes={"steps": history.num_steps, "device": str(target),
                                   "thread_changes": list(tuner.changes) if tuner else [],
                                   "stopped_early": history.stopped_early})
    if test is not None and len(test):
        result.test = evaluate_classifier(model, tokenizer, test, batch_size=config.eval_batch_size,
                                          max_length=config.max_length)
    return result


def save_finetuned(result: FinetuneResult, directory, extra: dict | None = None) -> Path:
    """``save_pretrained`` (model and tokenizer, loadable by transformers as it is) plus ``labels.json``."""
    out = Path(directory).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    set_label_names(result.model, result.label_names)
    result.model.save_pretrained(out)
    result.tokenizer.save_pretrained(out)
    summary = {"label_names": result.label_names, "config": asdict(result.config),
               "train_seconds": round(result.train_seconds, 2), "steps": result.history.num_steps}
    if result.test is not None:
        summary.update(accuracy=result.test.accuracy, macro_f1=result.test.macro_f1,
                       confusion=result.test.confusion.tolist())
    summary.update(extra or {})
    atomic_write(out / LABELS_FILE, json.dumps(summary, indent=2) + "\n")
    return out


def load_finetuned(directory, device="cpu"):
    """``(tokenizer, model, label_names)`` of a directory written by :func:`save_finetuned`."""
    path = Path(directory).expanduser()
    labels = path / LABELS_FILE
    if not path.is_dir():
        raise CourseError(f"the model directory {path} does not exist.",
                          hint="pass the --out directory of a textrnn-lab finetune run")
    if not labels.is_file():
        raise CourseError(f"{path} holds no {LABELS_FILE}, so it was not written by textrnn-lab finetune.",
                          hint="pass the --out directory of a textrnn-lab finetune run")
    try:
        names = [str(n) for n in json.loads(labels.read_text(encoding="utf-8"))["label_names"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise CourseError(f"{labels} cannot be read: {exc}.", hint="run textrnn-lab finetune again") from None
    from ..layers.pretrained import load_encoder

    tokenizer, model = load_encoder(str(path), device=device, num_labels=len(names))
    return tokenizer, model, names


def classify_texts(directory_or_model, texts: Sequence[str], device="cpu") -> list[tuple[str, float]]:
    """``(label, probability)`` for each text, with a model saved by :func:`save_finetuned`."""
    texts = [str(t) for t in texts]
    empty = [i + 1 for i, t in enumerate(texts) if not t.strip()]
    if not texts or empty:
        raise CourseError("there is no text to classify" + (f" (text {empty[0]} is empty)." if empty else "."),
                          hint='pass one or more texts, e.g. textrnn-lab classify --model DIR "What a film!"')
    if isinstance(directory_or_model, FinetuneResult):
        tokenizer, model, names = directory_or_model.tokenizer, directory_or_model.model, \
            directory_or_model.label_names
    else:
        tokenizer, model, names = load_finetuned(directory_or_model, device=device)
    probs = text_probabilities(model, tokenizer, texts)
    best = probs.max(dim=-1)
    return [(names[int(i)], float(p)) for p, i in zip(best.values, best.indices)]
