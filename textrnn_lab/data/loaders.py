"""Loading the shipped datasets by name: ``load_dataset("austen")`` and friends."""
from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zipfile
import zlib
from typing import Iterable

import numpy as np

from ..errors import DataError
from . import hubdata
from .registry import (
    AUSTEN_NOVELS,
    DATASETS,
    NER_COLUMNS,
    NER_TAGS,
    VADER_COLUMNS,
    VADER_DOMAINS,
    available_datasets,
    canonical_name,
    corrupted,
    dataset_path,
)


def _read_gzip_text(name: str) -> str:
    path = dataset_path(name)
    try:
        with gzip.open(path, "rb") as handle:
            raw = handle.read()
        return raw.decode("utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise corrupted(path, name, exc) from None


def _check_max_chars(max_chars) -> int | None:
    if max_chars is None:
        return None
    if isinstance(max_chars, bool) or not isinstance(max_chars, (int, np.integer)) or max_chars <= 0:
        raise DataError(f"max_chars must be a positive whole number or None, not {max_chars!r}.")
    return int(max_chars)


def _novel_key(title: str) -> str:
    text = title.lower().replace("&", "and")
    text = re.sub(r"[^a-z]", "", text)
    return text


_NOVEL_KEYS = {}
for _title in AUSTEN_NOVELS:
    _NOVEL_KEYS[_novel_key(_title)] = _title
    _NOVEL_KEYS[_novel_key(_title).replace("and", "")] = _title  # "prideprejudice", R's object names


def austen_novels() -> list[str]:
    """Titles accepted by ``load_dataset("austen", novel=...)``, in order of publication."""
    return list(AUSTEN_NOVELS)


def split_austen(text: str) -> dict[str, str]:
    """Split the full Austen text into ``{title: novel text}`` (headers removed)."""
    titles = "|".join(re.escape(t) for t in AUSTEN_NOVELS)
    pattern = re.compile(rf"^({titles})\n=+\n", re.MULTILINE)
    matches = list(pattern.finditer(text))
    novels: dict[str, str] = {}
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        novels[match.group(1)] = text[match.end():end].strip("\n") + "\n"
    return novels


def _load_austen(novel: str | None = None, max_chars: int | None = None) -> str:
    max_chars = _check_max_chars(max_chars)
    text = _read_gzip_text("austen")
    if novel is not None:
        title = _NOVEL_KEYS.get(_novel_key(str(novel)))
        if title is None:
            raise DataError(
                f"there is no Austen novel called {novel!r}.",
                hint="choose one of: " + ", ".join(AUSTEN_NOVELS),
            )
        novels = split_austen(text)
        if title not in novels:
            path = dataset_path("austen")
            raise corrupted(path, "austen", ValueError(f"the header of {title!r} was not found"))
        text = novels[title]
    return text[:max_chars] if max_chars else text


def _load_mobydick(max_chars: int | None = None) -> str:
    max_chars = _check_max_chars(max_chars)
    text = _read_gzip_text("mobydick")
    return text[:max_chars] if max_chars else text


def _normalise_domains(domains) -> list[str] | None:
    if domains is None:
        return None
    if isinstance(domains, str):
        domains = [domains]
    chosen = []
    for domain in domains:
        key = str(domain).strip().lower()
        if key not in VADER_DOMAINS:
            raise DataError(
                f"the VADER data has no domain {domain!r}.",
                hint="choose among: " + ", ".join(VADER_DOMAINS),
            )
        if key not in chosen:
            chosen.append(key)
    if not chosen:
        raise DataError("domains= is empty.", hint="choose among: " + ", ".join(VADER_DOMAINS))
    return chosen


def _load_vader(domains: str | Iterable[str] | None = None):
    import pandas as pd

    chosen = _normalise_domains(domains)
    path = dataset_path("vader")
    try:
        with gzip.open(path, "rb") as handle:
            raw = handle.read()
        frame = pd.read_csv(
            io.BytesIO(raw),
            sep="\t",
            quoting=csv.QUOTE_NONE,
            dtype={"id": str, "domain": str, "label": str, "text": str, "rating": "float64"},
            keep_default_na=False,
            na_values=[],
            encoding="utf-8",
        )
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        raise corrupted(path, "vader", exc) from None
    if tuple(frame.columns) != VADER_COLUMNS:
        raise corrupted(path, "vader", ValueError(f"unexpected columns {list(frame.columns)}"))
    if chosen is not None:
        frame = frame[frame["domain"].isin(chosen)].reset_index(drop=True)
    return frame


def _load_mnist():
    path = dataset_path("mnist")
    try:
        with np.load(path, allow_pickle=False) as archive:
            images = np.asarray(archive["images"], dtype=np.uint8)
            labels = np.asarray(archive["labels"], dtype=np.int64)
    except (OSError, KeyError, ValueError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
        raise corrupted(path, "mnist", exc) from None
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != (images.shape[0],):
        raise corrupted(path, "mnist", ValueError(f"shapes {images.shape} and {labels.shape}"))
    return images, labels


def _load_ner(domains: str | Iterable[str] | None = None):
    """The silver NER sentences (chapter 08) as a DataFrame; ``words`` and ``tags`` hold lists of strings."""
    import pandas as pd

    chosen = _normalise_domains(domains)
    path = dataset_path("ner")
    known = set(NER_TAGS)
    rows = []
    try:
        with gzip.open(path, "rb") as handle:
            for number, line in enumerate(handle.read().decode("utf-8").splitlines(), start=1):
                row = json.loads(line)
                if not isinstance(row, dict) or tuple(row) != NER_COLUMNS:
                    raise ValueError(f"line {number}: expected the keys {', '.join(NER_COLUMNS)}")
                words, tags = row["words"], row["tags"]
                if not words or len(words) != len(tags) or not known.issuperset(tags):
                    raise ValueError(f"line {number}: words and tags do not pair up (or a tag is not in {NER_TAGS})")
                rows.append(row)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise corrupted(path, "ner", exc) from None
    frame = pd.DataFrame(rows, columns=list(NER_COLUMNS))
    if chosen is not None:
        frame = frame[frame["domain"].isin(chosen)].reset_index(drop=True)
    return frame


_LOADERS = {
    "austen": _load_austen,
    "mobydick": _load_mobydick,
    "vader": _load_vader,
    "mnist": _load_mnist,
    "ner": _load_ner,
}


def load_dataset(name: str, **kwargs):
    """Load a dataset by name.

    Offline, shipped in ``data/`` and checked against ``data/MANIFEST.json``:

    * ``"austen"`` -> ``str``, the six novels; ``novel="Pride and Prejudice"``
      selects one (without its header), ``max_chars=N`` keeps the first N characters.
    * ``"mobydick"`` -> ``str``; ``max_chars=N`` as above.
    * ``"vader"`` -> ``pandas.DataFrame`` with columns ``id, domain, rating,
      label, text``; ``domains="tweet"`` or ``domains=["movie", "nyt"]`` filters.
    * ``"mnist"`` -> ``(images, labels)``: ``uint8 [N, 28, 28]`` and ``int64 [N]``.
    * ``"ner"`` -> ``pandas.DataFrame`` with columns ``id, domain, rating, label,
      text, words, tags``: VADER sentences that name an entity, with one silver BIO
      tag per word (``words`` and ``tags`` are lists); ``domains=`` as for vader.

    Hub names (``"ag_news"``, ``"pushkin"``, anything with a ``/``) are passed to
    ``datasets.load_dataset`` only when the hub may be reachable; offline they
    raise :class:`~textrnn_lab.errors.HubUnavailable` at once, naming the
    shipped dataset to use instead.
    """
    if not isinstance(name, str) or not name.strip():
        raise DataError(
            f"a dataset name must be a non-empty string, not {name!r}.",
            hint=f"the offline datasets are: {', '.join(available_datasets())}",
        )
    canonical = canonical_name(name)
    if canonical is None:
        if hubdata.is_hub_name(name):
            return hubdata.load_hub_dataset(name, **kwargs)
        raise DataError(
            f"unknown dataset {name!r}.",
            hint=(
                f"the offline datasets are: {', '.join(available_datasets())}; "
                f"hub names (need network): {', '.join(hubdata.known_hub_names())}, or any 'owner/name'"
            ),
        )
    spec = DATASETS[canonical]
    unknown = sorted(set(kwargs) - set(spec.options))
    if unknown:
        accepted = ", ".join(f"{o}=" for o in spec.options) or "no options"
        raise DataError(
            f"load_dataset({canonical!r}) does not take {', '.join(u + '=' for u in unknown)}.",
            hint=f"it accepts: {accepted}",
        )
    return _LOADERS[canonical](**kwargs)


def load_text(name: str, **kwargs) -> str:
    """A shipped text corpus as one string: ``"austen"`` or ``"mobydick"`` (same options)."""
    canonical = canonical_name(name) if isinstance(name, str) else None
    texts = [n for n, spec in DATASETS.items() if spec.kind == "text"]
    if canonical not in texts:
        raise DataError(
            f"{name!r} is not a shipped text corpus.",
            hint=(
                f"the text corpora are: {', '.join(texts)}; "
                "for a file of your own use textrnn_lab.data.read_text_file(path)"
            ),
        )
    return load_dataset(canonical, **kwargs)
