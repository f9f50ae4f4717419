"""Chapter 06's model with attention: the kinds are registered, a comparison trains every kind alike,
and an attention map has one row per written token over the real source words."""
from __future__ import annotations

import pytest
import torch

from textrnn_lab.attention import AdditiveAttention, DotProductAttention, attention_map, compare_by_length, summarize
from textrnn_lab.errors import CourseError
from textrnn_lab.seq2seq import (
    NumberWordsTask,
    Seq2Seq,
    Seq2SeqTaskConfig,
    Seq2SeqTrainConfig,
    default_model_config,
    train_seq2seq,
)


def test_the_kinds_are_registered_with_chapter_06():
    task = NumberWordsTask(Seq2SeqTaskConfig(max_digits=3))
    assert isinstance(Seq2Seq(default_model_config(task, attention="additive")).decoder.attention, AdditiveAttention)
    dot = Seq2Seq(default_model_config(task, attention="dot")).decoder.attention
    assert isinstance(dot, DotProductAttention) and dot.form == "dot"
    assert Seq2Seq(default_model_config(task, attention="general")).decoder.attention.form == "general"


def test_compare_and_summarize_and_attention_map():
    torch.set_num_threads(1)
    task = NumberWordsTask(Seq2SeqTaskConfig(max_digits=3))
    test = task.test_set(10)
    models = {}
    rows = compare_by_length(task, test, kinds=("none", "dot"), seeds=(0, 1),
                             train_config=Seq2SeqTrainConfig(max_steps=5, batch_size=16), hidden_size=16,
                             models=models)
    assert sorted(models) == [("dot", 0), ("dot", 1), ("none", 0), ("none", 1)]
    assert len(rows) == 2 * 2 * 3 and {r["kind"] for r in rows} == {"none", "dot"}
    none = {r["parameters"] for r in rows if r["kind"] == "none"}
    dot = {r["parameters"] for r in rows if r["kind"] == "dot"}
    assert len(none) == len(dot) == 1 and dot.pop() > none.pop()  # the context widens the decoder's layers
    table = summarize(rows)
    assert len(table) == 2 * 3 and all(t["seeds"] == 2 and t["min"] <= t["mean"] <= t["max"] for t in table)
    run = train_seq2seq(task, Seq2SeqTrainConfig(max_steps=3, batch_size=8),
                        default_model_config(task, attention="additive", hidden_size=16))
    words, written, weights = attention_map(run.model, task, "three hundred and five")
    assert words == ["three", "hundred", "and", "five"] and weights.shape == (len(written), 4)
    assert torch.allclose(weights.sum(-1), torch.ones(len(written)), atol=1e-5)
    with pytest.raises(CourseError, match="unknown attention kind"):
        compare_by_length(task, test, kinds=("cosine",))
    plain = train_seq2seq(task, Seq2SeqTrainConfig(max_steps=1, batch_size=8), default_model_config(task))
    with pytest.raises(CourseError, match="no attention"):
        attention_map(plain.model, task, "five")
