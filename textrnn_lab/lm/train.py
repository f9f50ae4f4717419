"""Training a character language model in one call, within a step or time budget.

::

    result = train_charlm(text, CharLMConfig(len(vocab), cell="gru"), CharLMTrainConfig(max_seconds=180),
                          vocab=vocab)
    result.val            # the score on all of the held-out text
    result.history        # fit's History: a row per step, a row per evaluation

The ``train-charlm`` command (:mod:`textrnn_lab.lm.cli`) calls it, and takes
its defaults from :class:`~textrnn_lab.lm.model.CharLMConfig` and
:class:`CharLMTrainConfig`: one set of defaults for the notebook, the function
and the command.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import torch

from ..data.vocab import CharVocab
from ..errors import CourseError
from ..runtime.device import get_device
from ..runtime.seeding import seed_everything
from ..training.loop import History, fit
from ..training.schedules import BudgetSchedule
from ..training.threads import AdaptiveThreads, probe_threads
from .batching import StreamBatches, TBPTTStream, train_val_split, with_unknown_inputs
from .checkpoint import charlm_extra, save_charlm
from .config import CharLMConfig, CharLMTrainConfig
from .evaluation import CharLMScore, bits_per_char, estimate_eval_seconds, evaluate_charlm
from .loss import TBPTTLoss
from .model import CharLM


def min_text_chars(seq_len: int, val_fraction: float = 0.1) -> int:
    """The shortest text that leaves one training window of ``seq_len + 1`` characters after the split."""
    return int(math.ceil((seq_len + 1) / (1.0 - val_fraction))) + 2


@dataclass
class TrainedCharLM:
    """What :func:`train_charlm` returns."""

    model: CharLM
    vocab: CharVocab
    history: History
    val: CharLMScore                 # on all of the held-out text
    steps: int
    seconds: float                   # training, without the final evaluation
    chars_per_second: float
    config: CharLMTrainConfig
    final_eval_seconds: float = 0.0
    thread_changes: list[tuple[int, int]] = field(default_factory=list)  # (step, threads) when tuned
    checkpoint: Path | None = None


def train_charlm(text: str, model_config: CharLMConfig | None = None, config: CharLMTrainConfig | None = None, *,
                 vocab: CharVocab | None = None, device: str | torch.device = "auto",
                 checkpoint: str | Path | None = None, progress: bool = True, source: str | None = None,
                 threads: int | str | None = None, log: Callable[[str], None] | None = None,
                 include_final_eval: bool = False) -> TrainedCharLM:
    """Train a character language model on ``text`` and score it on the held-out end of the text.

    ``model_config`` defaults to ``CharLMConfig(len(vocab))``; ``config`` to
    ``CharLMTrainConfig()``. The vocabulary is built from ``text`` unless given.
    The last ``val_fraction`` of the text is held out; the model is evaluated on
    part of it ``config.evals`` times during training (the learning curve) and
    on all of it at the end (``result.val``). The learning rate warms up, then
    decays to the end of the budget (:class:`~textrnn_lab.training.schedules.BudgetSchedule`).
    With ``checkpoint`` the weights, vocabulary and settings are saved there at
    every evaluation and at the end. ``threads``: CPU threads for PyTorch;
    ``"auto"`` measures one and all cores before training and keeps re-deciding
    while it trains (:mod:`textrnn_lab.training.threads`). ``log`` receives one
    line per evaluation. With ``include_final_eval``, ``max_seconds`` also
    covers the final evaluation (its duration is estimated before training).
    """
    entered = time.perf_counter()
    config = config or CharLMTrainConfig()
    device = get_device(device) if not isinstance(device, torch.device) else device
    seed_everything(config.seed)
    need = min_text_chars(config.seq_len, config.val_fraction)
    if len(text) < need:
        raise CourseError(
            f"the text is too short: {len(text):,} characters; one training window is {config.seq_len + 1} "
            f"characters and {config.val_fraction:.0%} is held out, so at least {need:,} are needed.",
            hint="use a longer text, or a shorter window (--seq-len).")
    vocab = vocab or CharVocab.from_text(text)
    model_config = model_config or CharLMConfig(len(vocab))
    if model_config.vocab_size != len(vocab):
        raise CourseError(f"the model is configured for {model_config.vocab_size} symbols but the vocabulary has "
                          f"{len(vocab)}.", hint="build the config as CharLMConfig(len(vocab), ...).")
    ids = vocab.encode(text)
    train_ids, val_ids = train_val_split(ids, config.val_fraction)
    model = CharLM(model_config).to(device)
    B, T = config.batch_size, config.seq_len

    stream = TBPTTStream(train_ids, B, T, seed=config.seed)
    # the learning curve uses up to ~64k held-out characters (quick); the final score uses all of them
    curve_ids = val_ids[: max(T + 2, 65536)]
    val_batches = StreamBatches(curve_ids, B, T, drop_last=len(curve_ids) > B * T)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                  betas=(0.9, 0.99))
    warmup = min(config.warmup_steps, max(1, (config.max_steps or 10**9) // 10))
    batches: Any = with_unknown_inputs(stream, config.unk_rate, vocab.unk_id, seed=config.seed)
    tuner = None
    if threads == "auto" and device.type == "cpu":
        probe_x, probe_y, _ = next(iter(StreamBatches(train_ids, B, min(T, 16))))
        probe_threads(model, (probe_x.to(device), probe_y.to(device)), TBPTTLoss())  # a starting point
        tuner = AdaptiveThreads()
        batches = tuner.wrap(batches)
    elif isinstance(threads, int) and not isinstance(threads, bool):
        torch.set_num_threads(threads)

    eval_seq = max(T, 256)
    if include_final_eval and config.max_seconds is not None:
        # keep back time for what follows the last training step: the last point of the learning
        # curve, the final evaluation on all held-out text, and saving
        reserve = estimate_eval_seconds(model, val_ids, B, eval_seq, device)
        reserve += estimate_eval_seconds(model, curve_ids, B, T, device)
        spent = time.perf_counter() - entered  # preparing the data, timing the threads
        config = replace(config, max_seconds=max(1.0, config.max_seconds - spent - reserve - 0.3))
    schedule = BudgetSchedule(optimizer, max_steps=config.max_steps, max_seconds=config.max_seconds,
                              warmup_steps=warmup)
    data_info = {"source": source, "train_chars": len(train_ids), "val_chars": len(val_ids)}
    extra = charlm_extra(model, vocab, train_config=config.to_dict(), data=data_info)

    def on_eval(row: dict, m: CharLM) -> dict:
        more = {"train_bpc": bits_per_char(row["train_loss"]) if "train_loss" in row else None,
                "val_bpc": bits_per_char(row["val_loss"]) if "val_loss" in row else None,
                "threads": torch.get_num_threads()}
        if log is not None and "val_loss" in row:
            log(f"step {row['step']}: train_loss={row.get('train_loss', float('nan')):.4f}, "
                f"val_loss={row['val_loss']:.4f} ({more['val_bpc']:.3f} bits/char), lr={row['lr']:.2e}, "
                f"{more['threads']} thread(s), {row['seconds']:.1f} s")
        return more

    started = time.perf_counter()
    history = fit(model, batches, TBPTTLoss(), config, optimizer=optimizer, scheduler=schedule,
                  val_data=val_batches, device=device, checkpoint=checkpoint, extra_state=extra,
                  on_eval=on_eval, progress=progress, log_every=10)
    seconds = time.perf_counter() - started
    steps = history.num_steps
    val = evaluate_charlm(model, val_ids, batch_size=B, seq_len=eval_seq, device=device)
    result = TrainedCharLM(model=model.eval(), vocab=vocab, history=history, val=val, steps=steps, seconds=seconds,
                           chars_per_second=steps * stream.batch_size * T / max(seconds, 1e-9), config=config,
                           final_eval_seconds=time.perf_counter() - started - seconds,
                           thread_changes=list(tuner.changes) if tuner is not None else [])
    if checkpoint is not None:
        result.checkpoint = save_charlm(checkpoint, model, vocab, history=history, train_config=config.to_dict(),
                                        data=data_info, steps=steps, seconds=seconds,
                                        val={"nats": val.nats, "bpc": val.bpc, "perplexity": val.perplexity})
    return result
