"""The challenge folder: ``training/`` and ``test/`` (one text file per example, named by its id) and
``training_labels.json`` (id -> label), built from a real labelled set; the test labels kept apart.

::

    paths = make_challenge("runs/challenge09", n_train=3000, n_test=1500, seed=0)
    paths.folder            # runs/challenge09/challenge: what a participant gets
    paths.held_labels       # runs/challenge09/organisers/test_labels.json: what they never see
    data = read_challenge(paths.folder)
    data.train_texts, data.train_labels, data.test_ids, data.test_texts

The examples are sentences of the shipped VADER ground truth (movie reviews,
New York Times editorials, tweets and Amazon reviews, each with a mean human
rating from -4 to +4); the label is the sign of the rating, ``negative`` or
``positive`` (the few neutral ones are left out). Ids are random, so an id says
nothing about the domain or the label. Everything is written under the folder
given, never into ``data/``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import CourseError
from ..runtime.files import atomic_write

TRAINING_DIR = "training"
TEST_DIR = "test"
TRAINING_LABELS = "training_labels.json"
HELD_LABELS = "test_labels.json"
LABELS = ("negative", "positive")
_LABELS_HINT = 'a labels file is JSON: {"id": "label", ...}'


@dataclass(frozen=True)
class ChallengePaths:
    """Where :func:`make_challenge` wrote things."""

    root: Path
    folder: Path        # root/challenge: training/, test/, training_labels.json
    held_labels: Path   # root/organisers/test_labels.json
    n_train: int
    n_test: int


@dataclass
class ChallengeData:
    """A challenge folder as read by :func:`read_challenge` (lists in the order of the ids, sorted)."""

    train_ids: list[str]
    train_texts: list[str]
    train_labels: list[str]
    test_ids: list[str]
    test_texts: list[str]
    label_names: list[str] = field(default_factory=list)

    def label_index(self, labels: Sequence[str] | None = None) -> list[int]:
        """Labels as class indices into :attr:`label_names`."""
        lookup = {name: i for i, name in enumerate(self.label_names)}
        return [lookup[label] for label in (self.train_labels if labels is None else labels)]


def _sample(n_train: int, n_test: int, seed: int, domains):
    from ..data import load_dataset

    frame = load_dataset("vader", domains=domains) if domains is not None else load_dataset("vader")
    frame = frame[frame["label"].isin(LABELS)]
    frame = frame[frame["text"].str.strip().str.len() > 0].reset_index(drop=True)
    need = n_train + n_test
    if need > len(frame):
        raise CourseError(f"asked for {n_train} + {n_test} examples, but only {len(frame)} are available.",
                          hint="ask for fewer, or use all four domains")
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(len(frame))[:need]
    return frame.iloc[chosen].reset_index(drop=True), rng


def make_challenge(root, *, n_train: int = 3000, n_test: int = 1500, seed: int = 0, domains=None) -> ChallengePaths:
    """Write a challenge under ``root`` from the VADER sentences; return its :class:`ChallengePaths`.

    ``root/challenge/`` gets ``training/<id>.txt``, ``test/<id>.txt`` and
    ``training_labels.json``; ``root/organisers/test_labels.json`` gets the
    test labels. An earlier challenge under ``root`` is replaced; the same one
    made again (same sizes and seed) leaves the files as they are.
    """
    for name, value in (("n_train", n_train), ("n_test", n_test)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise CourseError(f"{name} must be a whole number >= 1, not {value!r}.")
    root = Path(root)
    if (root / "data" / "MANIFEST.json").is_file():
        raise CourseError(f"{root} looks like the course repository itself.",
                          hint="give a run folder, for example runs/challenge09")
    frame, rng = _sample(int(n_train), int(n_test), int(seed), domains)
    ids = [f"{int(i):06d}" for i in rng.choice(1_000_000, size=len(frame), replace=False)]
    folder, organisers = root / "challenge", root / "organisers"
    split = {doc_id: (TRAINING_DIR if k < n_train else TEST_DIR) for k, doc_id in enumerate(ids)}
    for directory in (folder / TRAINING_DIR, folder / TEST_DIR):
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("*.txt"):  # files of an earlier, different challenge
            if split.get(old.stem) != directory.name:
                old.unlink(missing_ok=True)
    organisers.mkdir(parents=True, exist_ok=True)
    train_labels, test_labels = {}, {}
    for doc_id, text, label in zip(ids, frame["text"], frame["label"]):
        path = folder / split[doc_id] / f"{doc_id}.txt"
        content = text + "\n"
        # the same challenge made again (another run of the notebook) leaves its files as they are
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
        (train_labels if split[doc_id] == TRAINING_DIR else test_labels)[doc_id] = label
    atomic_write(folder / TRAINING_LABELS, json.dumps(dict(sorted(train_labels.items())), indent=1) + "\n")
    atomic_write(organisers / HELD_LABELS, json.dumps(dict(sorted(test_labels.items())), indent=1) + "\n")
    return ChallengePaths(root=root, folder=folder, held_labels=organisers / HELD_LABELS, n_train=int(n_train),
                          n_test=int(n_test))


def _read_texts(directory: Path) -> dict[str, str]:
    if not directory.is_dir():
        raise CourseError(f"the challenge folder has no {directory.name}/ folder ({directory}).",
                          hint=f"a challenge folder holds {TRAINING_DIR}/, {TEST_DIR}/ and {TRAINING_LABELS}")
    texts = {}
    for path in sorted(directory.glob("*.txt")):
        try:
            text = path.read_text(encoding="utf-8").strip()
        except UnicodeDecodeError:
            raise CourseError(f"{path} is not UTF-8 text.", hint="save the file as UTF-8") from None
        if not text:
            raise CourseError(f"{path} is empty.", hint="every example needs some text")
        texts[path.stem] = text
    if not texts:
        raise CourseError(f"{directory} holds no .txt file.")
    return texts


def read_labels_file(path) -> dict[str, str]:
    """A JSON object ``{id: label}`` with string ids and labels; one clear error otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CourseError(f"the labels file {path} does not exist.")
    try:
        labels = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise CourseError(f"{path} is not UTF-8 text.", hint=_LABELS_HINT) from None
    except json.JSONDecodeError as exc:
        raise CourseError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}).",
                          hint=_LABELS_HINT) from None
    if not isinstance(labels, dict) or not labels:
        raise CourseError(f"{path} must hold a non-empty JSON object {{id: label}}.")
    bad = [k for k, v in labels.items() if not isinstance(v, (str, int)) or isinstance(v, bool)]
    if bad:
        raise CourseError(f"{path}: the label of id {bad[0]!r} is not a string or a whole number.")
    return {str(k): str(v) for k, v in labels.items()}


def read_challenge(folder) -> ChallengeData:
    """Read a challenge folder (``training/``, ``test/``, ``training_labels.json``); ids sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CourseError(f"the challenge folder {folder} does not exist.",
                          hint="make one with make_challenge(run_folder) or `textrnn-lab challenge make`")
    train = _read_texts(folder / TRAINING_DIR)
    test = _read_texts(folder / TEST_DIR)
    labels = read_labels_file(folder / TRAINING_LABELS)
    unlabelled = sorted(set(train) - set(labels))
    if unlabelled:
        raise CourseError(f"{len(unlabelled)} training example(s) have no label in {TRAINING_LABELS} "
                          f"(the first: {unlabelled[0]!r}).")
    orphans = sorted(set(labels) - set(train))
    if orphans:
        raise CourseError(f"{TRAINING_LABELS} labels {len(orphans)} id(s) with no file in {TRAINING_DIR}/ "
                          f"(the first: {orphans[0]!r}).")
    both = sorted(set(train) & set(test))
    if both:
        raise CourseError(f"{len(both)} id(s) are both in {TRAINING_DIR}/ and {TEST_DIR}/ (the first: {both[0]!r}).")
    names = sorted(set(labels.values()))
    if len(names) < 2:
        raise CourseError(f"the training labels have a single class ({names[0]!r}); a classifier needs two.")
    train_ids, test_ids = sorted(train), sorted(test)
    return ChallengeData(train_ids=train_ids, train_texts=[train[i] for i in train_ids],
                         train_labels=[labels[i] for i in train_ids], test_ids=test_ids,
                         test_texts=[test[i] for i in test_ids], label_names=names)
