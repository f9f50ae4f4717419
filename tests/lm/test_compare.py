"""Verdicts over seeds: a difference only when at least 3 seeds agree and the mean clears twice its error."""
from __future__ import annotations

import pytest

from textrnn_lab.lm import CharLMConfig, CharLMTrainConfig, CharVocab
from textrnn_lab.lm.compare import mean_spread, paired_difference, train_seeds


def test_a_consistent_difference_names_the_winner_lower_is_better():
    diff = paired_difference([1.50, 1.52, 1.49], [1.40, 1.41, 1.40], "RNN", "GRU")
    assert diff.clear and diff.n == 3
    assert diff.verdict().startswith("GRU beat RNN by 0.100 ± ")
    assert diff.verdict(lower_is_better=False).startswith("RNN beat GRU")


@pytest.mark.parametrize("a, b", [
    ([1.50, 1.40, 1.45], [1.45, 1.45, 1.45]),   # the seeds disagree in sign
    ([1.50, 1.60], [1.40, 1.50]),               # two seeds only
    ([1.40, 1.41, 1.60], [1.39, 1.40, 1.41]),   # all one sign, but the spread swamps the mean
])
def test_disagreeing_few_or_noisy_seeds_are_within_noise(a, b):
    diff = paired_difference(a, b, "x", "y")
    assert not diff.clear
    assert "within noise" in diff.verdict()


def test_mismatched_seed_counts_are_refused():
    with pytest.raises(ValueError):
        paired_difference([1.0, 2.0], [1.0], "a", "b")


def test_mean_spread_is_mean_and_sample_std():
    assert mean_spread([1.0, 2.0, 3.0]) == "2.000 ± 1.000"


def test_train_seeds_runs_each_seed_and_seeds_change_the_start():
    text = "the quick brown fox jumps over the lazy dog. " * 40
    vocab = CharVocab.from_text(text)
    config = CharLMTrainConfig(max_steps=3, max_seconds=None, evals=1, seq_len=16, batch_size=4, warmup_steps=1)
    runs = train_seeds(text, CharLMConfig(len(vocab), hidden_size=8, embed_dim=4), config, seeds=(0, 1),
                       vocab=vocab, device="cpu", progress=False)
    assert [r.config.seed for r in runs] == [0, 1] and all(r.steps == 3 for r in runs)
    assert runs[0].val.nats != runs[1].val.nats
