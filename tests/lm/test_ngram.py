"""The Kneser-Ney character baseline: a distribution, the formula, and a real gain over counting less."""
from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np
import pytest
import torch

from textrnn_lab.errors import CourseError
from textrnn_lab.lm.ngram import KneserNeyLM


def brute_force_kn(train: list[int], order: int, vocab: int):
    """The same interpolated Kneser-Ney, written with dictionaries, one n-gram at a time."""
    levels = {}
    for k in range(order, 0, -1):
        if k == order:
            counts = Counter(tuple(train[i:i + k]) for i in range(len(train) - k + 1))
        else:
            seen = {tuple(train[i:i + k + 1]) for i in range(len(train) - k)}
            counts = Counter(g[1:] for g in seen)
        n1 = sum(1 for c in counts.values() if c == 1)
        n2 = sum(1 for c in counts.values() if c == 2)
        d = min(max(n1 / (n1 + 2 * n2), 0.05), 0.95) if n1 else 0.5
        totals, types = defaultdict(float), defaultdict(int)
        for g, c in counts.items():
            totals[g[:-1]] += c
            types[g[:-1]] += 1
        levels[k] = (counts, totals, types, d)

    def prob(window: tuple[int, ...]) -> float:
        counts, totals, types, d = levels[1]
        total = sum(counts.values())
        p = max(counts.get(window[-1:], 0) - d, 0) / total + d * len(counts) / total / vocab
        for k in range(2, order + 1):
            counts, totals, types, d = levels[k]
            gram = window[-k:]
            h = gram[:-1]
            if totals.get(h, 0) > 0:
                p = (max(counts.get(gram, 0) - d, 0) + d * types[h] * p) / totals[h]
        return p

    return prob


@pytest.fixture(scope="module")
def text_ids():
    rng = np.random.default_rng(0)
    words = ["the ", "cat ", "sat ", "on ", "a ", "mat ", "and ", "then ", "ran "]
    text = "".join(rng.choice(words, size=400))
    alphabet = sorted(set(text))
    return [alphabet.index(c) for c in text], len(alphabet) + 1  # one symbol never seen


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_matches_the_formula_written_out(text_ids, order):
    ids, vocab = text_ids
    model = KneserNeyLM(order, vocab_size=vocab).fit(ids[:1200])
    reference = brute_force_kn(ids[:1200], order, vocab)
    val = ids[1200:1400]
    windows = np.array([val[i - order + 1:i + 1] for i in range(order - 1, len(val))])
    got = model._probabilities(windows)
    expected = [reference(tuple(w)) for w in windows.tolist()]
    assert np.allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("order", [1, 3, 5])
def test_next_probs_is_a_distribution_that_gives_every_symbol_some_mass(text_ids, order):
    ids, vocab = text_ids
    model = KneserNeyLM(order, vocab_size=vocab).fit(ids)
    for start in (0, 17, 500):
        probs = model.next_probs(torch.tensor(ids[start:start + order - 1]))
        assert probs.shape == (vocab,)
        assert math.isclose(float(probs.double().sum()), 1.0, rel_tol=1e-6)
        assert float(probs.min()) > 0  # the symbol never seen too
    unseen_context = torch.full((order - 1,), vocab - 1)
    assert math.isclose(float(model.next_probs(unseen_context).double().sum()), 1.0, rel_tol=1e-6)


def test_longer_contexts_beat_shorter_ones_on_real_text():
    from textrnn_lab.data import load_dataset
    from textrnn_lab.data.vocab import CharVocab

    text = load_dataset("austen", novel="Emma")[:300_000]
    vocab = CharVocab.from_text(text[:270_000])
    ids = vocab.encode(text)
    train, val = ids[:270_000], ids[270_000:]
    losses = {n: KneserNeyLM(n, vocab_size=len(vocab)).fit(train).mean_nll(val, history=train) for n in (1, 3, 5)}
    assert losses[5] < losses[3] < losses[1] < math.log(len(vocab))
    assert 1.0 < losses[5] < 2.2  # nats per character: far better than unigrams


def test_mean_nll_scores_the_first_characters_with_the_context_there_is(text_ids):
    ids, vocab = text_ids
    model = KneserNeyLM(3, vocab_size=vocab).fit(ids[:1200])
    with_history = model.mean_nll(ids[1200:1210], history=ids[:1200])
    without = model.mean_nll(ids[1200:1210])
    assert math.isfinite(with_history) and math.isfinite(without) and with_history != without


def test_clear_errors():
    with pytest.raises(CourseError, match="order"):
        KneserNeyLM(0)
    with pytest.raises(CourseError, match="more than"):
        KneserNeyLM(5).fit([1, 2, 3])
    with pytest.raises(CourseError, match="fit the model"):
        KneserNeyLM(2, vocab_size=4)._probabilities(np.zeros((1, 2), dtype=np.int64))
    model = KneserNeyLM(2, vocab_size=3).fit([0, 1, 2, 1, 0, 2])
    with pytest.raises(CourseError, match="same vocabulary"):
        model.mean_nll([5, 1])
    with pytest.raises(CourseError, match="no text"):
        model.mean_nll([])
