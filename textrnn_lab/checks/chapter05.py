"""Checks for chapter 05 (out-of-vocabulary words and FastText).

* ``05.char_ngrams``: ``f(word, min_n, max_n) -> list[str]``, FastText's n-grams of ``<word>``
  in gensim's order (shortest first, left to right, repeats kept);
* ``05.oov_vector``: ``f(word, table, min_n, max_n) -> FloatTensor[E]``, the mean of the vectors
  of the word's n-grams found in ``table`` (zeros when none is);
* ``05.cosine_top_k``: ``f(query, matrix, k) -> (LongTensor[k], FloatTensor[k])``, the rows of
  ``matrix`` nearest to ``query`` by cosine similarity, nearest first.

Failure messages quote the expected values and describe the student's by counts,
shapes and numbers only. The references are bound as default arguments when this
module is imported, so patching ``textrnn_lab.embeddings`` later changes nothing.
"""
from __future__ import annotations

import torch

from ..embeddings.neighbours import cosine_top_k as _ref_cosine_top_k
from ..embeddings.subwords import char_ngrams as _ref_char_ngrams
from ..embeddings.subwords import oov_vector as _ref_oov_vector
from . import CheckFailed, register
from .compare import expect_callable, expect_tensor, plain, type_name

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_WORDS = ("where", "a", "ab", "aaaa", "unhappiness", "café", "banana", "x", "elizabth", "naïve")
_RANGES = ((3, 6), (1, 3), (3, 6), (3, 3), (3, 6), (2, 4), (2, 2), (1, 1), (4, 5), (5, 9))


def _random_word(rng, alphabet: str = _LETTERS) -> str:
    length = int(rng.integers(1, 12))
    return "".join(alphabet[int(i)] for i in rng.integers(0, len(alphabet), size=length))


def _case_word(rng, case: int) -> tuple[str, int, int]:
    if case < len(_WORDS):
        return (_WORDS[case], *_RANGES[case])
    alphabet = "abc" if case % 3 == 0 else _LETTERS  # a small alphabet repeats n-grams
    min_n = int(rng.integers(1, 5))
    return _random_word(rng, alphabet), min_n, min_n + int(rng.integers(0, 4))


# --------------------------------------------------------------------------- n-grams


def _is_list_of_str(value) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


@register(
    "05.char_ngrams",
    hints={
        "markers": ("FastText writes the word between a start marker and an end marker before it cuts it into "
                    "pieces, so that a prefix and a suffix differ from the same letters inside the word",
                    "put the character < before the word and > after it, then take the substrings of the marked "
                    "word; the markers count as characters"),
        "order": ("you have the right n-grams in the wrong order: gensim lists all the shortest ones first",
                  "loop over the lengths from min_n up to max_n on the outside, and over the start positions, "
                  "left to right, on the inside"),
        "repeats": ("a word like 'aaaa' has the same n-gram at two positions: gensim lists it twice",
                    "collect the n-grams in a list as you meet them, without removing duplicates"),
        "*": ("an n-gram is a run of n consecutive characters of the marked word, for every length n from min_n "
              "to max_n",
              "for each length n in that range, slide a window of n characters over the marked word from the first "
              "position to the last one where it still fits; no length can exceed the marked word's length"),
    },
    cases=30,
    forbidden=("textrnn_lab.embeddings.subwords.char_ngrams", "textrnn_lab.embeddings.subwords.gensim_ngrams",
               "gensim.models.fasttext.compute_ngrams", "gensim.models.fasttext_inner.compute_ngrams",
               "gensim.models.fasttext.compute_ngrams_bytes", "gensim.models.fasttext_inner.compute_ngrams_bytes"),
)
def _check_char_ngrams(func, rng, cases, _reference=_ref_char_ngrams, _sorted=sorted):
    expect_callable(func, "char_ngrams(word, min_n, max_n)")
    for case in range(cases):
        word, min_n, max_n = _case_word(rng, case)
        expected = _reference(word, min_n, max_n)
        got = func(word, min_n, max_n)
        context = f"char_ngrams({word!r}, {min_n}, {max_n})"
        if not _is_list_of_str(got):
            raise CheckFailed(f"{context}: expected a list of str, got {type_name(got)}.", kind="type")
        got = list(got)
        if got == expected:
            continue
        unmarked = [g for n in range(min_n, max_n + 1) for g in (word[i:i + n] for i in range(len(word) - n + 1))]
        if expected and (got == unmarked or (got and not any(g.startswith("<") or g.endswith(">") for g in got))):
            raise CheckFailed(f"{context}: none of your n-grams carries a marker; expected {len(expected)} "
                              f"n-grams, the first {expected[0]!r}.", kind="markers")
        if _sorted(got) == _sorted(expected):
            first = next(i for i, (a, b) in enumerate(zip(got, expected)) if a != b)
            raise CheckFailed(f"{context}: the right n-grams in another order; at position {first} expected "
                              f"{expected[first]!r}.", kind="order")
        if len(set(expected)) < len(expected) and _sorted(set(got)) == _sorted(set(expected)):
            raise CheckFailed(f"{context}: expected {len(expected)} n-grams with repeats kept, got {len(got)}.",
                              kind="repeats")
        if len(got) != len(expected):
            start = f"; the expected list starts {expected[:3]!r}" if expected else ""
            raise CheckFailed(f"{context}: expected {len(expected)} n-grams, got {len(got)}{start}.", kind="values")
        first = next(i for i, (a, b) in enumerate(zip(got, expected)) if a != b)
        raise CheckFailed(f"{context}: at position {first} expected {expected[first]!r}.", kind="values")


# --------------------------------------------------------------------------- an unseen word's vector


def _table_for_case(rng, case: int, word: str, min_n: int, max_n: int) -> tuple[dict, int]:
    dim = int(rng.integers(2, 9))
    gen = torch.Generator().manual_seed(int(rng.integers(0, 2**31 - 1)))
    grams = list(dict.fromkeys(_ref_char_ngrams(word, min_n, max_n)))
    if case == 2:
        kept = []  # none of the word's n-grams is known: the zero vector
    elif case < 2 or case % 4 == 1:
        kept = grams  # every n-gram known, as in a FastText model (hashing finds a row for any n-gram)
    else:
        kept = [g for g in grams if rng.random() < 0.6] or grams[:1]
    others = ["<zq", "qzx", "zz>", "<qqq>"][: int(rng.integers(1, 5))]  # n-grams of other words
    table = {g: torch.randn(dim, generator=gen) for g in kept + [o for o in others if o not in grams]}
    return table, dim


@register(
    "05.oov_vector",
    hints={
        "shape": ("the result is one vector, as long as each vector of the table",
                  "average over the n-grams, not over the entries of a vector: the result keeps the last "
                  "dimension of the table's vectors"),
        "repeats": ("an n-gram that occurs twice in the word counts twice in FastText's average",
                    "average over the list of the word's n-grams as it comes, repeats included, keeping only those "
                    "the table holds"),
        "empty": ("a word whose n-grams are all unknown still gets a vector: the origin",
                  "when no n-gram of the word is in the table, return a float vector of zeros of the table's size"),
        "*": ("FastText builds an unseen word from its pieces: the word's vector is the average of the vectors of "
              "its character n-grams",
              "list the word's n-grams with the markers (your first exercise), keep the ones the table has a vector "
              "for, and take the mean of those vectors; n-grams the table lacks are left out of the count"),
    },
    cases=20,
    forbidden=("textrnn_lab.embeddings.subwords.oov_vector",),
)
def _check_oov_vector(func, rng, cases, _reference=_ref_oov_vector, _ngrams=_ref_char_ngrams):
    expect_callable(func, "oov_vector(word, table, min_n, max_n)")
    for case in range(cases):
        word = ("aaaa", "elizabth", "qwerty")[case] if case < 3 else _random_word(rng, "abc" if case % 3 else _LETTERS)
        min_n = 3 if case < 3 else int(rng.integers(1, 4))
        max_n = min_n + (3 if case < 3 else int(rng.integers(0, 3)))
        table, dim = _table_for_case(rng, case, word, min_n, max_n)
        expected = _reference(word, table, min_n, max_n)
        snapshot = {k: v.clone() for k, v in table.items()}
        got = func(word, table, min_n, max_n)
        context = f"oov_vector({word!r}, a table of {len(table)} vectors of size {dim}, {min_n}, {max_n})"
        if not isinstance(got, torch.Tensor):
            raise CheckFailed(f"{context}: expected a torch.Tensor, got {type_name(got)}.", kind="type")
        got = plain(got)
        if tuple(got.shape) != (dim,):
            raise CheckFailed(f"{context}: expected shape ({dim},), got {tuple(got.shape)}.", kind="shape")
        if set(table) != set(snapshot) or any(not torch.equal(plain(table[k]), snapshot[k]) for k in snapshot):
            raise CheckFailed(f"{context}: your function changed the table; read it only.")
        got = got.float()
        if not torch.allclose(got, expected, rtol=1e-5, atol=1e-6):
            found = [g for g in _ngrams(word, min_n, max_n) if g in table]
            unique = list(dict.fromkeys(found))
            if not found:
                raise CheckFailed(f"{context}: no n-gram of the word is in the table, so expected the zero vector.",
                                  kind="empty")
            if len(unique) < len(found) and torch.allclose(got, torch.stack([table[g] for g in unique]).mean(0),
                                                           rtol=1e-5, atol=1e-6):
                raise CheckFailed(f"{context}: the word has {len(found)} known n-grams counting repeats, "
                                  f"{len(unique)} without; the average counts the repeats.", kind="repeats")
            expect_tensor(got, expected, context=context, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- nearest neighbours


@register(
    "05.cosine_top_k",
    hints={
        "dot": ("you ranked the rows by their dot product with the query: a long vector then wins whatever its "
                "direction",
                "divide the query and every row by its Euclidean length before taking the dot products, so that "
                "only the angle counts"),
        "order": ("you found the right rows; return them nearest first",
                  "sort by similarity in decreasing order, and return the similarities in the same order as the "
                  "indices"),
        "shape": ("return k indices and their k similarities (all N rows when k is larger than N)",
                  "two one-dimensional tensors of the same length, the indices as integers (int64)"),
        "*": ("the cosine similarity of two vectors is their dot product divided by the product of their lengths: "
              "1 for the same direction",
              "compute the similarity of the query with every row at once (a matrix-vector product of length-"
              "normalised vectors), then keep the k largest, largest first, with their positions"),
    },
    cases=20,
    forbidden=("textrnn_lab.embeddings.neighbours.cosine_top_k", "textrnn_lab.embeddings.neighbours.nearest_words",
               "textrnn_lab.embeddings.neighbours.ranks_of", "textrnn_lab.embeddings.neighbours.rank_of"),
)
def _check_cosine_top_k(func, rng, cases, _reference=_ref_cosine_top_k):
    expect_callable(func, "cosine_top_k(query, matrix, k)")
    for case in range(cases):
        gen = torch.Generator().manual_seed(int(rng.integers(0, 2**31 - 1)))
        n, dim = int(rng.integers(3, 40)), int(rng.integers(2, 9))
        # rows of very different lengths, so that ranking by dot product and by cosine disagree
        matrix = torch.randn(n, dim, generator=gen) * torch.exp(2 * torch.randn(n, 1, generator=gen))  # [N, E]
        query = torch.randn(dim, generator=gen) * float(rng.choice([0.1, 1.0, 30.0]))  # [E]
        k = n + 3 if case == 1 else (1 if case == 2 else int(rng.integers(1, n + 1)))
        want_idx, want_sim = _reference(query, matrix, k)
        given_q, given_m = query.clone(), matrix.clone()
        got = func(given_q, given_m, k)
        context = f"cosine_top_k(query of shape ({dim},), matrix of shape ({n}, {dim}), k={k})"
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise CheckFailed(f"{context}: expected a pair (indices, similarities), got {type_name(got)}.",
                              kind="type")
        idx, sim = got
        if not isinstance(idx, torch.Tensor) or not isinstance(sim, torch.Tensor):
            raise CheckFailed(f"{context}: expected two tensors, got {type_name(idx)} and {type_name(sim)}.",
                              kind="type")
        idx, sim = plain(idx), plain(sim)
        if not torch.equal(given_q, query) or not torch.equal(given_m, matrix):
            raise CheckFailed(f"{context}: your function changed its inputs; work on copies.")
        if tuple(idx.shape) != tuple(want_idx.shape) or tuple(sim.shape) != tuple(want_sim.shape):
            raise CheckFailed(f"{context}: expected two tensors of shape {tuple(want_idx.shape)}, got "
                              f"{tuple(idx.shape)} and {tuple(sim.shape)}.", kind="shape")
        if idx.dtype != torch.long:
            raise CheckFailed(f"{context}: expected indices of dtype torch.int64, got {idx.dtype}.", kind="shape")
        if torch.equal(idx, want_idx):
            expect_tensor(sim.float(), want_sim, context=f"{context}, the similarities", rtol=1e-4, atol=1e-5)
            continue
        by_dot = torch.topk(matrix @ query, min(k, n)).indices
        if torch.equal(idx, by_dot):
            raise CheckFailed(f"{context}: your indices are those of the largest dot products; expected the "
                              f"largest cosine similarities, the first {int(want_idx[0])}.", kind="dot")
        if sorted(idx.tolist()) == sorted(want_idx.tolist()):
            raise CheckFailed(f"{context}: the right rows in another order; expected the nearest first, "
                              f"{int(want_idx[0])}.", kind="order")
        expect_tensor(idx, want_idx, context=f"{context}, the indices")
