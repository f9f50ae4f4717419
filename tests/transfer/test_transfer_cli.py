"""``textrnn-lab finetune`` and ``classify``: end to end on a tiny model, and one clear error per bad input."""
from __future__ import annotations

import pytest

from textrnn_lab.course.cli import main
from textrnn_lab.layers.pretrained import load_encoder, tiny_bert


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    """A small random BERT saved as a directory, with MiniLM's tokenizer: the command loads it as it would MiniLM."""
    path = tmp_path_factory.mktemp("tiny") / "encoder"
    tiny_bert(seed=0).save_pretrained(path)
    load_encoder()[0].save_pretrained(path)
    return path


def _write(tmp_path, name, rows, header="text,label"):
    path = tmp_path / name
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _toy_rows(n):
    rows = []
    for i in range(n):
        rows += [f"wonderful lovely great film {i},good", f"awful boring terrible mess {i},bad"]
    return rows


def test_finetune_then_classify(tmp_path, tiny_encoder, capsys):
    train = _write(tmp_path, "train.csv", _toy_rows(15))
    out = tmp_path / "model"
    code = main(["finetune", "--train", str(train), "--encoder", str(tiny_encoder), "--epochs", "8",
                 "--lr", "0.003", "--batch-size", "8", "--threads", "1", "--quiet", "--out", str(out)])
    printed = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert printed[-1].startswith("accuracy=")
    assert float(printed[-1].split("=")[1]) >= 0.8, printed
    assert any(line.startswith("macro_f1=") for line in printed)
    assert any("true \\ predicted" in line for line in printed)
    assert "testing on 6" in "\n".join(printed)                    # a stratified 20% of 30
    assert (out / "config.json").is_file() and (out / "labels.json").is_file()
    assert main(["classify", "--model", str(out), "wonderful lovely great film", "awful boring terrible mess"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["good", "bad"]
    assert all(0.5 <= float(line.split("\t")[1]) <= 1 for line in lines)


def test_finetune_with_a_test_file_and_other_columns(tmp_path, tiny_encoder, capsys):
    train = _write(tmp_path, "train.csv", _toy_rows(4), header="review,stars")
    test = _write(tmp_path, "test.csv", _toy_rows(2), header="review,stars")
    code = main(["finetune", "--train", str(train), "--test", str(test), "--text-column", "review",
                 "--label-column", "stars", "--encoder", str(tiny_encoder), "--epochs", "1", "--threads", "1",
                 "--quiet", "--out", str(tmp_path / "m")])
    printed = capsys.readouterr().out
    assert code == 0 and "testing on 4 (test file" in printed
    assert printed.strip().splitlines()[-1].startswith("accuracy=")


@pytest.mark.parametrize("rows, fragment", [
    (["a,x", "b,x", "c,x"], "two classes"),
    (["a,x", "b,x", "c,y"], "fewer than 2 examples: 'y' (1)"),
    (["a,x", ",y", "c,x", "d,y"], "empty text"),
    (["a,0.5", "b,1.5", "c,0.5", "d,1.5"], "decimal numbers"),
])
def test_bad_training_files(tmp_path, capsys, rows, fragment):
    code = main(["finetune", "--train", str(_write(tmp_path, "bad.csv", rows))])
    err = capsys.readouterr().err
    assert code != 0 and fragment in err and "Traceback" not in err, err


def test_missing_file_column_and_non_utf8(tmp_path, capsys):
    assert main(["finetune", "--train", str(tmp_path / "none.csv")]) != 0
    assert "does not exist" in capsys.readouterr().err
    path = _write(tmp_path, "cols.csv", ["a,x", "b,y"], header="review,label")
    assert main(["finetune", "--train", str(path)]) != 0
    assert "no column 'text'" in capsys.readouterr().err
    latin = tmp_path / "latin.csv"
    latin.write_bytes("text,label\ncaf\xe9,x\nna\xefve,y\n".encode("latin-1"))
    assert main(["finetune", "--train", str(latin)]) != 0
    assert "not valid UTF-8" in capsys.readouterr().err


def test_a_hub_name_offline_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TEXTRNN_LAB_ASSUME_OFFLINE", "1")
    train = _write(tmp_path, "train.csv", _toy_rows(3))
    assert main(["finetune", "--train", str(train), "--encoder", "distilbert-base-uncased"]) != 0
    err = capsys.readouterr().err
    assert "hub" in err and "all-MiniLM-L6-v2" in err and "Traceback" not in err


def test_classify_errors(tmp_path, capsys):
    assert main(["classify", "--model", str(tmp_path / "nothing"), "hello"]) != 0
    assert "does not exist" in capsys.readouterr().err
    assert main(["classify", "--model", str(tmp_path), "hello"]) != 0
    assert "labels.json" in capsys.readouterr().err
