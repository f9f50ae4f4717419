"""A small token vocabulary with explicit padding, start and end symbols.

A sequence-to-sequence model needs three symbols a character or word list does
not have: *padding* (to stack sequences of different lengths into one tensor),
*begin* (the decoder's first input) and *end* (the decoder says it is done).
They take the first ids, always in this order::

    vocab = TokenVocab(["one", "two", "three"])
    vocab.pad_id, vocab.bos_id, vocab.eos_id, vocab.unk_id   # 0, 1, 2, 3
    vocab.encode(["two", "seven"])                           # [5, 3]: "seven" is unknown
    vocab.decode([5, 2, 0])                                  # ['two']: stops at the end symbol

Saved inside a checkpoint as ``to_dict()`` and rebuilt with ``from_dict()``.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import torch

from ..errors import CourseError

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
FORMAT = "textrnn-lab token-vocab v1"


class TokenVocab:
    """Tokens (strings) to ids and back; ids 0..3 are ``<pad>``, ``<bos>``, ``<eos>``, ``<unk>``."""

    pad_id, bos_id, eos_id, unk_id = 0, 1, 2, 3

    def __init__(self, tokens: Iterable[str]):
        seen: list[str] = []
        for tok in tokens:
            if not isinstance(tok, str) or not tok:
                raise CourseError(f"a token vocabulary holds non-empty strings, not {tok!r}.")
            if tok not in SPECIALS and tok not in seen:
                seen.append(tok)
        self.itos: list[str] = list(SPECIALS) + seen
        self.stoi: dict[str, int] = {tok: i for i, tok in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, tok: object) -> bool:
        return isinstance(tok, str) and tok in self.stoi and tok not in SPECIALS

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TokenVocab) and other.itos == self.itos

    def __repr__(self) -> str:
        shown = " ".join(self.itos[4:24])
        more = " ..." if len(self) > 24 else ""
        return f"TokenVocab({len(self)} tokens incl. 4 special: {shown}{more})"

    def encode(self, tokens: Sequence[str], *, bos: bool = False, eos: bool = False) -> list[int]:
        """Tokens -> ids (unknown tokens -> ``unk_id``), with ``<bos>`` before / ``<eos>`` after if asked."""
        ids = [self.stoi.get(tok, self.unk_id) for tok in tokens]
        return ([self.bos_id] if bos else []) + ids + ([self.eos_id] if eos else [])

    def decode(self, ids: "torch.Tensor | Sequence[int]", *, stop_at_eos: bool = True) -> list[str]:
        """Ids -> tokens, leaving out padding and ``<bos>``, stopping at the first ``<eos>`` (unless told not to)."""
        if isinstance(ids, torch.Tensor):
            ids = ids.reshape(-1).tolist()
        out: list[str] = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.itos):
                raise CourseError(f"id {i} is outside this vocabulary of {len(self.itos)} tokens.")
            if i == self.eos_id and stop_at_eos:
                break
            if i in (self.pad_id, self.bos_id):
                continue
            out.append(self.itos[i])
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "tokens": list(self.itos[len(SPECIALS):])}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TokenVocab":
        if not isinstance(data, Mapping) or data.get("format") != FORMAT or not isinstance(data.get("tokens"), list):
            raise CourseError("this is not a textrnn-lab token vocabulary.",
                              hint="the checkpoint was not written by textrnn_lab.seq2seq; train a new one.")
        return cls(data["tokens"])
