"""BIO tags, and how a word's tag reaches the sub-tokens a WordPiece tokenizer cuts it into.

The silver NER data tags *words* (spaCy's tokens). The encoder reads *sub-tokens*:
``"Schwarzenegger"`` becomes ``schwarz ##ene ##gger``, and ``[CLS]`` / ``[SEP]``
are added around the sentence. A token head predicts one tag per sub-token, so
the word labels must be spread over the sub-tokens first::

    words     The    Rock   met   Schwarzenegger
    tags      O      B-PER  O     B-PER
    pieces    [CLS]  the  rock   met  schwarz ##ene ##gger  [SEP]
    word_ids  None   0    1      2    3       3     3       None
    labels    -100   0    1      0    1       -100  -100    -100

Only the first sub-token of a word carries the word's tag; the other pieces and
the special tokens get ``IGNORE_INDEX`` (-100), which ``F.cross_entropy`` skips.
Predictions come back the same way: the tag predicted at a word's first
sub-token is the word's tag (:func:`word_predictions`).
"""
from __future__ import annotations

from typing import Sequence

from ..data.registry import NER_ENTITY_TYPES, NER_TAGS
from ..errors import CourseError

IGNORE_INDEX = -100  # the label F.cross_entropy leaves out (its default ignore_index)
TAGS: tuple[str, ...] = NER_TAGS  # "O", "B-PER", "I-PER", ..., "I-MISC"
TAG_TO_ID: dict[str, int] = {tag: i for i, tag in enumerate(TAGS)}
ENTITY_TYPES: tuple[str, ...] = NER_ENTITY_TYPES


def tag_ids(tags: Sequence[str]) -> list[int]:
    """``["O", "B-PER"]`` -> ``[0, 1]``; an unknown tag is a clear error."""
    try:
        return [TAG_TO_ID[t] for t in tags]
    except KeyError as exc:
        raise CourseError(f"{exc.args[0]!r} is not a tag of this chapter.",
                          hint=f"the tags are: {', '.join(TAGS)}") from None


def align_labels(word_ids: Sequence[int | None], word_tags: Sequence[int]) -> list[int]:
    """One label per sub-token: the word's tag on its first sub-token, ``IGNORE_INDEX`` elsewhere.

    ``word_ids``: for each sub-token, the index of the word it came from, or
    ``None`` for a special token (what a fast tokenizer's ``encoding.word_ids()``
    returns). ``word_tags``: one tag id per word. Words cut off by truncation
    simply get no label.
    """
    labels = []
    previous = None
    for word in word_ids:
        if word is None:
            labels.append(IGNORE_INDEX)
        elif word != previous:
            if not 0 <= word < len(word_tags):
                raise CourseError(f"word id {word} has no tag: there are {len(word_tags)} word tags.")
            labels.append(int(word_tags[word]))
        else:
            labels.append(IGNORE_INDEX)
        previous = word
    return labels


def word_predictions(word_ids: Sequence[int | None], predicted: Sequence[int], num_words: int) -> list[str]:
    """The tag of each of ``num_words`` words: the one predicted at its first sub-token ("O" if cut off)."""
    tags = ["O"] * num_words
    seen = set()
    for position, word in enumerate(word_ids):
        if word is not None and word not in seen and word < num_words:
            seen.add(word)
            tags[word] = TAGS[int(predicted[position])]
    return tags
