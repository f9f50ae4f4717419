"""Nearest neighbours by cosine similarity, and looking a word up the way each model can.

::

    idx, sim = cosine_top_k(query, matrix, k=5)   # query [E], matrix [N, E] -> LongTensor[5], FloatTensor[5]
    nearest_words(wv, wv["emma"], k=5, exclude={"emma"})   # [("harriet", 0.91), ...]
    lookup(w2v.wv, "elizabth")                     # word2vec: KeyError, with a message that says why
    rank_of(wv, vector, "elizabeth")               # 1 when "elizabeth" is the nearest word to vector

The cosine similarity of two vectors is their dot product divided by their
lengths: 1 for the same direction, 0 for orthogonal ones. Word vectors are
compared by direction because their length mostly tracks how frequent a word is.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import torch

from ..errors import CourseError


def unit_rows(matrix: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Each row divided by its L2 length (a zero row stays zero): ``[N, E] -> [N, E]``."""
    return matrix / matrix.norm(dim=-1, keepdim=True).clamp_min(eps)


def cosine_top_k(query: torch.Tensor, matrix: torch.Tensor, k: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` rows of ``matrix`` [N, E] most similar to ``query`` [E] by cosine, most similar first.

    Returns ``(indices LongTensor[k], similarities FloatTensor[k])``; ``k`` larger
    than N gives all N rows.
    """
    if not isinstance(query, torch.Tensor) or not isinstance(matrix, torch.Tensor):
        raise CourseError("cosine_top_k needs tensors: a query [E] and a matrix [N, E].")
    if query.dim() != 1 or matrix.dim() != 2 or matrix.shape[1] != query.shape[0]:
        raise CourseError(f"cosine_top_k needs a query [E] and a matrix [N, E], not {tuple(query.shape)} and "
                          f"{tuple(matrix.shape)}.")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise CourseError(f"k must be a whole number >= 1, not {k!r}.")
    sims = unit_rows(matrix.float()) @ unit_rows(query.float())  # [N]
    top = torch.topk(sims, min(k, sims.shape[0]))
    return top.indices, top.values


def _matrix(wv) -> torch.Tensor:
    return torch.from_numpy(wv.vectors)  # [N, E], shares gensim's memory


def nearest_words(wv, vector, k: int = 10, exclude: Iterable[str] = ()) -> list[tuple[str, float]]:
    """The ``k`` words of ``wv``'s vocabulary nearest to ``vector`` (cosine), as ``(word, similarity)`` pairs."""
    exclude = set(exclude)
    query = torch.as_tensor(vector, dtype=torch.float32)
    idx, sims = cosine_top_k(query, _matrix(wv), k + len(exclude))
    pairs = [(wv.index_to_key[i], float(s)) for i, s in zip(idx.tolist(), sims.tolist())
             if wv.index_to_key[i] not in exclude]
    return pairs[:k]


def rank_of(wv, vector, target: str, exclude: Iterable[str] = ()) -> int:
    """The rank (1 = nearest) of ``target`` among ``wv``'s words ordered by cosine similarity to ``vector``."""
    if target not in wv.key_to_index:
        raise CourseError(f"{target!r} is not in this model's vocabulary, so it has no rank.")
    matrix = unit_rows(_matrix(wv).float())
    sims = matrix @ unit_rows(torch.as_tensor(vector, dtype=torch.float32))  # [N]
    for word in exclude:
        if word in wv.key_to_index and word != target:
            sims[wv.key_to_index[word]] = -2.0
    return int((sims > sims[wv.key_to_index[target]]).sum()) + 1


def ranks_of(wv, vectors: torch.Tensor, targets: Sequence[str]) -> list[int]:
    """For each row of ``vectors`` [M, E], the rank (1 = nearest) of ``targets[m]`` among ``wv``'s words."""
    missing = [t for t in targets if t not in wv.key_to_index]
    if missing:
        raise CourseError(f"{missing[0]!r} is not in this model's vocabulary, so it has no rank.")
    vectors = torch.as_tensor(vectors, dtype=torch.float32)
    if vectors.dim() != 2 or vectors.shape[0] != len(targets):
        raise CourseError(f"ranks_of needs vectors [M, E] and M targets, not {tuple(vectors.shape)} and "
                          f"{len(targets)}.")
    sims = unit_rows(vectors) @ unit_rows(_matrix(wv).float()).T  # [M, N]
    index = torch.tensor([wv.key_to_index[t] for t in targets])  # [M]
    own = sims.gather(1, index[:, None])  # [M, 1]
    return ((sims > own).sum(dim=1) + 1).tolist()


def lookup(wv, word: str):
    """``wv[word]``, or a ``KeyError`` whose message says that the word is out of the vocabulary.

    word2vec and GloVe raise for every word they were not trained on; FastText
    answers any word with at least one character n-gram.
    """
    try:
        return wv[word]
    except KeyError:
        raise KeyError(f"{word!r} is out of the vocabulary of this model ({len(wv):,} words), "
                       "and a word2vec or GloVe model has no vector for a word it has not seen") from None


def in_vocabulary(wv, word: str) -> bool:
    """Whether ``word`` has a vector of its own in ``wv`` (FastText builds others from n-grams)."""
    return word in wv.key_to_index
