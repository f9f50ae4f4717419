"""One vector per word, or one per occurrence: a static vector against contextual token vectors.

::

    tokenizer, encoder = load_encoder()            # all-MiniLM-L6-v2, offline
    vectors = word_in_context(["We sat on the bank of the river.", "The bank lent him money."],
                              "bank", tokenizer, encoder)   # FloatTensor[2, 384]
    cosine_matrix(vectors)                         # [2, 2]: below 1 off the diagonal

A static model (word2vec, FastText, GloVe) gives "bank" the same vector in both
sentences, whatever they mean; an encoder gives each occurrence its own, computed
from the whole sentence. A word the encoder's vocabulary splits into several
word pieces gets the mean of their vectors.
"""
from __future__ import annotations

import re
from typing import Sequence

import torch

from ..errors import CourseError
from .neighbours import unit_rows


def cosine_matrix(vectors: torch.Tensor) -> torch.Tensor:
    """All pairwise cosine similarities of the rows of ``vectors`` [S, H] -> [S, S]."""
    units = unit_rows(torch.as_tensor(vectors, dtype=torch.float32))
    return units @ units.T


def _span(sentence: str, word: str) -> tuple[int, int]:
    match = re.search(rf"(?<![^\W_]){re.escape(word)}(?![^\W_])", sentence, flags=re.IGNORECASE)
    if match is None:
        raise CourseError(f"the word {word!r} does not occur in the sentence {sentence!r}.")
    return match.span()


def word_in_context(sentences: Sequence[str], word: str, tokenizer, model) -> torch.Tensor:
    """The encoder's vector of the first occurrence of ``word`` in each sentence: FloatTensor[S, H].

    The word's pieces are found from the tokenizer's character offsets, so a word
    split into several pieces is covered whole; their last-layer vectors are averaged.
    """
    if isinstance(sentences, str) or not sentences:
        raise CourseError("word_in_context needs a non-empty list of sentences.")
    spans = [_span(s, word) for s in sentences]
    batch = tokenizer(list(sentences), padding=True, return_offsets_mapping=True, return_tensors="pt")
    offsets = batch.pop("offset_mapping")  # [S, T, 2]
    device = next(model.parameters()).device
    encoder = getattr(model, "base_model", model)
    with torch.no_grad():
        states = encoder(**{k: v.to(device) for k, v in batch.items()}).last_hidden_state.float().cpu()  # [S, T, H]
    rows = []
    for i, (start, end) in enumerate(spans):
        inside = (offsets[i, :, 0] >= start) & (offsets[i, :, 1] <= end) & (offsets[i, :, 1] > offsets[i, :, 0])
        if not bool(inside.any()):
            raise CourseError(f"the tokenizer gave no piece for {word!r} in sentence {i}.")
        rows.append(states[i, inside].mean(dim=0))  # [H]
    return torch.stack(rows)  # [S, H]


def word_pieces(word: str, tokenizer) -> list[str]:
    """How the encoder's tokenizer splits ``word`` (``"bank"`` -> ``["bank"]``; rarer words into pieces)."""
    return list(tokenizer.tokenize(word))
