"""Transfer for generation: a character language model pre-trained on a large text, then fine-tuned on a small one.

::

    vocab = shared_vocab(big_text, small_text)                    # one alphabet for both texts
    pre = train_charlm(big_text, CharLMConfig(len(vocab)), config, vocab=vocab)   # chapter 01, on the big text
    tuned = continue_training(copy.deepcopy(pre.model), vocab, small_text, SmallTextConfig())
    fresh = continue_training(CharLM(CharLMConfig(len(vocab))), vocab, small_text, SmallTextConfig())
    tuned.history.per_eval("val_loss"), fresh.history.per_eval("val_loss")        # held-out loss vs steps

Both runs on the small text go through the same loop with the same settings, data and
held-out part; the only difference is where the weights start. Letters: B streams per
batch, T characters per window.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from ..data.vocab import CharVocab
from ..errors import CourseError
from ..lm.batching import StreamBatches, TBPTTStream, train_val_split
from ..lm.evaluation import CharLMScore, evaluate_charlm
from ..lm.loss import TBPTTLoss
from ..lm.model import CharLM
from ..training.config import TrainConfig
from ..training.loop import History, fit
from ..training.schedules import BudgetSchedule
from ..training.threads import tuned_on_cpu


def shared_vocab(*texts: str) -> CharVocab:
    """One character vocabulary for several texts, so a model trained on one can read the others."""
    return CharVocab.from_text("".join(texts))


@dataclass
class SmallTextConfig(TrainConfig):
    """Training on the small text: a step budget, evaluations for the curve, the window and the batch."""

    max_steps: int | None = 300
    eval_every: int | None = 25
    lr: float = 3e-3
    clip_grad_norm: float | None = 1.0
    seq_len: int = 64
    batch_size: int = 32
    warmup_steps: int = 20
    val_fraction: float = 0.1
    seed: int = 0


@dataclass
class SmallTextRun:
    """What :func:`continue_training` returns."""

    model: CharLM
    history: History
    val: CharLMScore
    seconds: float


def continue_training(model: CharLM, vocab: CharVocab, text: str, config: SmallTextConfig | None = None, *,
                      device="cpu", progress: bool = False) -> SmallTextRun:
    """Train ``model`` (pre-trained or new) on ``text``; the last ``val_fraction`` is held out and scored."""
    config = config or SmallTextConfig()
    if model.config.vocab_size != len(vocab):
        raise CourseError(f"the model reads {model.config.vocab_size} symbols, the vocabulary has {len(vocab)}.",
                          hint="build both from shared_vocab(...)")
    ids = vocab.encode(text)
    train_ids, val_ids = train_val_split(ids, config.val_fraction)
    if len(train_ids) < config.batch_size * (config.seq_len + 1) or len(val_ids) < config.seq_len + 2:
        raise CourseError(f"the text is too short ({len(text):,} characters) for {config.batch_size} streams of "
                          f"{config.seq_len} characters.", hint="use a longer text or a smaller batch_size/seq_len")
    torch.manual_seed(config.seed)
    stream = TBPTTStream(train_ids, config.batch_size, config.seq_len, seed=config.seed)
    val_batches = StreamBatches(val_ids, min(config.batch_size, 8), config.seq_len)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    warmup = min(config.warmup_steps, max(1, (config.max_steps or 10**9) // 10))
    schedule = BudgetSchedule(optimizer, max_steps=config.max_steps, max_seconds=config.max_seconds,
                              warmup_steps=warmup)
    batches = tuned_on_cpu(stream, device, period_seconds=2.0)   # one thread or all, as the step time says
    start = time.perf_counter()
    history = fit(model, batches, TBPTTLoss(), config, optimizer=optimizer, scheduler=schedule,
                  val_data=val_batches, device=device, progress=progress)
    seconds = time.perf_counter() - start
    val = evaluate_charlm(model, val_ids, batch_size=8, seq_len=256, device=device)
    return SmallTextRun(model.eval(), history, val, seconds)
