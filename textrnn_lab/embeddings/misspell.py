"""Misspellings made by a seeded procedure, and how close each model puts them to the word meant.

::

    typos = make_misspellings(frequent_words(w2v.wv, 200), seed=0, known=w2v.wv.key_to_index)
    typos[0]            # Misspelling(typo='pleasrue', word='pleasure', edit='swap')
    spelling_candidates("pleasrue", counts)   # in-vocabulary words one edit away, most frequent first

Three edits, one per misspelling, at a position drawn at random: **swap** two
neighbouring letters, **drop** one, **double** one. A misspelling that happens
to be a real word of the vocabulary (``form`` -> ``from``) is drawn again, so
every misspelling is out of the vocabulary of the models it is tested on.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from ..errors import CourseError
from .neighbours import ranks_of

EDITS = ("swap", "drop", "double")
LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Misspelling:
    typo: str
    word: str
    edit: str


def misspell(word: str, rng: random.Random, edit: str | None = None) -> tuple[str, str]:
    """One misspelling of ``word`` and the edit that made it (``edit`` drawn from :data:`EDITS` if not given)."""
    if not isinstance(word, str) or len(word) < 3:
        raise CourseError(f"misspell needs a word of 3 letters or more, not {word!r}.")
    edit = edit or rng.choice(EDITS)
    if edit == "swap":
        places = [i for i in range(len(word) - 1) if word[i] != word[i + 1]]
        if not places:
            raise CourseError(f"{word!r} has no two different neighbouring letters to swap.")
        i = rng.choice(places)
        return word[:i] + word[i + 1] + word[i] + word[i + 2:], edit
    if edit == "drop":
        i = rng.randrange(len(word))
        return word[:i] + word[i + 1:], edit
    if edit == "double":
        i = rng.randrange(len(word))
        return word[:i + 1] + word[i:], edit
    raise CourseError(f"unknown edit {edit!r}.", hint=f"choose from {', '.join(EDITS)}")


def frequent_words(wv, n: int, min_len: int = 5, skip: int = 0) -> list[str]:
    """The ``n`` most frequent words of ``wv`` made of letters only and at least ``min_len`` long.

    gensim keeps its vocabulary sorted by frequency, most frequent first; ``skip``
    leaves out that many of the top ones first.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise CourseError(f"n must be a whole number >= 1, not {n!r}.")
    found = [w for w in wv.index_to_key if len(w) >= min_len and w.isalpha()]
    return found[skip:skip + n]


def make_misspellings(words: Sequence[str], seed: int = 0, known: Iterable[str] | Mapping = (),
                      tries: int = 20) -> list[Misspelling]:
    """One misspelling per word of ``words``, none of them in ``known``, reproducible from ``seed``.

    A word for which ``tries`` draws all land on known words (or on no change) is left out.
    """
    rng = random.Random(seed)
    known = known if isinstance(known, Mapping) else set(known)
    made: list[Misspelling] = []
    for word in words:
        for _ in range(tries):
            try:
                typo, edit = misspell(word, rng)
            except CourseError:
                continue
            if typo != word and typo not in known:
                made.append(Misspelling(typo, word, edit))
                break
    if not made:
        raise CourseError("no misspelling could be made out of vocabulary.",
                          hint="pass longer words, or a smaller set of known words")
    return made


def edits1(word: str, letters: str = LETTERS) -> set[str]:
    """Every string one edit from ``word``: a letter dropped, two neighbours swapped, replaced or inserted."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    dropped = {a + b[1:] for a, b in splits if b}
    swapped = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaced = {a + c + b[1:] for a, b in splits if b for c in letters}
    inserted = {a + c + b for a, b in splits for c in letters}
    return (dropped | swapped | replaced | inserted) - {word}


def spelling_candidates(typo: str, counts: Mapping[str, int]) -> list[str]:
    """The words of the vocabulary ``counts`` one edit away from ``typo``, most frequent first.

    This is what a word2vec model can fall back on for a misspelled word: correct
    the spelling against its own vocabulary, then use the corrected word's vector.
    """
    found = [w for w in edits1(typo) if w in counts]
    return sorted(found, key=lambda w: (-counts[w], w))


def evaluate_misspellings(typos: Sequence[Misspelling], fasttext_wv, word2vec_wv) -> list[dict]:
    """One row per misspelling: the rank (1 = nearest) of the word meant, for each way of handling it.

    * ``fasttext``: the typo's FastText vector (built from its n-grams), ranked
      against FastText's whole vocabulary;
    * ``w2v_spelling``: word2vec's best fallback, the spelling corrected to the most
      frequent word of its vocabulary one edit away; the rank is the word's place in
      that candidate list (``None`` when it is not one edit away);
    * ``w2v_unknown``: the other usual fallback, one shared vector for every unknown
      word (the mean of all vectors), ranked like FastText's.
    """
    import numpy as np

    if not typos:
        raise CourseError("there are no misspellings to evaluate.")
    words = [t.word for t in typos]
    for wv, name in ((fasttext_wv, "FastText"), (word2vec_wv, "word2vec")):
        known = [t.typo for t in typos if t.typo in wv.key_to_index]
        if known:
            raise CourseError(f"{known[0]!r} is in the {name} vocabulary, so it is not a misspelling to test.",
                              hint="make them with make_misspellings(..., known=<both vocabularies>)")
    fast = ranks_of(fasttext_wv, np.stack([fasttext_wv[t.typo] for t in typos]), words)
    unknown_vector = np.asarray(word2vec_wv.vectors, dtype=np.float64).mean(axis=0)
    unknown = ranks_of(word2vec_wv, np.tile(unknown_vector, (len(typos), 1)), words)
    counts = {w: word2vec_wv.get_vecattr(w, "count") for w in word2vec_wv.index_to_key}
    rows = []
    for typo, fast_rank, unknown_rank in zip(typos, fast, unknown):
        candidates = spelling_candidates(typo.typo, counts)
        spelled = candidates.index(typo.word) + 1 if typo.word in candidates else None
        rows.append({"typo": typo.typo, "word": typo.word, "edit": typo.edit, "fasttext": fast_rank,
                     "w2v_spelling": spelled, "w2v_unknown": unknown_rank,
                     "fasttext_nearest": nearest_label(fasttext_wv, fasttext_wv[typo.typo]),
                     "w2v_corrected": candidates[0] if candidates else None})
    return rows


def nearest_label(wv, vector) -> str:
    """The nearest vocabulary word to ``vector`` (a label for tables)."""
    from .neighbours import nearest_words

    return nearest_words(wv, vector, k=1)[0][0]


def summarise_ranks(rows: Sequence[Mapping], column: str, k: int = 10) -> dict:
    """``{"top1", "top_k", "median", "found"}`` of one rank column (a missing rank counts as a miss)."""
    import math

    ranks = [r[column] for r in rows]
    if not ranks:
        raise CourseError("there are no rows to summarise.")
    filled = sorted(math.inf if v is None else v for v in ranks)
    middle = len(filled) // 2
    median = filled[middle] if len(filled) % 2 else (filled[middle - 1] + filled[middle]) / 2
    return {"top1": sum(v == 1 for v in filled) / len(filled), "top_k": sum(v <= k for v in filled) / len(filled),
            "median": median, "found": sum(v is not None for v in ranks) / len(ranks), "n": len(ranks), "k": k}
