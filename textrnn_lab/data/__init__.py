"""Named offline datasets, and readers for a student's own files.

Shipped in ``data/`` (rebuilt by ``make data``), each checked against the
sha256 recorded in ``data/MANIFEST.json`` whenever it is loaded:

======== =========================== ==========================================
name     returns                     options
======== =========================== ==========================================
austen   ``str`` (six novels)        ``novel="Emma"``, ``max_chars=N``
mobydick ``str``                     ``max_chars=N``
vader    ``DataFrame`` id, domain,   ``domains="tweet"`` or a list
         rating, label, text
mnist    ``(images, labels)``        --
ner      ``DataFrame`` id, domain,   ``domains="tweet"`` or a list
         rating, label, text, words,
         tags (silver BIO per word)
======== =========================== ==========================================

Hub names (``ag_news``, ``pushkin``, ``owner/name``) go to
``datasets.load_dataset`` only when the hub may be reachable, otherwise they
raise :class:`~textrnn_lab.errors.HubUnavailable` at once, naming the offline
dataset to use instead.

Modules, in reading order (introduced in chapter 00; the vocabulary in chapter 01):

* :mod:`.registry`: the shipped files, their sources, licences and checksums.
* :mod:`.loaders`: ``load_dataset(name)``, ``load_text``, the Austen novels one by one.
* :mod:`.userfiles`: a student's own UTF-8 text or labelled CSV, with clear errors.
* :mod:`.hubdata`: hub dataset names, and what to use offline instead.
* :mod:`.corpus`: ``load_corpus(name_or_path)``, a text to train a language model on.
* :mod:`.vocab`: ``CharVocab``, characters to ids and back, with an unknown symbol; ``WordVocab``
  (chapter 05), words to ids with padding and an unknown word.
"""
from __future__ import annotations

from .corpus import SHIPPED_CORPORA, load_corpus
from .hubdata import HUB_DATASETS, is_hub_name, known_hub_names, offline_alternative
from .loaders import austen_novels, load_dataset, load_text, split_austen
from .registry import (
    AUSTEN_NOVELS,
    DATASETS,
    MANIFEST_NAME,
    REBUILD_COMMAND,
    VADER_COLUMNS,
    VADER_DOMAINS,
    DatasetSpec,
    available_datasets,
    dataset_path,
    describe_datasets,
    read_manifest,
)
from .userfiles import read_labelled_csv, read_text_file

__all__ = [
    "AUSTEN_NOVELS",
    "DATASETS",
    "DatasetSpec",
    "HUB_DATASETS",
    "SHIPPED_CORPORA",
    "MANIFEST_NAME",
    "REBUILD_COMMAND",
    "VADER_COLUMNS",
    "VADER_DOMAINS",
    "austen_novels",
    "available_datasets",
    "dataset_path",
    "describe_datasets",
    "is_hub_name",
    "known_hub_names",
    "load_corpus",
    "load_dataset",
    "load_text",
    "offline_alternative",
    "read_labelled_csv",
    "read_manifest",
    "read_text_file",
    "split_austen",
]
