"""Chapter 01: the character language model, sampling, checkpoints, the CLI and the self-checks."""
from __future__ import annotations

import math
import subprocess
import sys
import time

import pytest
import torch

from textrnn_lab import checks
from textrnn_lab.data.vocab import UNK, CharVocab
from textrnn_lab.errors import CourseError
from textrnn_lab.layers.rnn import CELLS
from textrnn_lab.lm import (
    CharLM,
    CharLMConfig,
    CharLMTrainConfig,
    StreamBatches,
    TBPTTLoss,
    TBPTTStream,
    bits_per_char,
    evaluate_charlm,
    generate,
    input_target_pairs,
    load_charlm,
    next_char_probs,
    perplexity,
    random_windows,
    sample_next,
    save_charlm,
    train_charlm,
    train_val_split,
)
from textrnn_lab.lm.cells import gru_step
from textrnn_lab.training import fit
from textrnn_lab.training.schedules import BudgetSchedule
from textrnn_lab.training.threads import AdaptiveThreads

TEXT = ("It is a truth universally acknowledged, that a single man in possession of a good fortune, "
        "must be in want of a wife.\n") * 3


def tiny_model(vocab_size: int, cell: str = "lstm", attention: bool = False, **kw) -> CharLM:
    torch.manual_seed(0)
    return CharLM(CharLMConfig(vocab_size, cell=cell, embed_dim=8, hidden_size=16, attention=attention,
                               attn_window=kw.pop("attn_window", 6), attn_dim=8, **kw))


# ----------------------------------------------------------------------------- vocabulary


def test_vocab_round_trip_and_unknown_symbol():
    vocab = CharVocab.from_text(TEXT)
    ids = vocab.encode(TEXT)
    assert ids.dtype == torch.long and ids.shape == (len(TEXT),)
    assert vocab.decode(ids) == TEXT
    assert vocab.itos[0] == UNK and vocab.unk_id == 0 and 0 not in ids.tolist()
    unseen = vocab.encode("man? \u00e9\U0001F600")  # '?', an accented letter, an emoji: never seen
    assert unseen.tolist()[:3] == vocab.encode("man").tolist()
    assert unseen.tolist()[3] == 0 and unseen.tolist()[5:] == [0, 0]
    assert vocab.decode(unseen) == f"man{UNK} {UNK}{UNK}"
    assert vocab.unknown_chars("a?\u00e9?") == ["?", "\u00e9"]
    again = CharVocab.from_dict(vocab.to_dict())
    assert again == vocab and again.encode(TEXT).equal(ids)
    with pytest.raises(CourseError):
        CharVocab.from_dict({"chars": "abc"})
    with pytest.raises(CourseError):
        vocab.decode([len(vocab)])


def test_vocab_min_count_turns_rare_characters_into_the_unknown_symbol():
    vocab = CharVocab.from_text("aaab", min_count=2)
    assert vocab.encode("ab").tolist() == [1, 0]


# ----------------------------------------------------------------------------- model


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("attention", [False, True])
def test_model_shapes_and_state(cell, attention):
    V, B, T = 11, 3, 7
    model = tiny_model(V, cell, attention, num_layers=2, dropout=0.1).eval()
    x = torch.randint(0, V, (B, T))
    logits, state, weights = model(x, return_attention=True)
    assert logits.shape == (B, T, V)
    h = state.rnn[0] if cell == "lstm" else state.rnn
    assert h.shape == (2, B, 16)
    if cell == "lstm":
        assert state.rnn[1].shape == (2, B, 16)
    if attention:
        assert weights.shape == (B, T, T)  # no memory yet: S = T
        assert torch.allclose(weights.sum(-1), torch.ones(B, T))
        assert torch.all(weights.triu(1) == 0)  # never attends to the future
        assert state.memory.shape == (B, 5, 16)  # the last W - 1 = 5 outputs
        _, _, w2 = model(x, state, return_attention=True)
        assert w2.shape == (B, T, 5 + T)
    else:
        assert weights is None and state.memory is None
    # reading the text in chunks with the state carried over equals reading it at once
    full, _ = model(x)
    a, s = model(x[:, :3])
    b, _ = model(x[:, 3:], s)
    assert torch.allclose(torch.cat([a, b], 1), full, atol=1e-5)


def test_attention_window_limits_what_is_seen():
    model = tiny_model(9, "gru", attention=True, attn_window=3).eval()
    _, _, w = model(torch.randint(0, 9, (1, 6)), return_attention=True)
    visible = (w[0] > 0).sum(-1).tolist()
    assert visible == [1, 2, 3, 3, 3, 3]


def test_config_rejects_bad_values():
    with pytest.raises(CourseError, match="cell"):
        CharLMConfig(10, cell="transformer")
    with pytest.raises(CourseError):
        CharLMConfig(10, hidden_size=0)
    with pytest.raises(CourseError):
        CharLMConfig(10, dropout=1.0)


# ----------------------------------------------------------------------------- batching


def test_input_target_pairs_shift_by_one():
    ids = torch.arange(23)
    x, y = input_target_pairs(ids, 5)
    assert x.shape == y.shape == (4, 5)  # (23 - 1) // 5 windows
    assert torch.equal(y, x + 1)
    assert x[0].tolist() == [0, 1, 2, 3, 4] and y[-1].tolist() == [16, 17, 18, 19, 20]
    x, y = input_target_pairs(torch.arange(11), 5)  # exactly two windows, the last target is the last id
    assert x.shape == (2, 5) and y[-1, -1] == 10


def test_stream_batches_are_contiguous_and_shifted():
    ids = torch.arange(1000)
    batches = StreamBatches(ids, batch_size=4, seq_len=10)
    items = list(batches)
    assert len(items) == len(batches) == 24  # streams of 249, 24 full chunks of 10
    assert [r for _, _, r in items] == [True] + [False] * 23
    for x, y, _ in items:
        assert x.shape == (4, 10) and torch.equal(y, x + 1)
    # chunk k+1 of a stream continues chunk k: the state can carry over
    assert torch.equal(items[1][0][:, 0], items[0][0][:, -1] + 1)
    # the streams cover different parts of the text
    assert items[0][0][:, 0].tolist() == [0, 249, 498, 747]
    assert StreamBatches(ids, 4, 10, drop_last=False).chars == 4 * 249
    short = StreamBatches(torch.arange(30), batch_size=8, seq_len=10)  # too short for 8 streams
    assert short.batch_size == 2


def test_tbptt_stream_goes_on_pass_after_pass_and_random_windows():
    ids = torch.arange(500)
    stream = TBPTTStream(ids, 4, 10, seed=0)
    assert stream.batch_size == 4 and stream.steps_per_pass == 12  # streams of 124 characters
    batches = iter(stream)
    first_pass = [next(batches) for _ in range(stream.steps_per_pass)]
    x, y, reset = next(batches)                                   # the second pass begins
    assert [r for _, _, r in first_pass] == [True] + [False] * 11 and reset
    assert torch.equal(first_pass[1][0][:, 0], first_pass[0][0][:, -1] + 1)  # streams are contiguous
    assert torch.equal(y, x + 1) and 0 <= int(x[0, 0]) < 10       # a random offset below seq_len
    assert int(next(iter(stream))[0][0, 0]) == 0                  # a new iteration starts at the beginning
    with pytest.raises(CourseError, match="shorter than one window"):
        TBPTTStream(torch.arange(8), 4, 10)
    windows = list(random_windows(ids, 3, 8, num_batches=2, generator=torch.Generator().manual_seed(0)))
    assert len(windows) == 2 and all(torch.equal(y, x + 1) and x.shape == (3, 8) for x, y in windows)


def test_truncated_loss_reads_the_same_text_but_stops_the_gradient():
    vocab = CharVocab.from_text(TEXT)
    x, y = input_target_pairs(vocab.encode(TEXT), 24)
    batch = (x[:3], y[:3])
    grads = {}
    for truncate in (None, 8):
        model = tiny_model(len(vocab), "rnn")
        loss = TBPTTLoss(truncate)(model, batch)
        loss.backward()
        grads[truncate] = (float(loss.detach()), model.rnn.weight_hh_l0.grad.clone())
    assert grads[None][0] == pytest.approx(grads[8][0], abs=1e-6)       # the forward pass is the same
    assert not torch.allclose(grads[None][1], grads[8][1])               # the backward pass is cut
    with pytest.raises(CourseError):
        TBPTTLoss(truncate=0)


def test_train_val_split_holds_out_the_end():
    train, val = train_val_split(torch.arange(100), 0.1)
    assert train.tolist() == list(range(90)) and val.tolist() == list(range(90, 100))
    with pytest.raises(CourseError):
        train_val_split(torch.arange(5), 0.1)


# ----------------------------------------------------------------------------- units and training


def test_bpc_and_perplexity_conversions():
    assert bits_per_char(math.log(2)) == pytest.approx(1.0)
    assert bits_per_char(1.0) == pytest.approx(1 / math.log(2))
    assert perplexity(0.0) == 1.0
    assert perplexity(math.log(65)) == pytest.approx(65.0)


def test_untrained_model_scores_about_log_vocab_and_training_helps():
    vocab = CharVocab.from_text(TEXT)
    ids = vocab.encode(TEXT)
    model = tiny_model(len(vocab))
    before = evaluate_charlm(model, ids, batch_size=2, seq_len=16)
    assert abs(before.nats - math.log(len(vocab))) < 0.5
    assert before.bpc == pytest.approx(before.nats / math.log(2))
    assert before.perplexity == pytest.approx(math.exp(before.nats))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    history = fit(model, TBPTTStream(ids, 4, 16), TBPTTLoss(), optimizer=opt, max_steps=75, eval_every=5,
                  val_data=StreamBatches(ids, 2, 16), device="cpu", progress=False,
                  scheduler=BudgetSchedule(opt, max_steps=75, warmup_steps=5))
    after = evaluate_charlm(model, ids, batch_size=2, seq_len=16)
    assert after.nats < before.nats - 0.5
    assert len(history.steps) == 75 and history.per_eval("step") == list(range(5, 80, 5))
    assert history.last["val_loss"] < history.evals[0]["val_loss"]
    assert history.last["lr"] < 1e-2 * 0.2  # annealed by the end of the budget


def test_train_charlm_follows_its_configs_and_saves_them(tmp_path):
    vocab = CharVocab.from_text(TEXT)
    model_config = CharLMConfig(len(vocab), cell="gru", embed_dim=8, hidden_size=16)
    config = CharLMTrainConfig(max_steps=6, max_seconds=None, evals=3, seq_len=16, batch_size=2, warmup_steps=2)
    result = train_charlm(TEXT * 3, model_config, config, vocab=vocab, device="cpu", progress=False,
                          checkpoint=tmp_path / "m.pt")
    assert result.steps == 6 and len(result.history.steps) == 6
    assert result.history.per_eval("step") == [2, 4, 6]                  # three points spread over the budget
    assert all(row["val_bpc"] == pytest.approx(row["val_loss"] / math.log(2)) for row in result.history.evals)
    loaded, vocab2, extra = load_charlm(result.checkpoint)
    assert loaded.config == model_config and vocab2 == vocab
    assert CharLMTrainConfig.from_dict(extra["train_config"]) == config  # saved with asdict, read back whole
    with pytest.raises(CourseError, match="vocabulary"):
        train_charlm(TEXT * 3, CharLMConfig(len(vocab) + 1), config, vocab=vocab, device="cpu", progress=False)
    with pytest.raises(CourseError, match="budget"):
        CharLMTrainConfig(max_steps=None, max_seconds=None)


def test_cli_defaults_are_the_config_defaults():
    import argparse

    from textrnn_lab.lm import cli

    sub = argparse.ArgumentParser().add_subparsers()
    cli.add_cli(sub)
    args = sub.choices["train-charlm"].parse_args([])
    model, train = CharLMConfig(10), CharLMTrainConfig()
    assert (args.cell, args.hidden, args.layers, args.embed_dim, args.dropout, args.attn_window) == (
        model.cell, model.hidden_size, model.num_layers, model.embed_dim, model.dropout, model.attn_window)
    assert (args.seq_len, args.batch_size, args.lr, args.unk_rate, args.seed) == (
        train.seq_len, train.batch_size, train.lr, train.unk_rate, train.seed)
    assert cli.DEFAULT_MINUTES * 60 == train.max_seconds


def test_budget_schedule_follows_time_too():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = BudgetSchedule(opt, max_seconds=1e-9, warmup_steps=0, final_fraction=0.1)
    schedule.step()
    schedule.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)  # the time ran out: the floor
    state = schedule.state_dict()
    again = BudgetSchedule(opt, max_steps=10)
    again.load_state_dict(state)
    assert again.steps == 2


def test_adaptive_threads_settles_on_the_faster_setting():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        tuner = AdaptiveThreads(candidates=[1, 2], period_seconds=0.0, trial_steps=3)
        seen = []
        for batch in tuner.wrap(iter(range(80))):
            seen.append(batch)
            time.sleep(0.001 if torch.get_num_threads() == 1 else 0.006)  # one thread is faster here
        assert seen == list(range(80))  # the batches pass through untouched
        assert tuner.current == 1 and tuner.changes[0][1] == 1
        assert torch.get_num_threads() == 2  # given back when the batches end (see the next test)
    finally:
        torch.set_num_threads(before)


def test_adaptive_threads_give_back_the_callers_thread_count():
    # A small LSTM that settled on one thread must not leave the next model (a transformer
    # fine-tune in chapter 02, which wants every core) starting from one thread.
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        tuner = AdaptiveThreads(candidates=[1, 2], period_seconds=0.0, trial_steps=3)
        for _ in tuner.wrap(iter(range(60))):
            time.sleep(0.001 if torch.get_num_threads() == 1 else 0.006)
            inside = torch.get_num_threads()
        assert tuner.current == 1 and inside == 1
        assert torch.get_num_threads() == 2
        stopped = tuner.wrap(iter(range(60)))   # a loop that stops early (a step budget) and drops the batches
        for k, _ in enumerate(stopped):
            if k == 3:
                break
        stopped.close()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


# ----------------------------------------------------------------------------- sampling


def test_temperature_zero_is_greedy_and_deterministic():
    logits = torch.tensor([[0.1, 2.0, -1.0, 1.9], [3.0, 0.0, 0.0, 0.0]])
    assert sample_next(logits, 0.0).tolist() == [1, 0]
    probs = next_char_probs(logits, 0.0)
    assert probs.tolist() == [[0, 1, 0, 0], [1, 0, 0, 0]]
    vocab = CharVocab.from_text(TEXT)
    model = tiny_model(len(vocab))
    a = generate(model, vocab, "a truth", 40, temperature=0.0)
    b = generate(model, vocab, "a truth", 40, temperature=0.0, seed=123)
    assert a == b and a.startswith("a truth") and len(a) == len("a truth") + 40


def test_top_k_never_samples_outside_the_top_k():
    torch.manual_seed(0)
    logits = torch.randn(30)
    top = set(torch.topk(logits, 3).indices.tolist())
    gen = torch.Generator().manual_seed(0)
    drawn = {int(sample_next(logits, 5.0, top_k=3, generator=gen)) for _ in range(400)}
    assert drawn <= top and len(drawn) == 3  # a hot temperature reaches all three, never more
    probs = next_char_probs(logits, 1.0, top_k=3)
    assert (probs > 0).sum() == 3 and probs.sum() == pytest.approx(1.0)


def test_temperature_sharpens_and_flattens():
    logits = torch.tensor([0.0, 1.0, 2.0])
    cold, warm, hot = (next_char_probs(logits, t) for t in (0.5, 1.0, 2.0))
    assert cold[2] > warm[2] > hot[2]
    assert torch.allclose(warm, torch.softmax(logits, -1))
    with pytest.raises(CourseError):
        next_char_probs(logits, -1.0)
    with pytest.raises(CourseError):
        next_char_probs(logits, 1.0, top_k=0)


def test_seeded_sampling_repeats_and_attention_is_traced():
    vocab = CharVocab.from_text(TEXT)
    model = tiny_model(len(vocab), "gru", attention=True)
    a = generate(model, vocab, "", 30, temperature=1.0, seed=7)
    assert a == generate(model, vocab, "", 30, temperature=1.0, seed=7) and len(a) == 30
    out = generate(model, vocab, "single", 12, temperature=0.8, top_k=5, seed=1, return_attention=True)
    assert out.text.startswith("single") and len(out.text) == 18
    assert out.weights.shape == (12, len(out.context)) and out.context == out.text[:-1]
    assert torch.allclose(out.weights.sum(1), torch.ones(12), atol=1e-5)
    assert generate(model, vocab, "x\U0001F600", 5, temperature=0.0).startswith("x\U0001F600")  # unknown prompt char


# ----------------------------------------------------------------------------- checkpoints


@pytest.mark.parametrize("cell,attention", [("lstm", False), ("gru", True), ("rnn", False)])
def test_checkpoint_round_trip_generates_identically(tmp_path, cell, attention):
    vocab = CharVocab.from_text(TEXT)
    model = tiny_model(len(vocab), cell, attention)
    path = save_charlm(tmp_path / "m.pt", model, vocab, settings={"seq_len": 16})
    loaded, vocab2, extra = load_charlm(path)
    assert vocab2 == vocab and loaded.config == model.config and extra["settings"]["seq_len"] == 16
    for temperature, seed in ((0.0, None), (0.9, 3)):
        assert generate(model, vocab, "It is", 50, temperature, seed=seed) == \
            generate(loaded, vocab2, "It is", 50, temperature, seed=seed)


def test_loading_something_else_is_a_clear_error(tmp_path):
    with pytest.raises(CourseError, match="does not exist"):
        load_charlm(tmp_path / "missing.pt")
    torch.save({"model": {}}, tmp_path / "other.pt")
    with pytest.raises(CourseError, match="not a character language model"):
        load_charlm(tmp_path / "other.pt")


# ----------------------------------------------------------------------------- command line


def run_cli(*args):
    """The real command, in a fresh process."""
    return subprocess.run([sys.executable, "-m", "textrnn_lab.course.cli", *args], capture_output=True, text=True,
                          timeout=120)


def run_main(capsys, *args):
    """The same command in this process (quick: torch is already imported); returns (status, out, err)."""
    from textrnn_lab.course.cli import main

    try:
        status = main(list(args))
    except SystemExit as exc:  # argparse's usage errors
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


TINY = ["--hidden", "16", "--embed-dim", "8", "--seq-len", "16", "--batch-size", "4", "--quiet"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("charlm")
    text = folder / "book.txt"
    text.write_text(TEXT * 4 + "Caf\u00e9 na\u00efve \u2014 done.\n", encoding="utf-8")
    ckpt = folder / "book.pt"
    proc = run_cli("train-charlm", "--text", str(text), "--steps", "5", "--out", str(ckpt), *TINY)
    return proc, ckpt, folder


def test_cli_train_prints_val_loss_last_and_writes_the_checkpoint(trained):
    proc, ckpt, _ = trained
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("val_loss=") and math.isfinite(float(last.split("=", 1)[1]))
    assert ckpt.is_file() and "Traceback" not in proc.stderr
    model, vocab, extra = load_charlm(ckpt)
    assert extra["steps"] == 5 and "\u00e9" in vocab
    assert extra["val"]["nats"] == pytest.approx(float(last.split("=", 1)[1]), abs=1e-3)


def test_cli_generate_prints_exactly_the_text(trained, capsys):
    _, ckpt, _ = trained
    proc = run_cli("generate", "--checkpoint", str(ckpt), "--prompt", "It is", "--temperature", "0.8",
                   "--max-tokens", "40", "--seed", "1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("It is") and len(proc.stdout) == len("It is") + 40
    assert "loaded" in proc.stderr  # information goes to stderr
    greedy = [run_main(capsys, "generate", "--checkpoint", str(ckpt), "--prompt", "a", "--temperature", "0",
                       "--max-tokens", "20") for _ in range(2)]
    assert greedy[0][0] == 0 and greedy[0][1] == greedy[1][1] and len(greedy[0][1]) == 21


def _bad_input(tmp_path, case):
    path = tmp_path / "input.txt"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "short":
        path.write_text("Too short.", encoding="utf-8")  # shorter than one window of 17 characters
    elif case == "latin1":
        path.write_bytes(("Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e. " * 40).encode("latin-1"))
    elif case == "directory":
        path.mkdir()
    return path


EXPECTED = {"missing": "does not exist", "empty": "empty", "short": "too short", "latin1": "UTF-8",
            "directory": "directory"}


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    return errors[0]


@pytest.mark.parametrize("case", ["missing", "empty", "short", "latin1", "directory"])
def test_cli_train_bad_input_is_one_clear_line(tmp_path, capsys, case):
    path = _bad_input(tmp_path, case)
    status, out, err = run_main(capsys, "train-charlm", "--text", str(path), "--steps", "2",
                                "--out", str(tmp_path / "m.pt"), *TINY)
    assert status == 1 and out == ""
    assert EXPECTED[case] in _one_error_line(err)
    assert not (tmp_path / "m.pt").exists()


def test_cli_bad_input_in_a_real_process_has_no_traceback(tmp_path):
    proc = run_cli("train-charlm", "--text", str(_bad_input(tmp_path, "latin1")), "--steps", "2", *TINY)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "UTF-8" in _one_error_line(proc.stderr) and "iconv" in proc.stderr


def test_cli_generate_bad_input_is_one_clear_line(tmp_path, capsys, trained):
    _, ckpt, _ = trained
    for args in (["--checkpoint", str(tmp_path / "nope.pt")],
                 ["--checkpoint", str(ckpt), "--temperature", "-1"],
                 ["--checkpoint", str(ckpt), "--top-k", "0"]):
        status, out, err = run_main(capsys, "generate", *args)
        assert status != 0 and out == "" and "Traceback" not in err
        assert len([line for line in err.splitlines() if "error:" in line]) == 1, err


# ----------------------------------------------------------------------------- self-checks


def wrong_pairs(ids, seq_len):  # the classic mistake: no shift, the target is the input
    n = (len(ids) - 1) // seq_len
    x = ids[: n * seq_len].reshape(n, seq_len)
    return x, x.clone()


def wrong_probs(logits, temperature, top_k=None):  # multiplies by the temperature and ignores top-k
    return torch.softmax(logits * temperature, dim=-1)


def wrong_sample(logits, temperature, top_k=None, generator=None):  # ignores the temperature
    return int(torch.multinomial(next_char_probs(logits, 1.0, top_k), 1, generator=generator))


def wrong_gru_step(x, h, weight_ih, weight_hh, bias_ih, bias_hh):  # the update gate read the other way round
    H = h.shape[-1]
    gi, gh = x @ weight_ih.T + bias_ih, h @ weight_hh.T + bias_hh
    r, z = torch.sigmoid(gi[:, :H] + gh[:, :H]), torch.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
    n = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
    return z * n + (1 - z) * h


@pytest.mark.parametrize("name,right,wrong", [
    ("01.make_pairs", input_target_pairs, wrong_pairs),
    ("01.gru_step", gru_step, wrong_gru_step),
    ("01.next_char_probs", next_char_probs, wrong_probs),
    ("01.sample_next", lambda logits, t, k=None, g=None: int(sample_next(logits, t, k, g)), wrong_sample),
])
def test_checks_pass_the_reference_and_fail_a_wrong_answer(name, right, wrong):
    for seed in range(3):
        assert checks.check(name, right, seed=seed, quiet=True).status == "pass"
    result = checks.check(name, wrong, seed=0, quiet=True)
    assert result.status == "fail" and result.hint


def test_check_reports_todo():
    def stub(*args):
        raise NotImplementedError()

    assert checks.check("01.make_pairs", stub, quiet=True).status == "todo"
    assert set(checks.available_checks("01")) == {"01.make_pairs", "01.next_char_probs", "01.sample_next",
                                                  "01.gru_step"}


def test_gru_step_check_names_the_convention_mistake_and_its_hint_stages():
    assert checks.check("01.gru_step", gru_step, seed=0, quiet=True).status == "pass"  # hints start at stage 1
    first = checks.check("01.gru_step", wrong_gru_step, seed=1, quiet=True)
    second = checks.check("01.gru_step", wrong_gru_step, seed=2, quiet=True)
    assert first.status == second.status == "fail"
    assert "update gate reversed" in first.message
    assert (first.hint_stage, second.hint_stage) == (1, 2) and first.hint != second.hint
    assert checks.check("01.gru_step", gru_step, seed=0, quiet=True).status == "pass"


def test_every_chapter_01_check_forbids_its_reference():
    for name in checks.available_checks("01"):
        assert any(n.startswith("textrnn_lab.lm.") for n in checks.forbidden_calls(name)), name
    assert {"torch.nn.GRU.forward", "torch.nn.GRUCell.forward", "torch.gru_cell"} <= set(
        checks.forbidden_calls("01.gru_step"))


# ----------------------------------------------------------------------------- the unknown symbol


def test_with_unknown_inputs_replaces_inputs_only_at_the_given_rate():
    from textrnn_lab.lm.batching import with_unknown_inputs

    x = torch.randint(1, 9, (64, 128))
    y = torch.randint(1, 9, (64, 128))
    (x2, y2, reset), = list(with_unknown_inputs([(x, y, True)], rate=0.1, unk_id=0, seed=3))
    share = float((x2 == 0).float().mean())
    assert 0.08 < share < 0.12 and reset is True
    assert torch.equal(y2, y)  # the targets are never the unknown symbol
    assert torch.equal(x2[x2 != 0], x[x2 != 0])
    again, = list(with_unknown_inputs([(x, y, True)], rate=0.1, unk_id=0, seed=3))
    assert torch.equal(again[0], x2)  # repeatable
    untouched, = list(with_unknown_inputs([(x, y, True)], rate=0.0))
    assert untouched[0] is x


@pytest.mark.parametrize("rate, trained", [(0.0, False), (0.05, True)])
def test_the_unknown_embedding_is_trained_only_when_unknown_inputs_are_seen(rate, trained):
    """Every character of the text is in its vocabulary, so without unk_rate the unknown id never occurs
    in training and its embedding stays at its random start: an unseen character at generation time
    then enters the model as noise."""
    vocab = CharVocab.from_text(TEXT)
    config = CharLMTrainConfig(max_steps=15, max_seconds=None, evals=None, seq_len=16, batch_size=4, unk_rate=rate)
    torch.manual_seed(0)
    start = CharLM(CharLMConfig(len(vocab), hidden_size=16, embed_dim=8)).embed.weight.detach().clone()
    result = train_charlm(TEXT * 3, CharLMConfig(len(vocab), hidden_size=16, embed_dim=8), config, vocab=vocab,
                          device="cpu", progress=False)
    unk_row = result.model.embed.weight.detach()[vocab.unk_id]
    assert not torch.equal(result.model.embed.weight.detach()[1], start[1])  # an ordinary character trains
    assert (not torch.allclose(unk_row, start[vocab.unk_id])) is trained


def test_unk_rate_is_checked():
    with pytest.raises(CourseError, match="unk_rate"):
        CharLMTrainConfig(unk_rate=0.7)
