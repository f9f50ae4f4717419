"""The shipped datasets, their integrity checks, and the readers for students' own files."""
from __future__ import annotations

import gzip
import json
import shutil

import numpy as np
import pytest

from textrnn_lab.data import (
    AUSTEN_NOVELS,
    VADER_COLUMNS,
    available_datasets,
    describe_datasets,
    load_dataset,
    load_text,
    read_labelled_csv,
    read_text_file,
    registry,
    split_austen,
)
from textrnn_lab.errors import CourseError, DataError


@pytest.fixture()
def data_copy(tmp_path, monkeypatch, repo_root):
    """A private copy of data/, used through TEXTRNN_LAB_DATA."""
    target = tmp_path / "data"
    shutil.copytree(repo_root / "data", target)
    monkeypatch.setenv("TEXTRNN_LAB_DATA", str(target))
    return target


# --------------------------------------------------------------------------- shipped datasets


def test_available_and_described():
    assert available_datasets() == ["austen", "mobydick", "vader", "mnist", "ner"]
    rows = describe_datasets()
    assert [r["name"] for r in rows] == available_datasets()
    for row in rows:
        assert row["present"] and row["verified"], row
        assert row["problem"] is None
        assert row["description"] and row["licence"] and row["source"]


def test_manifest_matches_registry(repo_root):
    manifest = json.loads((repo_root / "data" / "MANIFEST.json").read_text())
    assert set(manifest) == set(available_datasets())
    for entry in manifest.values():
        path = repo_root / "data" / entry["file"]
        assert path.stat().st_size == entry["bytes"]
        for key in ("sha256", "source", "licence", "description"):
            assert entry[key]
    total = sum(entry["bytes"] for entry in manifest.values())
    assert total < 8_000_000


def test_austen():
    text = load_dataset("austen")
    assert isinstance(text, str)
    assert 3_900_000 < len(text) < 4_200_000
    assert "Pride and Prejudice\n===================\n" in text
    assert "It is a truth universally acknowledged" in text
    novels = split_austen(text)
    assert list(novels) == list(AUSTEN_NOVELS)
    pride = load_dataset("austen", novel="Pride and Prejudice")
    assert pride == novels["Pride and Prejudice"]
    assert pride.startswith("PRIDE AND PREJUDICE")
    assert "Emma Woodhouse" not in pride
    assert load_dataset("austen", novel="pride & prejudice") == pride
    assert load_dataset("austen", novel="prideprejudice", max_chars=50) == pride[:50]
    assert load_text("austen", max_chars=10) == text[:10]


def test_austen_bad_options():
    with pytest.raises(DataError, match="Persuasion"):
        load_dataset("austen", novel="Ulysses")
    with pytest.raises(DataError, match="max_chars"):
        load_dataset("austen", max_chars=0)


def test_mobydick():
    text = load_text("mobydick")
    assert 1_100_000 < len(text) < 1_300_000
    assert "Call me Ishmael." in text
    assert "\r" not in text and "\ufeff" not in text
    assert "*** START OF" not in text and "*** END OF" not in text
    assert load_dataset("moby_dick", max_chars=100) == text[:100]


def test_vader():
    frame = load_dataset("vader")
    assert list(frame.columns) == list(VADER_COLUMNS)
    assert len(frame) == 23_703
    assert frame["domain"].value_counts().to_dict() == {"movie": 10_605, "nyt": 5_190, "tweet": 4_200, "amazon": 3_708}
    assert frame["id"].is_unique
    assert frame["rating"].dtype == np.float64
    assert frame["rating"].between(-4, 4).all()
    expected = np.where(frame["rating"] > 0, "positive", np.where(frame["rating"] < 0, "negative", "neutral"))
    assert (frame["label"].to_numpy() == expected).all()
    assert set(frame["label"]) == {"positive", "negative", "neutral"}
    assert frame["text"].str.strip().str.len().gt(0).all()
    tweets = load_dataset("vader", domains="tweet")
    assert len(tweets) == 4_200 and set(tweets["domain"]) == {"tweet"}
    two = load_dataset("vader", domains=["movie", "NYT"])
    assert len(two) == 10_605 + 5_190
    with pytest.raises(DataError, match="amazon"):
        load_dataset("vader", domains=["reddit"])


def test_mnist():
    images, labels = load_dataset("mnist")
    assert isinstance(images, np.ndarray) and isinstance(labels, np.ndarray)
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (5000,) and labels.dtype == np.int64
    assert np.bincount(labels).tolist() == [500] * 10
    assert images.max() == 255 and images.min() == 0
    assert 0.05 < (images > 0).mean() < 0.4  # ink on a dark background, like real digits


def test_unknown_names_and_options():
    with pytest.raises(DataError) as info:
        load_dataset("shakespeare_sonnets")
    for name in available_datasets():
        assert name in str(info.value)
    with pytest.raises(DataError, match="does not take"):
        load_dataset("mnist", normalise=True)
    with pytest.raises(DataError, match="not a shipped text corpus"):
        load_text("mnist")
    with pytest.raises(DataError):
        load_dataset("")
    assert issubclass(DataError, CourseError)


# --------------------------------------------------------------------------- integrity


def test_corrupted_file_is_caught(data_copy):
    path = data_copy / "austen.txt.gz"
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    expected = json.loads((data_copy / "MANIFEST.json").read_text())["austen"]["sha256"]
    with pytest.raises(DataError) as info:
        load_dataset("austen")
    message = str(info.value)
    assert "austen.txt.gz" in message and "corrupted" in message
    assert expected[:12] in message
    assert "make data" in message
    # the other datasets in the same directory still load
    assert load_text("mobydick", max_chars=5)


def test_missing_file_is_named(data_copy):
    (data_copy / "mnist5k.npz").unlink()
    with pytest.raises(DataError) as info:
        load_dataset("mnist")
    message = str(info.value)
    assert "mnist5k.npz" in message and "missing" in message and "make data" in message
    rows = {r["name"]: r for r in describe_datasets()}
    assert not rows["mnist"]["present"] and rows["mnist"]["problem"]
    assert rows["vader"]["verified"]


def test_unreadable_gzip_with_matching_manifest(data_copy):
    path = data_copy / "mobydick.txt.gz"
    path.write_bytes(path.read_bytes()[:1000])  # truncated stream
    manifest = json.loads((data_copy / "MANIFEST.json").read_text())
    manifest["mobydick"]["sha256"] = registry.sha256_file(path)
    (data_copy / "MANIFEST.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="cannot be read") as info:
        load_text("mobydick")
    assert "make data" in str(info.value)


def test_missing_manifest(data_copy):
    (data_copy / "MANIFEST.json").unlink()
    with pytest.raises(DataError, match="MANIFEST.json") as info:
        load_dataset("vader")
    assert "make data" in str(info.value)


def test_verification_is_cached(data_copy, monkeypatch):
    calls = []
    real = registry.sha256_file

    def counting(path, *args, **kwargs):
        calls.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(registry, "sha256_file", counting)
    load_text("mobydick", max_chars=1)
    load_text("mobydick", max_chars=1)
    assert len(calls) == 1
    # a changed file (new size and mtime) is checked again, and caught
    path = data_copy / "mobydick.txt.gz"
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(DataError, match="corrupted"):
        load_text("mobydick")
    assert len(calls) == 2


def test_data_dir_override_does_not_leak(data_copy):
    assert describe_datasets()[0]["file"].startswith(str(data_copy))


# --------------------------------------------------------------------------- read_text_file


def test_read_text_file_ok(tmp_path):
    path = tmp_path / "poem.txt"
    path.write_bytes("\ufeffline one\r\nline two — ok\r\n".encode("utf-8"))
    assert read_text_file(path) == "line one\nline two — ok\n"
    assert read_text_file(str(path), min_chars=5).startswith("line one")


def test_read_text_file_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_text_file(tmp_path / "nope.txt")
    with pytest.raises(DataError, match="is a directory"):
        read_text_file(tmp_path)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        read_text_file(empty)
    blank = tmp_path / "blank.txt"
    blank.write_text("  \n\n ")
    with pytest.raises(DataError, match="whitespace"):
        read_text_file(blank)
    short = tmp_path / "short.txt"
    short.write_text("tiny text")
    with pytest.raises(DataError, match="too short") as info:
        read_text_file(short, min_chars=1000)
    assert "9 characters" in str(info.value)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Un café très noir\nencore".encode("latin-1"))
    with pytest.raises(DataError) as info:
        read_text_file(latin)
    message = str(info.value)
    assert "UTF-8" in message and "offset 6" in message and "0xe9" in message
    assert "iconv -f latin1 -t utf-8" in message


# --------------------------------------------------------------------------- read_labelled_csv


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_read_labelled_csv_ok(tmp_path):
    path = _write(tmp_path / "reviews.csv", 'text,label,extra\n"great, really",pos,1\nawful,neg,2\nfine,pos,3\n')
    frame = read_labelled_csv(path)
    assert list(frame.columns) == ["text", "label", "extra"]
    assert frame["text"].tolist() == ["great, really", "awful", "fine"]
    assert frame["label"].tolist() == ["pos", "neg", "pos"]
    tsv = _write(tmp_path / "reviews.tsv", "sentence\ty\nhello\t0\nbye\t1\n")
    frame = read_labelled_csv(tsv, text_column="sentence", label_column="y")
    assert frame["y"].tolist() == [0, 1]


def test_read_labelled_csv_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_labelled_csv(tmp_path / "missing.csv")
    cols = _write(tmp_path / "cols.csv", "review,stars\ngood,5\nbad,1\n")
    with pytest.raises(DataError) as info:
        read_labelled_csv(cols)
    message = str(info.value)
    assert "'text'" in message and "'review'" in message and "'stars'" in message
    header_only = _write(tmp_path / "header.csv", "text,label\n")
    with pytest.raises(DataError, match="no rows"):
        read_labelled_csv(header_only)
    with pytest.raises(DataError, match="empty"):
        read_labelled_csv(_write(tmp_path / "nothing.csv", ""))
    one_class = _write(tmp_path / "one.csv", "text,label\na,pos\nb,pos\n")
    with pytest.raises(DataError, match="two classes"):
        read_labelled_csv(one_class)
    holes = _write(tmp_path / "holes.csv", "text,label\na,pos\n,neg\nc,pos\n   ,neg\ne,neg\n")
    with pytest.raises(DataError) as info:
        read_labelled_csv(holes)
    message = str(info.value)
    assert "2 rows with an empty text" in message and "rows 2, 4" in message
    no_label = _write(tmp_path / "nolabel.csv", "text,label\na,pos\nb,\nc,neg\n")
    with pytest.raises(DataError, match=r"1 row with an empty label .*rows 2"):
        read_labelled_csv(no_label)
    many = _write(tmp_path / "many.csv", "text,label\n" + "".join(f",{i % 2}\n" for i in range(9)))
    with pytest.raises(DataError, match=r"9 rows with an empty text .*rows 1, 2, 3, 4, 5, \.\.\."):
        read_labelled_csv(many)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("text,label\ncafé,pos\nthé,neg\n".encode("latin-1"))
    with pytest.raises(DataError, match="iconv"):
        read_labelled_csv(latin)


def test_build_script_repairs_encodings(repo_root):
    """The rebuild script's line decoder: clean UTF-8 kept, cp1252 and mojibake repaired."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_data", repo_root / "scripts" / "build_data.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert build._decode_line("Château – fine".encode("utf-8")) == ("Château – fine", None)
    assert build._decode_line("café “quoted”".encode("cp1252")) == ("café “quoted”", "cp1252")
    assert build._decode_line("naïve".encode("utf-8").decode("cp1252").encode("utf-8")) == ("naïve", "mojibake")
    blob = build.gzip_bytes(b"same bytes")
    assert blob == build.gzip_bytes(b"same bytes") and gzip.decompress(blob) == b"same bytes"
