"""Training an encoder-decoder on the numbers task, and measuring it by length.

::

    run = train_seq2seq(NumberWordsTask(), Seq2SeqTrainConfig(max_steps=1500, teacher_forcing_ratio=1.0))
    rows = evaluate_by_length(run.model, run.task.test_set(200))   # one row per number of digits
    rows[0]                    # {'digits': 1, 'n': 200, 'source_words': 1.0, 'exact': 1.0, 'token_acc': 1.0}

The loss is the cross-entropy of every target token (digits and ``<eos>``),
padding left out. ``teacher_forcing_ratio`` decides what the decoder reads
*while training*: 1.0 the true previous token (teacher forcing), 0.0 its own
previous prediction (free running), in between a coin per sequence and step.
Validation and test always decode freely, as a model in use must.

Chapter 07 trains the same way with an attention module:
``train_seq2seq(task, config, attention=module)``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CourseError
from ..runtime.device import get_device
from ..runtime.seeding import seed_everything
from ..training.config import TrainConfig
from ..training.loop import History, fit
from ..training.threads import AdaptiveThreads
from .decoding import beam_search, greedy_decode
from .model import Seq2Seq, Seq2SeqConfig
from .task import NumberWordsTask, Seq2SeqBatch, source_tokens


@dataclass
class Seq2SeqTrainConfig(TrainConfig):
    """A training run: the shared budget fields plus the batch size, teacher forcing and the seed.

    ``threads``: CPU threads for PyTorch; ``"auto"`` measures one against all
    while training (small recurrent models are often faster on one thread of a busy machine).
    """

    max_steps: int | None = 1500
    lr: float = 3e-3
    clip_grad_norm: float | None = 1.0
    amp: bool | str = False
    batch_size: int = 64
    teacher_forcing_ratio: float = 1.0
    seed: int = 0
    threads: int | str = "auto"

    def __post_init__(self):
        super().__post_init__()
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise CourseError(f"batch_size must be a whole number >= 1, not {self.batch_size!r}.")
        if not 0.0 <= float(self.teacher_forcing_ratio) <= 1.0:
            raise CourseError(f"teacher_forcing_ratio is a probability in [0, 1], not {self.teacher_forcing_ratio!r}.")
        if self.threads != "auto" and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                       or self.threads < 1):
            raise CourseError(f"threads is 'auto' or a whole number >= 1, not {self.threads!r}.")


def sequence_loss(logits: torch.Tensor, tgt_out: torch.Tensor, tgt_mask: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Mean cross-entropy over real target tokens, and the share of them predicted right (``token_acc``).

    ``logits [B, T, V]``, ``tgt_out [B, T]``, ``tgt_mask [B, T]`` (True = real).
    """
    per_token = F.cross_entropy(logits.flatten(0, 1).float(), tgt_out.flatten(), reduction="none")  # [B*T]
    mask = tgt_mask.flatten().float()                                                                # [B*T]
    loss = (per_token * mask).sum() / mask.sum()
    right = (logits.argmax(dim=-1) == tgt_out).flatten().float()                                    # [B*T]
    return loss, {"token_acc": ((right * mask).sum() / mask.sum()).detach()}


def make_loss_fn(teacher_forcing_ratio: float = 1.0, seed: int = 0):
    """``loss_fn(model, batch)`` for ``fit``: ``teacher_forcing_ratio`` while training, teacher forcing in eval mode.

    (Validation loss is therefore always the teacher-forced loss; free-running
    accuracy is measured by :func:`evaluate_by_length`.)
    """
    generator = torch.Generator().manual_seed(int(seed) + 12_345)

    def loss_fn(model: nn.Module, batch: Seq2SeqBatch):
        ratio = teacher_forcing_ratio if model.training else 1.0
        logits = model(batch.src, batch.src_lengths, batch.tgt_in, teacher_forcing_ratio=ratio,
                       generator=generator)                                   # [B, T, V]
        return sequence_loss(logits, batch.tgt_out, batch.tgt_mask)

    return loss_fn


@dataclass
class Seq2SeqRun:
    """What :func:`train_seq2seq` made: the model (in eval mode), its history, the task, the seconds spent."""

    model: Seq2Seq
    history: History
    task: NumberWordsTask
    model_config: Seq2SeqConfig
    train_config: Seq2SeqTrainConfig
    seconds: float
    extra: dict = field(default_factory=dict)


def default_model_config(task: NumberWordsTask, **overrides) -> Seq2SeqConfig:
    """A :class:`Seq2SeqConfig` sized for ``task``'s vocabularies (fields overridable)."""
    tv = task.tgt_vocab
    return Seq2SeqConfig(src_vocab_size=len(task.src_vocab), tgt_vocab_size=len(tv), pad_id=tv.pad_id,
                         bos_id=tv.bos_id, eos_id=tv.eos_id, **overrides)


def train_seq2seq(task: NumberWordsTask, train_config: Seq2SeqTrainConfig | None = None,
                  model_config: Seq2SeqConfig | None = None, *, attention: nn.Module | None = None,
                  device: str | torch.device = "cpu", progress: bool = False,
                  val_data: list | None = None, **settings) -> Seq2SeqRun:
    """Train a :class:`Seq2Seq` on fresh batches of ``task`` with the shared ``fit`` (step budget).

    ``settings`` override fields of ``train_config`` (``max_steps=300``, ``teacher_forcing_ratio=0.0`` ...).
    The test set should be drawn (``task.test_set(...)``) *before* training so that its numbers are held out.
    The model is built after seeding with ``train_config.seed``, so a seed fixes the initial weights and the data.
    """
    from dataclasses import replace

    train_config = replace(train_config or Seq2SeqTrainConfig(), **settings)
    model_config = model_config or default_model_config(task)
    if model_config.src_vocab_size != len(task.src_vocab) or model_config.tgt_vocab_size != len(task.tgt_vocab):
        raise CourseError("the model's vocabulary sizes do not match the task's.",
                          hint="build the config with default_model_config(task, ...).")
    seed_everything(train_config.seed)
    model = Seq2Seq(model_config, attention=attention)
    device = get_device(device) if not isinstance(device, torch.device) else device
    start = time.perf_counter()
    base = {f: getattr(train_config, f) for f in TrainConfig.__dataclass_fields__}
    batches = task.batches(train_config.batch_size, seed=train_config.seed * 1_000_003 + 17)
    threads_before = torch.get_num_threads()
    if device.type == "cpu" and train_config.threads == "auto":
        batches = AdaptiveThreads().wrap(batches)
    elif device.type == "cpu":
        torch.set_num_threads(int(train_config.threads))
    try:
        history = fit(model, batches, make_loss_fn(train_config.teacher_forcing_ratio, train_config.seed),
                      TrainConfig(**base), val_data=val_data, device=device, progress=progress)
    finally:
        if device.type == "cpu" and train_config.threads != "auto":
            torch.set_num_threads(threads_before)
    model.eval()
    return Seq2SeqRun(model, history, task, model_config, train_config, time.perf_counter() - start)


def _token_accuracy(predicted: list[int], target: list[int]) -> float:
    """Share of target positions (``<eos>`` included) where the prediction has the same token."""
    return sum(1 for i, t in enumerate(target) if i < len(predicted) and predicted[i] == t) / len(target)


@torch.no_grad()
def predict(model: Seq2Seq, task: NumberWordsTask, sources: list[str], *, beam_size: int = 1,
            max_len: int | None = None, batch_size: int = 256, device: str | torch.device | None = None) -> list[str]:
    """Decode ``sources`` (numbers in words) to digit strings, greedily (``beam_size=1``) or by beam search."""
    if not sources:
        return []
    device = next(model.parameters()).device if device is None else get_device(device)
    max_len = max_len or task.config.max_digits + 2
    out: list[str] = []
    for i in range(0, len(sources), batch_size):
        chunk = sources[i:i + batch_size]
        batch = task.batch(chunk, ["0"] * len(chunk))
        src, lengths = batch.src.to(device), batch.src_lengths.to(device)
        result = (greedy_decode(model, src, lengths, max_len) if beam_size == 1
                  else beam_search(model, src, lengths, beam_size=beam_size, max_len=max_len))
        out += ["".join(task.tgt_vocab.decode(ids)) for ids in result.tokens]
    return out


@torch.no_grad()
def teacher_forced_accuracy(model: Seq2Seq, task: NumberWordsTask, sources: list[str], targets: list[str],
                            batch_size: int = 256) -> float:
    """Share of target tokens predicted right when the decoder is given the *true* previous tokens.

    Set beside the free-running token accuracy, the difference is what the
    model's own mistakes cost it once it has to read them back (exposure bias).
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    right = total = 0.0
    try:
        for i in range(0, len(sources), batch_size):
            batch = task.batch(sources[i:i + batch_size], targets[i:i + batch_size])
            logits = model(batch.src.to(device), batch.src_lengths.to(device), batch.tgt_in.to(device))  # [B, T, V]
            mask = batch.tgt_mask.to(device)
            right += float(((logits.argmax(-1) == batch.tgt_out.to(device)) & mask).sum())
            total += float(mask.sum())
    finally:
        model.train(was_training)
    return right / total


def evaluate_by_length(model: Seq2Seq, test_set: Mapping[int, tuple[list[str], list[str]]],
                       task: NumberWordsTask | None = None, *, beam_size: int = 1,
                       max_len: int | None = None, teacher_forced: bool = False) -> list[dict]:
    """Free-running accuracy per number of digits: exact match and per token (digits and ``<eos>``).

    Returns one row per length: ``digits``, ``n``, ``source_words`` (mean), ``exact``, ``token_acc``,
    and with ``teacher_forced`` also ``forced_token_acc`` (:func:`teacher_forced_accuracy`).
    """
    task = task or NumberWordsTask()
    rows = []
    for digits, (sources, targets) in sorted(test_set.items()):
        predicted = predict(model, task, sources, beam_size=beam_size, max_len=max_len)
        tok = [_token_accuracy(task.tgt_vocab.encode(list(p), eos=True), task.tgt_vocab.encode(list(t), eos=True))
               for p, t in zip(predicted, targets)]
        row = {
            "digits": int(digits), "n": len(sources),
            "source_words": sum(len(source_tokens(s)) for s in sources) / len(sources),
            "exact": sum(p == t for p, t in zip(predicted, targets)) / len(sources),
            "token_acc": sum(tok) / len(tok),
        }
        if teacher_forced:
            row["forced_token_acc"] = teacher_forced_accuracy(model, task, sources, targets)
        rows.append(row)
    return rows
