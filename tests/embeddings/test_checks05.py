"""Chapter 05's self-checks: the references pass, known-wrong answers fail with the hint for what went wrong,
an unfinished exercise is TODO, and no message quotes a string the student's code returned."""
from __future__ import annotations

import pytest
import torch

from textrnn_lab import checks
from textrnn_lab import embeddings as emb


@pytest.fixture(autouse=True)
def fresh_stages():
    checks._FAILURES.clear()
    yield
    checks._FAILURES.clear()


def _fails_with(name, func, kind_hint_fragment, message_fragment=""):
    result = checks.check(name, func, quiet=True, seed=0)
    assert result.status == "fail", result.line
    assert kind_hint_fragment in result.hint, result.line
    assert message_fragment in result.message, result.line
    return result


@pytest.mark.parametrize("name, reference", [("05.char_ngrams", emb.char_ngrams), ("05.oov_vector", emb.oov_vector),
                                             ("05.cosine_top_k", emb.cosine_top_k)])
def test_the_references_pass(name, reference):
    for seed in range(3):
        assert checks.check(name, reference, quiet=True, seed=seed).passed


def test_todo_is_todo():
    def todo(*args):
        raise NotImplementedError()

    for name in ("05.char_ngrams", "05.oov_vector", "05.cosine_top_k"):
        assert checks.check(name, todo, quiet=True).status == "todo"


# --------------------------------------------------------------------------- n-grams


def no_markers(word, min_n, max_n):
    return [word[i:i + n] for n in range(min_n, max_n + 1) for i in range(len(word) - n + 1)]


def by_position(word, min_n, max_n):
    marked = "<" + word + ">"
    return [marked[i:i + n] for i in range(len(marked)) for n in range(min_n, max_n + 1) if i + n <= len(marked)]


def no_repeats(word, min_n, max_n):
    return list(dict.fromkeys(emb.char_ngrams(word, min_n, max_n)))


def one_too_long(word, min_n, max_n):
    return emb.char_ngrams(word, min_n, max_n + 1)


def test_char_ngram_mistakes_get_their_own_hints():
    stages = checks.hint_stages("05.char_ngrams")
    first = _fails_with("05.char_ngrams", no_markers, "marker", "marker")
    assert first.hint == stages["markers"][0]
    second = checks.check("05.char_ngrams", no_markers, quiet=True, seed=0)
    assert second.hint == stages["markers"][1]
    _fails_with("05.char_ngrams", by_position, "shortest ones first", "another order")
    _fails_with("05.char_ngrams", no_repeats, "twice", "repeats kept")
    _fails_with("05.char_ngrams", one_too_long, "n-gram is a run", "expected 14 n-grams")


def test_char_ngram_messages_never_quote_what_the_student_returned():
    secret = "TOP-SECRET-LINE-OF-A-FILE"
    result = checks.check("05.char_ngrams", lambda w, a, b: [secret], quiet=True)
    assert result.status == "fail" and secret not in result.line
    assert checks.check("05.char_ngrams", lambda w, a, b: secret, quiet=True).status == "fail"


# --------------------------------------------------------------------------- unseen words


def dedup_mean(word, table, min_n, max_n):
    found = [g for g in dict.fromkeys(emb.char_ngrams(word, min_n, max_n)) if g in table]
    return torch.stack([table[g] for g in found]).mean(0) if found else torch.zeros(len(next(iter(table.values()))))


def nan_when_empty(word, table, min_n, max_n):
    found = [table[g] for g in emb.char_ngrams(word, min_n, max_n) if g in table]
    return torch.stack(found).mean(0) if found else torch.full((len(next(iter(table.values()))),), float("nan"))


def sum_not_mean(word, table, min_n, max_n):
    found = [table[g] for g in emb.char_ngrams(word, min_n, max_n) if g in table]
    return torch.stack(found).sum(0) if found else torch.zeros(len(next(iter(table.values()))))


def scalar_mean(word, table, min_n, max_n):
    return emb.oov_vector(word, table, min_n, max_n).mean()


def test_oov_vector_mistakes_get_their_own_hints():
    _fails_with("05.oov_vector", dedup_mean, "counts twice", "counting repeats")
    _fails_with("05.oov_vector", nan_when_empty, "origin", "zero vector")
    _fails_with("05.oov_vector", sum_not_mean, "average of the vectors")
    _fails_with("05.oov_vector", scalar_mean, "one vector", "shape")


def test_oov_vector_must_not_change_the_table():
    def mutates(word, table, min_n, max_n):
        out = emb.oov_vector(word, table, min_n, max_n)
        for value in table.values():
            value.zero_()
        return out

    assert "changed the table" in checks.check("05.oov_vector", mutates, quiet=True).message


# --------------------------------------------------------------------------- neighbours


def by_dot(query, matrix, k):
    top = torch.topk(matrix @ query, min(k, matrix.shape[0]))
    return top.indices, top.values


def farthest_first(query, matrix, k):
    idx, sims = emb.cosine_top_k(query, matrix, k)
    return idx.flip(0), sims.flip(0)


def indices_only(query, matrix, k):
    return emb.cosine_top_k(query, matrix, k)[0]


def test_cosine_top_k_mistakes_get_their_own_hints():
    _fails_with("05.cosine_top_k", by_dot, "dot product", "dot products")
    _fails_with("05.cosine_top_k", farthest_first, "nearest first", "another order")
    _fails_with("05.cosine_top_k", indices_only, "cosine similarity", "pair")


def test_cosine_top_k_must_not_change_its_inputs():
    def normalises_in_place(query, matrix, k):
        matrix /= matrix.norm(dim=1, keepdim=True)
        return emb.cosine_top_k(query, matrix, k)

    assert "changed its inputs" in checks.check("05.cosine_top_k", normalises_in_place, quiet=True).message


def test_forbidden_names_cover_the_references_and_gensim():
    assert "gensim.models.fasttext.compute_ngrams" in checks.forbidden_calls("05.char_ngrams")
    assert "textrnn_lab.embeddings.subwords.oov_vector" in checks.forbidden_calls("05.oov_vector")
    assert "textrnn_lab.embeddings.neighbours.cosine_top_k" in checks.forbidden_calls("05.cosine_top_k")
