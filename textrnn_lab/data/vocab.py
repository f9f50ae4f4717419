"""Character and word vocabularies that survive symbols they have never seen.

Index 0 is always the *unknown symbol* (U+FFFD, the Unicode replacement
character): a character missing from the training text (an emoji in a prompt,
a letter of another alphabet) is encoded as 0 instead of raising a
``KeyError`` half-way through generation. The vocabulary is a plain list of
characters, so it is saved inside a checkpoint as ``to_dict()`` and rebuilt
with ``from_dict()``::

    vocab = CharVocab.from_text("hello world")
    ids = vocab.encode("hello?")          # LongTensor[6]; "?" -> 0 (unknown)
    vocab.decode(ids)                      # 'hello\ufffd'

A word vocabulary (:class:`WordVocab`, introduced in chapter 05) does the same
for words, with two reserved ids: 0 pads a batch of sentences of unequal
length, 1 stands for every word it has never seen (the out-of-vocabulary
words that chapter 05 is about)::

    words = WordVocab.from_texts(["The cat sat.", "The dog ran."])
    words.encode("the cat flew")           # LongTensor[3]: [the, cat, <unk>]
    ids, lengths = words.encode_batch(["the cat", "a dog ran"])  # [B, T], [B]
    words.oov_rate(["the bird flew"])      # 0.666..: two of three words unknown
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import torch

from ..errors import CourseError

UNK = "\ufffd"
FORMAT = "textrnn-lab char-vocab v1"
WORD_FORMAT = "textrnn-lab word-vocab v1"
PAD_WORD = "<pad>"
UNK_WORD = "<unk>"
_WORD = re.compile(r"[^\W_]+")


def _checked_ids(ids: torch.Tensor | Sequence[int], size: int, unit: str) -> list[int]:
    """``ids`` as a list of ints, each checked to be an id of a vocabulary of ``size`` (one clear error if not)."""
    if isinstance(ids, torch.Tensor):
        ids = ids.reshape(-1).tolist()
    checked = [int(i) for i in ids]
    for i in checked:
        if not 0 <= i < size:
            raise CourseError(f"id {i} is outside this vocabulary of {size} {unit}.")
    return checked


class CharVocab:
    """A mapping between characters and integer ids; id 0 is the unknown symbol.

    Attributes:
        itos: list of characters, ``itos[i]`` is the character with id ``i``
            (``itos[0] == UNK``).
        stoi: dict from character to id (without the unknown symbol's own entry
            for characters not in the list).
    """

    def __init__(self, chars: Iterable[str]):
        chars = list(chars)
        for ch in chars:
            if not isinstance(ch, str) or len(ch) != 1:
                raise CourseError(f"a character vocabulary holds single characters, not {ch!r}.")
        seen: list[str] = []
        for ch in chars:
            if ch != UNK and ch not in seen:
                seen.append(ch)
        self.itos: list[str] = [UNK] + seen
        self.stoi: dict[str, int] = {ch: i for i, ch in enumerate(self.itos)}
        # for vectorised encoding: code points sorted, and the id of each
        codes = np.array([ord(ch) for ch in self.itos], dtype=np.int64)
        order = np.argsort(codes)
        self._sorted_codes = codes[order]
        self._sorted_ids = order.astype(np.int64)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_text(cls, text: str, min_count: int = 1) -> "CharVocab":
        """Every character of ``text`` seen at least ``min_count`` times, sorted by code point.

        Rarer characters are left out, so they become the unknown symbol; the
        model then learns what to do with an unknown character from real data.
        """
        if not isinstance(text, str) or not text:
            raise CourseError("a vocabulary needs a non-empty text to be built from.")
        counts = Counter(text)
        return cls(sorted(ch for ch, n in counts.items() if n >= min_count))

    # ------------------------------------------------------------------ use
    @property
    def unk_id(self) -> int:
        return 0

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, ch: object) -> bool:
        return isinstance(ch, str) and ch in self.stoi and ch != UNK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharVocab) and other.itos == self.itos

    def __repr__(self) -> str:
        shown = "".join(self.itos[1:41]).replace("\n", "\\n")
        more = "..." if len(self) > 41 else ""
        return f"CharVocab({len(self)} symbols incl. unknown: {shown!r}{more})"

    def encode(self, text: str) -> torch.Tensor:
        """``text`` (str of length N) -> LongTensor[N] of ids; unseen characters -> 0."""
        if not text:
            return torch.zeros(0, dtype=torch.long)
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)
        pos = np.searchsorted(self._sorted_codes, codes)
        pos = np.minimum(pos, len(self._sorted_codes) - 1)
        found = self._sorted_codes[pos] == codes
        ids = np.where(found, self._sorted_ids[pos], 0)
        return torch.from_numpy(ids)

    def decode(self, ids: torch.Tensor | Sequence[int]) -> str:
        """LongTensor[N] (or a list of ints) -> str of length N; id 0 -> the unknown symbol."""
        return "".join(self.itos[i] for i in _checked_ids(ids, len(self.itos), "symbols"))

    def unknown_chars(self, text: str) -> list[str]:
        """The distinct characters of ``text`` this vocabulary does not know, in order of appearance."""
        return list(dict.fromkeys(ch for ch in text if ch not in self))

    # ------------------------------------------------------------------ saving
    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-friendly description (saved inside checkpoints)."""
        return {"format": FORMAT, "chars": "".join(self.itos[1:])}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CharVocab":
        if not isinstance(data, Mapping) or data.get("format") != FORMAT or not isinstance(data.get("chars"), str):
            raise CourseError("this is not a textrnn-lab character vocabulary.",
                              hint="the checkpoint was not written by textrnn_lab.lm; train a new one.")
        return cls(data["chars"])


# --------------------------------------------------------------------------- words (chapter 05)


def word_tokens(text: str) -> list[str]:
    """Lower-cased words of ``text``: runs of letters (accented ones too) and digits.

    Everything else separates words and is dropped, the apostrophe included
    (``"don't"`` -> ``["don", "t"]``, as GloVe's vocabulary splits it too). This
    is the one tokenizer the word vectors and word vocabularies of the course share.
    """
    if not isinstance(text, str):
        raise CourseError(f"word_tokens needs a str, not {type(text).__name__}.")
    return _WORD.findall(text.lower())


class WordVocab:
    """A mapping between words and integer ids; id 0 pads, id 1 is the unknown word.

    Attributes:
        itos: list of words, ``itos[i]`` is the word with id ``i``
            (``itos[0] == PAD_WORD``, ``itos[1] == UNK_WORD``).
        stoi: dict from word to id.
        counts: how often each kept word was seen when the vocabulary was built
            (empty when it was built from a plain list of words).
    """

    pad_id = 0
    unk_id = 1

    def __init__(self, words: Iterable[str], counts: Mapping[str, int] | None = None):
        kept: list[str] = []
        seen: set[str] = set()
        for word in words:
            if not isinstance(word, str) or not word or any(ch.isspace() for ch in word):
                raise CourseError(f"a word vocabulary holds non-empty words without spaces, not {word!r}.")
            if word not in seen and word not in (PAD_WORD, UNK_WORD):
                seen.add(word)
                kept.append(word)
        self.itos: list[str] = [PAD_WORD, UNK_WORD] + kept
        self.stoi: dict[str, int] = {w: i for i, w in enumerate(self.itos)}
        self.counts: dict[str, int] = {w: int(counts[w]) for w in kept if counts and w in counts}

    # ------------------------------------------------------------------ building
    @classmethod
    def from_texts(cls, texts: Iterable[str] | str, min_count: int = 1, max_size: int | None = None,
                   tokenize=word_tokens) -> "WordVocab":
        """The words of ``texts`` seen at least ``min_count`` times, most frequent first (ties alphabetical).

        ``max_size`` caps the number of real words (the two reserved ids come on
        top). Rarer words are left out, so they become the unknown word.
        """
        if isinstance(texts, str):
            texts = [texts]
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise CourseError(f"min_count must be a whole number >= 1, not {min_count!r}.")
        if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1):
            raise CourseError(f"max_size must be None or a whole number >= 1, not {max_size!r}.")
        counts: Counter = Counter()
        for text in texts:
            counts.update(tokenize(text))
        if not counts:
            raise CourseError("a word vocabulary needs texts with at least one word in them.")
        ranked = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        if max_size is not None:
            ranked = ranked[:max_size]
        if not ranked:
            raise CourseError(f"no word is seen {min_count} times or more.", hint="lower min_count")
        return cls(ranked, counts)

    # ------------------------------------------------------------------ use
    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and word in self.stoi and self.stoi[word] > self.unk_id

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WordVocab) and other.itos == self.itos

    def __repr__(self) -> str:
        shown = " ".join(self.itos[2:12])
        more = " ..." if len(self) > 12 else ""
        return f"WordVocab({len(self)} ids incl. <pad> and <unk>: {shown}{more})"

    @property
    def words(self) -> list[str]:
        """The real words, in id order (without ``<pad>`` and ``<unk>``)."""
        return self.itos[2:]

    def ids(self, words: Sequence[str]) -> list[int]:
        """Already tokenized ``words`` -> their ids; unknown words -> 1."""
        return [self.unk_id if w == PAD_WORD else self.stoi.get(w, self.unk_id) for w in words]

    def encode(self, text: str, tokenize=word_tokens) -> torch.Tensor:
        """``text`` -> LongTensor[N] of the ids of its N words; unknown words -> 1."""
        return torch.tensor(self.ids(tokenize(text)), dtype=torch.long)

    def encode_batch(self, texts: Sequence[str], max_len: int | None = None,
                     tokenize=word_tokens) -> tuple[torch.Tensor, torch.Tensor]:
        """``texts`` (B of them) -> ``(ids, lengths)``: LongTensor[B, T] padded with 0, LongTensor[B].

        T is the longest text's word count (capped at ``max_len``, which cuts the
        end off longer texts). An empty text gets length 0 and a row of padding.
        """
        if isinstance(texts, str):
            raise CourseError("encode_batch takes a list of texts; use encode() for one text.")
        if max_len is not None and (isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1):
            raise CourseError(f"max_len must be None or a whole number >= 1, not {max_len!r}.")
        rows = [self.ids(tokenize(t)) for t in texts]
        if max_len is not None:
            rows = [r[:max_len] for r in rows]
        lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)  # [B]
        width = max([len(r) for r in rows], default=0)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)  # [B, T]
        for i, row in enumerate(rows):
            if row:
                ids[i, :len(row)] = torch.tensor(row, dtype=torch.long)
        return ids, lengths

    def decode(self, ids: torch.Tensor | Sequence[int]) -> list[str]:
        """Ids -> words (padding dropped, unknown words as ``<unk>``)."""
        return [self.itos[i] for i in _checked_ids(ids, len(self.itos), "ids") if i != self.pad_id]

    def unknown_words(self, texts: Iterable[str] | str, tokenize=word_tokens) -> list[str]:
        """The distinct words of ``texts`` this vocabulary does not know, in order of appearance."""
        if isinstance(texts, str):
            texts = [texts]
        return list(dict.fromkeys(w for t in texts for w in tokenize(t) if w not in self))

    def oov_rate(self, texts: Iterable[str] | str, tokenize=word_tokens) -> float:
        """The share of word occurrences (tokens, not distinct words) in ``texts`` this vocabulary lacks."""
        if isinstance(texts, str):
            texts = [texts]
        total = unknown = 0
        for text in texts:
            for word in tokenize(text):
                total += 1
                unknown += word not in self
        if total == 0:
            raise CourseError("the texts hold no words, so they have no out-of-vocabulary rate.")
        return unknown / total

    # ------------------------------------------------------------------ saving
    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-friendly description (the real words, in id order)."""
        return {"format": WORD_FORMAT, "words": list(self.words)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "WordVocab":
        if not isinstance(data, Mapping) or data.get("format") != WORD_FORMAT or not isinstance(data.get("words"),
                                                                                                 list):
            raise CourseError("this is not a textrnn-lab word vocabulary.",
                              hint="build one with WordVocab.from_texts(texts)")
        return cls(data["words"])
