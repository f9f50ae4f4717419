"""Chapter 09: the challenge folder, the encoder fallback, the padding bug measured, submissions and scoring.

The model itself is tested in tests/transfer/test_encoder_rnn.py; here only what
chapter 09 adds. No test loads MiniLM's weights (a tiny random cache stands in).
"""
from __future__ import annotations

import json

import pytest
import torch

from textrnn_lab.bert_lstm import (
    SOURCE_ENCODER,
    SubmissionError,
    accuracy,
    flip_rate,
    load_challenge_encoder,
    macro_f1,
    make_challenge,
    padding_drift,
    per_class_scores,
    read_challenge,
    read_labels_file,
    read_submission,
    score_submission,
    shuffled_proba,
    train_readout,
    write_submission,
)
from textrnn_lab.bert_lstm import encoder as encoder_module
from textrnn_lab.errors import CourseError, HubUnavailable
from textrnn_lab.transfer.encoder_rnn import EncoderRNNConfig, EncoderRNNTrainConfig, RNNHead, TokenStates


@pytest.fixture(scope="module")
def challenge(tmp_path_factory):
    return make_challenge(tmp_path_factory.mktemp("run"), n_train=40, n_test=20, seed=3)


# --------------------------------------------------------------------------- the challenge folder


def test_make_challenge_writes_the_layout_and_keeps_the_test_labels_apart(challenge):
    folder = challenge.folder
    train = sorted(p.stem for p in (folder / "training").glob("*.txt"))
    test = sorted(p.stem for p in (folder / "test").glob("*.txt"))
    assert len(train) == 40 and len(test) == 20 and not set(train) & set(test)
    labels = json.loads((folder / "training_labels.json").read_text(encoding="utf-8"))
    assert sorted(labels) == train and set(labels.values()) <= {"negative", "positive"}
    held = json.loads(challenge.held_labels.read_text(encoding="utf-8"))
    assert sorted(held) == test
    assert challenge.held_labels.parent != folder and not (folder / "test_labels.json").exists()
    assert all(len(i) == 6 and i.isdigit() for i in train + test)  # ids say nothing about domain or label


def test_read_challenge_gives_texts_labels_and_class_indices(challenge):
    data = read_challenge(challenge.folder)
    assert len(data.train_texts) == 40 and len(data.test_texts) == 20
    assert data.label_names == ["negative", "positive"]
    assert data.label_index() == [data.label_names.index(v) for v in data.train_labels]
    first = (challenge.folder / "training" / f"{data.train_ids[0]}.txt").read_text(encoding="utf-8").strip()
    assert data.train_texts[0] == first


def test_the_same_challenge_again_is_the_same_and_another_replaces_it(tmp_path):
    first = make_challenge(tmp_path, n_train=10, n_test=5, seed=1)
    before = {p.name: p.read_text(encoding="utf-8") for p in first.folder.rglob("*.txt")}
    make_challenge(tmp_path, n_train=10, n_test=5, seed=1)
    assert {p.name: p.read_text(encoding="utf-8") for p in first.folder.rglob("*.txt")} == before
    other = make_challenge(tmp_path, n_train=6, n_test=3, seed=2)
    data = read_challenge(other.folder)
    assert len(data.train_ids) == 6 and len(data.test_ids) == 3


def test_make_challenge_refuses_bad_sizes_and_the_repository(tmp_path, repo_root):
    with pytest.raises(CourseError, match="n_train"):
        make_challenge(tmp_path, n_train=0)
    with pytest.raises(CourseError, match="available"):
        make_challenge(tmp_path, n_train=30_000, n_test=1)
    with pytest.raises(CourseError, match="repository"):
        make_challenge(repo_root, n_train=2, n_test=2)


def test_broken_challenge_folders_are_one_clear_error(tmp_path):
    with pytest.raises(CourseError, match="does not exist"):
        read_challenge(tmp_path / "nowhere")
    paths = make_challenge(tmp_path / "run", n_train=6, n_test=3, seed=0)
    labels_file = paths.folder / "training_labels.json"
    good = labels_file.read_text(encoding="utf-8")
    labels_file.write_text("{not json", encoding="utf-8")
    with pytest.raises(CourseError, match="not valid JSON"):
        read_challenge(paths.folder)
    labels = json.loads(good)
    labels.pop(sorted(labels)[0])
    labels_file.write_text(json.dumps(labels), encoding="utf-8")
    with pytest.raises(CourseError, match="no label"):
        read_challenge(paths.folder)
    labels_file.write_text(good, encoding="utf-8")
    victim = sorted((paths.folder / "test").glob("*.txt"))[0]
    victim.write_bytes(b"\xff\xfe bad bytes")
    with pytest.raises(CourseError, match="not UTF-8"):
        read_challenge(paths.folder)
    victim.write_text("   \n", encoding="utf-8")
    with pytest.raises(CourseError, match="empty"):
        read_challenge(paths.folder)


def test_read_labels_file_checks_its_shape(tmp_path):
    path = tmp_path / "labels.json"
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(CourseError, match="JSON object"):
        read_labels_file(path)
    path.write_text('{"a": [1]}', encoding="utf-8")
    with pytest.raises(CourseError, match="not a string"):
        read_labels_file(path)
    path.write_text('{"a": 1, "b": "x"}', encoding="utf-8")
    assert read_labels_file(path) == {"a": "1", "b": "x"}
    with pytest.raises(CourseError, match="does not exist"):
        read_labels_file(tmp_path / "missing.json")


# --------------------------------------------------------------------------- the encoder


def test_the_sources_encoder_falls_back_offline_and_says_so(monkeypatch):
    calls = []

    def fake_load(name=None, device="cpu"):
        calls.append(name)
        if name is not None:
            raise HubUnavailable(f"encoder {name!r} would come from the Hugging Face hub, which cannot be reached.")
        return "tokenizer", type("M", (), {"config": type("C", (), {"hidden_size": 384})()})()

    monkeypatch.setattr(encoder_module, "load_encoder", fake_load)
    chosen = load_challenge_encoder()
    assert calls == [SOURCE_ENCODER, None]
    assert "MiniLM" in chosen.name and SOURCE_ENCODER in chosen.note and "instead" in chosen.note
    assert chosen.hidden_size == 384 and chosen.prepare(["x"]) == ["x"]
    with pytest.raises(HubUnavailable):
        load_challenge_encoder(fallback=False)


def test_e5_gets_its_query_prefix(monkeypatch):
    model = type("M", (), {"config": type("C", (), {"hidden_size": 768})()})()
    monkeypatch.setattr(encoder_module, "load_encoder", lambda name=None, device="cpu": ("tok", model))
    chosen = load_challenge_encoder("intfloat/e5-base-v2")
    assert chosen.name == "intfloat/e5-base-v2" and chosen.prepare(["a film"]) == ["query: a film"]


# --------------------------------------------------------------------------- the bug, measured


def toy(n, seed=0, dim=4):
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 10, (n,), generator=gen)
    offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)])
    cache = TokenStates(torch.randn(int(lengths.sum()), dim, generator=gen), offsets)
    labels = torch.tensor([int(cache.text(i)[-1, 0] > 0) for i in range(n)])  # the last real token decides
    return cache, labels


def test_train_readout_the_fix_is_the_same_however_the_texts_are_batched():
    cache, y = toy(64)
    val, y_val = toy(40, seed=1)
    config = EncoderRNNConfig(hidden_size=8, dropout=0.0)
    train = EncoderRNNTrainConfig(max_steps=30, batch_size=16, lr=1e-2)
    fixed = train_readout("last", cache, y, val, y_val, seed=0, config=config, train_config=train)
    assert fixed.accuracy == fixed.accuracy_alone == fixed.accuracy_shuffled
    assert fixed.head.config.readout == "last" and len(fixed.history.steps) == 30
    assert set(fixed.row()) >= {"readout", "seed", "accuracy", "accuracy_alone", "accuracy_shuffled"}
    assert flip_rate(fixed.head, val, batch_size=8) == 0.0
    buggy = train_readout("final", cache, y, val, y_val, seed=0, config=config, train_config=train)
    assert buggy.head.config.readout == "final"


def test_padding_drift_is_flat_for_the_fix_and_moves_for_the_bug():
    torch.manual_seed(0)
    cache, _ = toy(6)
    head = RNNHead(EncoderRNNConfig(hidden_size=8, dropout=0.0), 4)
    fixed = padding_drift(head, cache, [0, 5, 20], readout="last")
    assert fixed.shape == (6, 3)
    assert torch.allclose(fixed, fixed[:, :1].expand(-1, 3), atol=1e-6)
    buggy = padding_drift(head, cache, [0, 5, 20], readout="final")
    assert torch.allclose(buggy[:, 0], fixed[:, 0], atol=1e-6)  # no padding: the two readouts agree
    assert float((buggy[:, 2] - buggy[:, 0]).abs().max()) > 1e-3
    with pytest.raises(CourseError):
        padding_drift(head, cache, [])


def test_shuffled_proba_returns_rows_in_the_cache_order():
    torch.manual_seed(0)
    cache, _ = toy(10)
    head = RNNHead(EncoderRNNConfig(hidden_size=4, dropout=0.0), 4)
    from textrnn_lab.transfer.encoder_rnn import predict_proba

    assert torch.allclose(shuffled_proba(head, cache, 3, seed=5), predict_proba(head, cache, batch_size=1), atol=1e-6)


# --------------------------------------------------------------------------- metrics


def test_macro_f1_and_accuracy_by_hand():
    y_true = ["p", "n", "p", "p", "n", "p"]
    y_pred = ["p", "p", "p", "n", "n", "p"]
    # p: tp 3, predicted 4, actual 4 -> f1 0.75; n: tp 1, predicted 2, actual 2 -> f1 0.5
    assert macro_f1(y_true, y_pred) == pytest.approx(0.625)
    assert accuracy(y_true, y_pred) == pytest.approx(4 / 6)
    assert macro_f1(["a", "a"], ["a", "b"]) == pytest.approx((2 / 3) / 2)  # b: predicted, never present
    scores = per_class_scores(["a", "b"], ["a", "a"])
    assert scores["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    with pytest.raises(CourseError):
        macro_f1(["a"], [])
    with pytest.raises(CourseError):
        accuracy([], [])


def test_macro_f1_agrees_with_scikit_learn():
    from sklearn.metrics import f1_score

    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        y_true = torch.randint(0, 4, (50,), generator=gen).tolist()
        y_pred = torch.randint(0, 4, (50,), generator=gen).tolist()
        assert macro_f1(y_true, y_pred) == pytest.approx(f1_score(y_true, y_pred, average="macro"))


# --------------------------------------------------------------------------- submissions


@pytest.fixture()
def held(tmp_path):
    path = tmp_path / "test_labels.json"
    path.write_text(json.dumps({"001": "positive", "002": "negative", "003": "positive"}), encoding="utf-8")
    return path


def test_a_good_submission_is_scored(tmp_path, held):
    path = write_submission(tmp_path / "sub.csv", ["003", "001", "002"], ["positive", "negative", "negative"])
    assert path.read_text(encoding="utf-8").splitlines()[0] == "id,label"
    score = score_submission(path, held)
    assert score.n == 3 and score.accuracy == pytest.approx(2 / 3)
    assert score.macro_f1 == pytest.approx(macro_f1(["positive", "negative", "positive"],
                                                    ["negative", "negative", "positive"]))
    assert "accuracy=0.6667" in score.line()


def write_rows(tmp_path, lines, name="sub.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes("\n".join(lines).encode(encoding) + b"\n")
    return path


@pytest.mark.parametrize("lines, words", [
    (["id,label", "001,positive", "002,negative"], "missing: '003'"),
    (["id,label", "001,positive", "002,negative", "003,positive", "003,negative"], "more than once: '003'"),
    (["id,label", "001,positive", "002,negative", "003,positive", "004,negative"], "not test ids: '004'"),
    (["id,label", "001,positive", "002,negative", "003,great"], "unknown label(s) 'great'"),
    (["doc,prediction", "001,positive", "002,negative", "003,positive"], "first line must be 'id,label'"),
    (["id,label", "001,positive,extra", "002,negative", "003,positive"], "expected 2 fields"),
    (["id,label", "001,", "002,negative", "003,positive"], "label is empty"),
    (["id,label"], "no rows"),
    (['{"001": "positive"}'], "JSON, not CSV"),
])
def test_a_malformed_submission_is_one_clear_error(tmp_path, held, lines, words):
    with pytest.raises(SubmissionError) as info:
        score_submission(write_rows(tmp_path, lines), held)
    assert words in info.value.message
    assert info.value.hint is None or "id,label" in info.value.hint or info.value.hint


def test_wrong_file_types_and_encodings(tmp_path, held):
    rows = ["id,label", "001,positive", "002,negative", "003,positive"]
    with pytest.raises(SubmissionError, match="not a .csv file"):
        score_submission(write_rows(tmp_path, rows, name="sub.json"), held)
    with pytest.raises(SubmissionError, match="not UTF-8"):
        score_submission(write_rows(tmp_path, ["id,label", "001,pösitive"], encoding="latin-1"), held)
    with pytest.raises(SubmissionError, match="does not exist"):
        score_submission(tmp_path / "none.csv", held)
    with pytest.raises(SubmissionError, match="empty"):
        score_submission(write_rows(tmp_path, [""]), held)
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + "\n".join(rows).encode() + b"\n")  # as a spreadsheet saves it
    assert score_submission(bom, held).accuracy == 1.0
    assert read_submission(bom) == {"001": "positive", "002": "negative", "003": "positive"}


def test_write_submission_refuses_what_could_not_be_scored(tmp_path):
    with pytest.raises(SubmissionError, match="ids but"):
        write_submission(tmp_path / "s.csv", ["1", "2"], ["a"])
    with pytest.raises(SubmissionError, match="more than once"):
        write_submission(tmp_path / "s.csv", ["1", "1"], ["a", "b"])
    path = write_submission(tmp_path / "s.csv", ["1", "2"], ["a, with comma", "b"])
    assert read_submission(path) == {"1": "a, with comma", "2": "b"}


# --------------------------------------------------------------------------- the command line


def run_cli(monkeypatch, capsys, *argv):
    from textrnn_lab.course import cli

    if "textrnn_lab.bert_lstm.cli" not in cli._PLUGINS:
        monkeypatch.setattr(cli, "_PLUGINS", cli._PLUGINS + ("textrnn_lab.bert_lstm.cli",))
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_challenge_make_and_score_from_the_command_line(tmp_path, monkeypatch, capsys):
    code, out, _ = run_cli(monkeypatch, capsys, "challenge", "make", "--out", str(tmp_path), "--train", "8",
                           "--test", "4")
    assert code == 0 and "challenge folder" in out
    data = read_challenge(tmp_path / "challenge")
    sub = write_submission(tmp_path / "sub.csv", data.test_ids, ["positive"] * 4)
    code, out, _ = run_cli(monkeypatch, capsys, "challenge", "score", str(sub), "--labels",
                           str(tmp_path / "organisers" / "test_labels.json"))
    assert code == 0
    last = out.strip().splitlines()[-1]
    assert last.startswith("accuracy=") and " macro_f1=" in last
    assert "precision" in out and "negative" in out


def test_a_malformed_submission_on_the_command_line_is_one_message(tmp_path, held, monkeypatch, capsys):
    sub = write_rows(tmp_path, ["id,label", "001,positive"])
    code, out, err = run_cli(monkeypatch, capsys, "challenge", "score", str(sub), "--labels", str(held))
    assert code == 1 and out == ""
    assert err.startswith("error: ") and "missing" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as info:
        run_cli(monkeypatch, capsys, "challenge", "score", str(sub))
    assert info.value.code == 2
