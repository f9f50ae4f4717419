"""A text to train a language model on, named the way a student would name it.

``load_corpus("austen")`` (or ``"mobydick"``) reads a shipped corpus, a path
reads any UTF-8 file, and a hub name such as ``"pushkin"`` loads a dataset from
the hub when one can be reached (offline: a clear error naming the shipped
alternatives).
"""
from __future__ import annotations

from pathlib import Path

from .hubdata import is_hub_name
from .loaders import load_dataset, load_text
from .registry import canonical_name
from .userfiles import read_text_file

SHIPPED_CORPORA = ("austen", "mobydick")


def load_corpus(name_or_path: str | Path) -> str:
    """The text of a shipped corpus, of a UTF-8 file, or of a hub dataset (its ``text`` column, joined by lines)."""
    name = str(name_or_path)
    if canonical_name(name) in SHIPPED_CORPORA:
        return load_text(name)
    if Path(name).expanduser().exists() or not is_hub_name(name):
        return read_text_file(name)
    data = load_dataset(name)
    split = data["train"] if hasattr(data, "keys") and "train" in data.keys() else data
    column = "text" if "text" in split.column_names else split.column_names[0]
    return "\n".join(str(t) for t in split[column])
