"""Chapter 06's encoder-decoder with and without attention, trained alike and measured by input length.

::

    task = NumberWordsTask(Seq2SeqTaskConfig(max_digits=8))
    test = task.test_set(per_length=100)               # before training: its numbers are held out
    rows = compare_by_length(task, test, kinds=("none", "additive", "dot"), seeds=(0, 1, 2),
                             train_config=Seq2SeqTrainConfig(max_steps=400))
    table = summarize(rows)                            # mean and spread over seeds, per kind and length
    words, digits, weights = attention_map(model, task, "four hundred and two")  # weights [T, S]

Every kind gets the same task, the same batches (the seed fixes them), the same
number of optimizer steps and the same sizes; only the decoder's attention
differs (and with it the parameter count, which is reported). Importing this
module registers the attention kinds with chapter 06's ``Seq2SeqConfig(attention=...)``.

Shapes: S source words, T written digits (``<eos>`` included), H hidden size.
"""
from __future__ import annotations

import statistics
from dataclasses import replace
from typing import Mapping, Sequence

import torch

from ..errors import CourseError
from ..layers.rnn import count_parameters
from ..seq2seq.decoding import greedy_decode
from ..seq2seq.model import Seq2Seq, Seq2SeqConfig, register_attention
from ..seq2seq.task import NumberWordsTask, source_tokens
from ..seq2seq.train import Seq2SeqTrainConfig, default_model_config, evaluate_by_length, train_seq2seq
from .alignment import KINDS, make_attention


def _factory(kind: str):
    def build(config: Seq2SeqConfig):
        return make_attention(kind, config.hidden_size)
    return build


for _kind in KINDS[1:]:
    register_attention(_kind, _factory(_kind))


def compare_by_length(task: NumberWordsTask, test_set: Mapping[int, tuple[list[str], list[str]]],
                      kinds: Sequence[str] = ("none", "additive", "dot"), seeds: Sequence[int] = (0, 1, 2),
                      train_config: Seq2SeqTrainConfig | None = None, device="cpu", models: dict | None = None,
                      **model_overrides) -> list[dict]:
    """Train one model per (kind, seed) with the same budget; one row per (kind, seed, digits).

    A row: ``kind``, ``seed``, ``digits``, ``source_words``, ``exact``, ``token_acc``, ``parameters``, ``seconds``.
    ``models``: a dict that receives each trained model under ``(kind, seed)``.
    """
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise CourseError(f"unknown attention kind(s) {unknown}.", hint="choose among: " + ", ".join(KINDS))
    if not seeds:
        raise CourseError("compare_by_length needs at least one seed.")
    train_config = train_config or Seq2SeqTrainConfig(max_steps=400)
    rows = []
    for kind in kinds:
        for seed in seeds:
            model_config = default_model_config(task, attention=kind, **model_overrides)
            run = train_seq2seq(task, replace(train_config, seed=int(seed)), model_config, device=device)
            params = count_parameters(run.model)
            if models is not None:
                models[(kind, int(seed))] = run.model
            for row in evaluate_by_length(run.model, test_set, task):
                rows.append({"kind": kind, "seed": int(seed), **row, "parameters": params,
                             "seconds": round(run.seconds, 2)})
    return rows


def summarize(rows: Sequence[dict], metric: str = "exact") -> list[dict]:
    """Per (kind, digits): the mean of ``metric`` over seeds, its standard deviation, min and max, and n seeds."""
    groups: dict[tuple[str, int], list[float]] = {}
    for row in rows:
        groups.setdefault((row["kind"], row["digits"]), []).append(float(row[metric]))
    out = []
    for (kind, digits), values in groups.items():
        out.append({"kind": kind, "digits": digits, "mean": statistics.fmean(values),
                    "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                    "min": min(values), "max": max(values), "seeds": len(values)})
    return out


def attention_map(model: Seq2Seq, task: NumberWordsTask, source: str) -> tuple[list[str], list[str], torch.Tensor]:
    """Decode one source greedily: its words, the tokens written (``<eos>`` included), weights [T, S]."""
    if not model.has_attention:
        raise CourseError("this model has no attention to show.", hint="train it with attention='additive' or 'dot'")
    words = source_tokens(source)
    batch = task.batch([source], ["0"])
    device = next(model.parameters()).device
    result = greedy_decode(model, batch.src.to(device), batch.src_lengths.to(device),
                           max_len=task.config.max_digits + 2)
    weights = result.attention[0]                                    # [T, S]
    written = task.tgt_vocab.decode(result.tokens[0])
    if weights.shape[0] > len(written):
        written = [*written, "<eos>"]
    return words, list(written), weights
