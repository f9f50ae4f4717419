"""Datasets from the Hugging Face hub, asked for only when the hub may be reachable.

Offline (an offline environment variable is set, or huggingface.co does not
answer within two seconds) a hub name raises
:class:`~textrnn_lab.errors.HubUnavailable` at once, naming the shipped dataset
that does the same job.
"""
from __future__ import annotations

import importlib
import warnings

from ..errors import DataError, HubUnavailable
from ..runtime.hub import hub_status
from ..runtime.quiet import quiet_environment

# short name -> (hub repository id, offline replacement, what it is used for)
HUB_DATASETS: dict[str, tuple[str, str, str]] = {
    "ag_news": ("fancyzhx/ag_news", "vader", "sentence classification"),
    "fancyzhx/ag_news": ("fancyzhx/ag_news", "vader", "sentence classification"),
    "imdb": ("stanfordnlp/imdb", "vader", "sentiment classification"),
    "stanfordnlp/imdb": ("stanfordnlp/imdb", "vader", "sentiment classification"),
    "sst2": ("stanfordnlp/sst2", "vader", "sentiment classification"),
    "stanfordnlp/sst2": ("stanfordnlp/sst2", "vader", "sentiment classification"),
    "pushkin": ("pushkin", "austen", "character-level text generation"),
    "tiny_shakespeare": ("karpathy/tiny_shakespeare", "austen", "character-level text generation"),
    "karpathy/tiny_shakespeare": ("karpathy/tiny_shakespeare", "austen", "character-level text generation"),
}

_GENERIC = ("vader", "sentence classification", "austen", "character-level text generation")


def known_hub_names() -> list[str]:
    return [name for name in HUB_DATASETS if "/" not in name]


def is_hub_name(name: str) -> bool:
    key = name.strip()
    return key.lower() in HUB_DATASETS or "/" in key


def offline_alternative(name: str) -> str:
    """A sentence naming the shipped dataset to use instead of hub dataset ``name``."""
    entry = HUB_DATASETS.get(name.strip().lower())
    if entry:
        _, local, task = entry
        return f'use the offline dataset load_dataset("{local}") for {task} instead'
    return (
        f'use an offline dataset instead: load_dataset("{_GENERIC[0]}") for {_GENERIC[1]}, '
        f'load_dataset("{_GENERIC[2]}") or load_dataset("mobydick") for {_GENERIC[3]}'
    )


def load_hub_dataset(name: str, **kwargs):
    """``datasets.load_dataset(repo_id, **kwargs)`` if the hub may be reachable, else HubUnavailable."""
    key = name.strip()
    repo_id = HUB_DATASETS.get(key.lower(), (key,))[0]
    reachable, reason = hub_status()
    if not reachable:
        raise HubUnavailable(
            f"dataset {name!r} lives on the Hugging Face hub, which cannot be reached here: {reason}.",
            hint=offline_alternative(key),
        )
    quiet_environment()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            datasets = importlib.import_module("datasets")
    except ImportError:
        raise DataError(
            f"dataset {name!r} needs the `datasets` package, which is not installed.",
            hint="pip install datasets, or " + offline_alternative(key),
        ) from None
    try:
        return datasets.load_dataset(repo_id, **kwargs)
    except Exception as exc:  # the hub's errors are many and version dependent
        raise DataError(
            f"could not load {repo_id!r} from the hub: {exc.__class__.__name__}: {exc}",
            hint=offline_alternative(key),
        ) from exc
