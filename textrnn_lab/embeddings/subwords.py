"""FastText's character n-grams, and the vector of a word it has never seen.

FastText writes a word between two markers, ``<`` and ``>``, so that a prefix
(``<un``) and a suffix (``ed>``) differ from the same letters inside a word,
and takes every substring of ``min_n`` to ``max_n`` characters of that::

    char_ngrams("where", 3, 4)
    # ['<wh', 'whe', 'her', 'ere', 're>', '<whe', 'wher', 'here', 'ere>']

(shortest first, left to right: gensim's order). Each n-gram is hashed into one
of ``bucket`` rows of a matrix ``vectors_ngrams``; a word *outside* the vocabulary
gets the mean of its n-grams' rows::

    table = ngram_table(model.wv, ["elizabth"])   # {n-gram: FloatTensor[E]}, read from gensim
    oov_vector("elizabth", table, 3, 6)           # == model.wv["elizabth"], up to float rounding

A word *inside* the vocabulary has a vector of its own, trained as well (gensim
stores it already combined with its n-grams, in ``wv.vectors``).
"""
from __future__ import annotations

from typing import Iterable, Mapping

import torch

from ..errors import CourseError

BOW, EOW = "<", ">"


def _check_range(min_n, max_n) -> None:
    for name, value in (("min_n", min_n), ("max_n", max_n)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CourseError(f"{name} must be a whole number >= 1, not {value!r}.")
    if min_n > max_n:
        raise CourseError(f"min_n ({min_n}) must not exceed max_n ({max_n}).")


def char_ngrams(word: str, min_n: int = 3, max_n: int = 6) -> list[str]:
    """The character n-grams of ``<word>``, ``min_n`` to ``max_n`` long, shortest first, left to right.

    The same list (repeats included) as ``gensim.models.fasttext.compute_ngrams``.
    """
    if not isinstance(word, str):
        raise CourseError(f"char_ngrams needs a word (str), not {type(word).__name__}.")
    _check_range(min_n, max_n)
    marked = BOW + word + EOW
    grams = []
    for n in range(min_n, min(len(marked), max_n) + 1):
        grams.extend(marked[i:i + n] for i in range(len(marked) - n + 1))
    return grams


def gensim_ngrams(word: str, min_n: int = 3, max_n: int = 6, bucket: int | None = None) -> list:
    """The n-grams gensim itself builds for ``word``; with ``bucket``, ``(n-gram, row)`` pairs.

    ``row`` is the n-gram's row in ``vectors_ngrams``: gensim's FastText hash of
    its UTF-8 bytes, modulo ``bucket`` (as ``ft_ngram_hashes`` computes it).
    """
    _check_range(min_n, max_n)
    from gensim.models.fasttext import compute_ngrams

    grams = list(compute_ngrams(word, min_n, max_n))
    if bucket is None:
        return grams
    return [(g, ngram_row(g, bucket)) for g in grams]


def ngram_row(ngram: str, bucket: int) -> int:
    """The row of ``vectors_ngrams`` that holds ``ngram``'s vector (gensim's hash, modulo ``bucket``)."""
    from gensim.models.fasttext_inner import ft_hash_bytes

    return int(ft_hash_bytes(ngram.encode("utf-8")) % bucket)


def ngram_table(wv, words: Iterable[str]) -> dict[str, torch.Tensor]:
    """``{n-gram: FloatTensor[E]}`` for every n-gram of ``words``, read from a FastText model's ``wv``.

    Two n-grams that hash to the same bucket get the same vector (a collision:
    FastText cannot tell them apart either).
    """
    if not hasattr(wv, "vectors_ngrams") or not getattr(wv, "bucket", 0):
        raise CourseError("this model has no n-gram vectors: it is not a FastText model.",
                          hint="pass model.wv of a gensim FastText model")
    if isinstance(words, str):
        words = [words]
    table: dict[str, torch.Tensor] = {}
    for word in words:
        for gram in char_ngrams(word, wv.min_n, wv.max_n):
            if gram not in table:
                table[gram] = torch.from_numpy(wv.vectors_ngrams[ngram_row(gram, wv.bucket)].copy())  # [E]
    return table


def oov_vector(word: str, table: Mapping[str, torch.Tensor], min_n: int = 3, max_n: int = 6) -> torch.Tensor:
    """The mean of the vectors of ``word``'s n-grams found in ``table`` (repeats counted), FloatTensor[E].

    A word none of whose n-grams is in the table gets the zero vector (gensim
    returns the origin too when a word yields no n-gram).
    """
    if not table:
        raise CourseError("the n-gram table is empty.", hint="build it with ngram_table(model.wv, words)")
    found = [table[g] for g in char_ngrams(word, min_n, max_n) if g in table]
    if not found:
        dim = next(iter(table.values())).shape[-1]
        return torch.zeros(dim)
    return torch.stack(found).float().mean(dim=0)  # [E]
