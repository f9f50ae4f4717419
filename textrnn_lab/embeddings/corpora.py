"""The shipped texts as word2vec wants them: a list of sentences, each a list of words.

Three corpora ship with the course or with gensim itself::

    sentences = corpus_sentences("austen")            # six novels, about 800k words
    sentences = training_sentences(["austen", "mobydick", "lee"])
    sentences[0]                                       # ['sense', 'and', 'sensibility']

``"lee"`` is gensim's own ``lee_background.cor`` (300 Australian news stories,
one per line), found through ``gensim.test.utils.datapath``. Words come from
:func:`textrnn_lab.data.vocab.word_tokens`, the course's one word tokenizer.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Sequence

from ..data.loaders import load_dataset
from ..data.vocab import word_tokens
from ..errors import CourseError, DataError

CORPORA = ("austen", "mobydick", "lee")
# A sentence ends at . ! ? ; : or at a blank line (a paragraph break).
_SENTENCE_END = re.compile(r"[.!?;:]+|\n\s*\n")


def split_sentences(text: str) -> list[list[str]]:
    """``text`` -> its sentences, each a list of lower-cased words; empty sentences are dropped."""
    if not isinstance(text, str):
        raise CourseError(f"split_sentences needs a str, not {type(text).__name__}.")
    return [words for words in (word_tokens(part) for part in _SENTENCE_END.split(text)) if words]


def lee_path() -> Path:
    """gensim's ``lee_background.cor`` (UTF-8, one news story per line)."""
    try:
        from gensim.test.utils import datapath
    except ImportError:
        raise CourseError("gensim is not installed, and the 'lee' corpus comes with it.",
                          hint="pip install gensim (4.4 or later)") from None
    path = Path(datapath("lee_background.cor"))
    if not path.is_file():
        raise DataError(f"gensim's test corpus {path} is missing.", hint="reinstall gensim")
    return path


def corpus_sentences(name: str, max_chars: int | None = None) -> list[list[str]]:
    """The sentences of one corpus: ``"austen"``, ``"mobydick"`` or ``"lee"`` (each story one sentence).

    ``max_chars`` keeps only the start of the text (for quick runs).
    """
    if name not in CORPORA:
        raise CourseError(f"unknown corpus {name!r}.", hint=f"choose from {', '.join(CORPORA)}")
    if max_chars is not None and (isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1):
        raise CourseError(f"max_chars must be None or a whole number >= 1, not {max_chars!r}.")
    if name == "lee":
        text = lee_path().read_text(encoding="utf-8")
        if max_chars is not None:
            text = text[:max_chars]
        return [words for words in (word_tokens(line) for line in text.splitlines()) if words]
    return split_sentences(load_dataset(name, max_chars=max_chars))


def training_sentences(names: Sequence[str] | str = CORPORA, max_chars: int | None = None) -> list[list[str]]:
    """The sentences of several corpora, one after the other (``max_chars`` applies to each)."""
    if isinstance(names, str):
        names = [names]
    if not names:
        raise CourseError("name at least one corpus.", hint=f"choose from {', '.join(CORPORA)}")
    sentences: list[list[str]] = []
    for name in names:
        sentences.extend(corpus_sentences(name, max_chars=max_chars))
    return sentences


def count_words(sentences: Iterable[Sequence[str]]) -> int:
    """The number of word occurrences (tokens) in ``sentences``."""
    return sum(len(s) for s in sentences)
