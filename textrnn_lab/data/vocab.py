"""A character vocabulary that survives characters it has never seen.

Index 0 is always the *unknown symbol* (U+FFFD, the Unicode replacement
character): a character missing from the training text (an emoji in a prompt,
a letter of another alphabet) is encoded as 0 instead of raising a
``KeyError`` half-way through generation. The vocabulary is a plain list of
characters, so it is saved inside a checkpoint as ``to_dict()`` and rebuilt
with ``from_dict()``::

    vocab = CharVocab.from_text("hello world")
    ids = vocab.encode("hello?")          # LongTensor[6]; "?" -> 0 (unknown)
    vocab.decode(ids)                      # 'hello\ufffd'
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import torch

from ..errors import CourseError

UNK = "\ufffd"
FORMAT = "textrnn-lab char-vocab v1"


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
        if isinstance(ids, torch.Tensor):
            ids = ids.reshape(-1).tolist()
        n = len(self.itos)
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < n:
                raise CourseError(f"id {i} is outside this vocabulary of {n} symbols.")
            out.append(self.itos[i])
        return "".join(out)

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
