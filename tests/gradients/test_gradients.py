"""Chapter 04: gradient probes, global-norm clipping, the long-range task, the instability runs, the checks."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from torch import nn

from textrnn_lab import checks
from textrnn_lab.data.vocab import CharVocab
from textrnn_lab.errors import CourseError
from textrnn_lab.gradients import (
    MODES,
    FirstTokensTask,
    SequenceClassifier,
    TaggingTask,
    build_lm,
    build_mode,
    build_rnn,
    classification_loss,
    clip_grad_norm,
    global_grad_norm,
    gradient_ratio,
    hidden_gradient_norms,
    hidden_size_for,
    input_gradient_norms,
    keep_gate_values,
    last_step_sum,
    log_slope,
    memory_time_constant,
    mode_summary,
    set_keep_gate_bias,
    set_recurrent_radius,
    small_lm_config,
    spectral_radius,
    train_char_lm,
    train_long_range,
    train_tagger,
    window_batch,
)
from textrnn_lab.layers.rnn import count_parameters
from textrnn_lab.lm import TBPTTLoss


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These models are tiny: on a shared 2-core machine one thread is many times faster than two."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --------------------------------------------------------------------------- modes


def test_build_rnn_modes_shapes_and_sizes():
    x = torch.randn(3, 7, 5)
    shapes = {}
    for mode in MODES:
        rnn = build_mode(mode, 5, 4)
        out, state = rnn(x)
        h = state[0] if isinstance(state, tuple) else state
        shapes[mode] = (tuple(out.shape), tuple(h.shape))
    assert shapes["standard"] == ((3, 7, 4), (1, 3, 4))
    assert shapes["bidirectional"] == ((3, 7, 8), (2, 3, 4))
    assert shapes["deep"] == ((3, 7, 4), (2, 3, 4))
    lstm, gru = build_rnn("lstm", 5, 4), build_rnn("gru", 5, 4)
    assert count_parameters(gru) * 4 == count_parameters(lstm) * 3  # 3 weight blocks vs 4
    rows = mode_summary(input_size=5, hidden_size=4, seq_len=6, batch_size=2, repeats=1)
    assert [r["mode"] for r in rows] == list(MODES) and all(r["parameters"] > 0 for r in rows)
    with pytest.raises(CourseError):
        build_rnn("transformer", 5, 4)
    with pytest.raises(CourseError):
        build_mode("transformer", 5, 4)


def test_bidirectional_outputs_see_the_future_and_standard_ones_do_not():
    torch.manual_seed(0)
    x = torch.randn(2, 6, 3)
    for mode, sees_future in (("standard", False), ("bidirectional", True)):
        rnn = build_mode(mode, 3, 4)
        norms = input_gradient_norms(rnn, x, lambda out: out[:, 2].sum())
        assert (norms[3:].max() > 0) == sees_future, mode
        assert norms[:3].min() > 0


# --------------------------------------------------------------------------- probes


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_probes_give_one_norm_per_step(cell):
    torch.manual_seed(0)
    rnn = build_rnn(cell, 3, 5)
    x = torch.randn(4, 9, 3)
    before = x.clone()
    for probe in (input_gradient_norms, hidden_gradient_norms):
        norms = probe(rnn, x)
        assert norms.shape == (9,) and norms.dtype == torch.float32 and not norms.requires_grad
        assert torch.isfinite(norms).all() and (norms > 0).all()
    assert torch.equal(x, before) and x.grad is None
    assert all(p.grad is None for p in rnn.parameters())  # the probes leave parameter gradients alone


def test_input_probe_matches_autograd_by_hand():
    torch.manual_seed(1)
    rnn = build_rnn("gru", 2, 3, num_layers=2)
    x = torch.randn(3, 5, 2)
    xx = x.clone().requires_grad_(True)
    out, _ = rnn(xx)
    out[:, -1].sum().backward()
    expected = torch.stack([xx.grad[:, t].norm() for t in range(5)])
    torch.testing.assert_close(input_gradient_norms(rnn, x), expected)


def test_hidden_probe_matches_a_hand_unrolled_rnn():
    torch.manual_seed(2)
    rnn = build_mode("standard", 2, 3)
    x = torch.randn(2, 6, 2)
    w_ih, w_hh, b = rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0 + rnn.bias_hh_l0
    h, states = torch.zeros(2, 3), []
    for t in range(6):
        h = torch.tanh(x[:, t] @ w_ih.T + h @ w_hh.T + b)
        h.retain_grad()
        states.append(h)
    states[-1].sum().backward()
    expected = torch.stack([s.grad.norm() for s in states])
    torch.testing.assert_close(hidden_gradient_norms(rnn, x), expected, rtol=1e-5, atol=1e-7)


def test_plain_rnn_with_small_weights_vanishes_and_large_ones_explode():
    x = torch.randn(8, 40, 4, generator=torch.Generator().manual_seed(0))
    ratios = {}
    for radius in (0.5, 3.0):
        rnn = set_recurrent_radius(build_mode("standard", 4, 16), radius, seed=0)
        assert spectral_radius(rnn.weight_hh_l0) == pytest.approx(radius, rel=1e-4)
        norms = hidden_gradient_norms(rnn, x)
        ratios[radius] = gradient_ratio(norms)
    assert ratios[0.5] < 1e-8 and ratios[3.0] > 1e2


def test_keep_gate_bias_slows_the_decay_of_gated_cells():
    x = torch.randn(8, 60, 4, generator=torch.Generator().manual_seed(0))
    for cell in ("lstm", "gru"):
        torch.manual_seed(0)
        rnn = build_rnn(cell, 4, 16)
        plain = gradient_ratio(hidden_gradient_norms(rnn, x))
        set_keep_gate_bias(rnn, 4.0)
        kept = gradient_ratio(hidden_gradient_norms(rnn, x))
        assert kept > plain * 1e6, cell
        h = rnn.hidden_size
        assert torch.all(rnn.bias_ih_l0[h:2 * h] + rnn.bias_hh_l0[h:2 * h] == 4.0)
    with pytest.raises(CourseError):
        set_keep_gate_bias(build_rnn("rnn", 4, 4), 1.0)
    with pytest.raises(CourseError):
        hidden_gradient_norms(build_mode("bidirectional", 4, 4), x)


# --------------------------------------------------------------------------- clipping


def _params_with_grads(seed: int, scale: float, none_at: int | None = None):
    gen = torch.Generator().manual_seed(seed)
    params = []
    for i, shape in enumerate([(3, 4), (5,), (2, 2, 2)]):
        p = nn.Parameter(torch.randn(shape, generator=gen))
        p.grad = None if i == none_at else torch.randn(shape, generator=gen) * scale
        params.append(p)
    return params


@pytest.mark.parametrize("scale,max_norm,none_at", [(10.0, 1.0, None), (0.01, 1.0, None), (3.0, 0.5, 1)])
def test_clip_grad_norm_matches_torch(scale, max_norm, none_at):
    ours, theirs = _params_with_grads(0, scale, none_at), _params_with_grads(0, scale, none_at)
    total = clip_grad_norm(iter(ours), max_norm)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm)
    torch.testing.assert_close(total, expected)
    for p, q in zip(ours, theirs):
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            torch.testing.assert_close(p.grad, q.grad)
    assert float(global_grad_norm(ours)) <= max_norm * (1 + 1e-5) or float(total) <= max_norm


def test_global_clipping_keeps_the_direction_per_tensor_clipping_does_not():
    params = _params_with_grads(3, 5.0)
    before = torch.cat([p.grad.flatten() for p in params])
    clip_grad_norm(params, 1.0)
    after = torch.cat([p.grad.flatten() for p in params])
    assert torch.nn.functional.cosine_similarity(before, after, dim=0) > 0.9999
    assert after.norm() == pytest.approx(1.0, rel=1e-4)


# --------------------------------------------------------------------------- long-range task


def test_first_tokens_task_labels_come_from_the_first_tokens():
    task = FirstTokensTask(length=12, num_classes=3, num_signal=2, num_distractors=5)
    x, y = task.sample(200, seed=0)
    assert x.shape == (200, 12) and y.shape == (200,) and x.dtype == y.dtype == torch.long
    assert task.vocab_size == 8 and task.chance == pytest.approx(1 / 3)
    assert (x[:, :2] < 3).all() and (x[:, 2:] >= 3).all() and (x < 8).all()
    assert torch.equal(y, x[:, :2].sum(dim=1) % 3)
    assert set(y.tolist()) == {0, 1, 2}
    # changing every distractor leaves the label unchanged: only the first tokens decide it
    x2, y2 = task.sample(200, seed=0)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    other = x.clone()
    other[:, 2:] = 3 + (other[:, 2:] - 3 + 1) % 5
    assert torch.equal(other[:, :2].sum(dim=1) % 3, y)
    batches = task.batches(3, 16, seed=1)
    assert len(batches) == 3 and batches[0][0].shape == (16, 12)
    with pytest.raises(CourseError):
        FirstTokensTask(length=4, num_signal=5)


def test_sequence_classifier_shapes_and_loss():
    task = FirstTokensTask(length=7)
    model = SequenceClassifier(task.vocab_size, task.num_classes, cell="gru", hidden_size=6, keep_gate_bias=2.0)
    x, y = task.sample(5, seed=0)
    assert model(x).shape == (5, 2)
    loss, extra = classification_loss(model, (x, y))
    assert loss.ndim == 0 and 0.0 <= float(extra["acc"]) <= 1.0
    h = model.rnn.hidden_size
    assert torch.all(model.rnn.bias_ih_l0[h:2 * h] == 2.0)


def test_a_short_task_is_learned_quickly():
    result = train_long_range("lstm", FirstTokensTask(length=5), steps=60, eval_every=20, n_test=200)
    assert result.test_acc > 0.9 and not result.diverged
    assert result.history.num_steps == 60 and result.history.per_eval("step") == [20, 40, 60]
    assert result.row()["cell"] == "lstm"


# --------------------------------------------------------------------------- instability runs


def test_char_lm_windows_and_truncation():
    vocab = CharVocab.from_text("abcabcabd")
    ids = vocab.encode("abcabcabd" * 20)
    x, y = window_batch(ids, 4, 10, seed=0)
    assert x.shape == y.shape == (4, 10) and torch.equal(x[:, 1:], y[:, :-1])
    assert torch.equal(x, window_batch(ids, 4, 10, seed=0)[0])  # the same seed, the same windows
    model = build_lm(small_lm_config(len(vocab), hidden_size=8, embed_dim=4), recurrent_radius=1.5, seed=0)
    assert spectral_radius(model.rnn.weight_hh_l0) == pytest.approx(1.5, rel=1e-4)
    chunks = []
    model.embed.register_forward_hook(lambda module, inputs, out: chunks.append(out) or out.retain_grad())
    last_only = torch.full_like(y, -100)  # cross-entropy ignores -100: only the last position's loss counts
    last_only[:, -1] = y[:, -1]
    TBPTTLoss(truncate=3)(model, (x, last_only)).backward()
    # chunks 0-2, 3-5, 6-8, 9: the last output's gradient stops at the start of its chunk
    assert [c.shape[1] for c in chunks] == [3, 3, 3, 1]
    assert all(not c.grad.any() for c in chunks[:3]) and chunks[3].grad.abs().sum() > 0
    chunks.clear()
    TBPTTLoss()(model, (x, last_only)).backward()
    (whole,) = chunks
    assert whole.grad[:, 0].abs().sum() > 0  # without truncation it reaches the first character


def test_long_windows_diverge_without_clipping_and_train_with_it():
    """The chapter's scenario in miniature: a tanh RNN LM (recurrent radius 1.5) on 256-character windows."""
    from textrnn_lab.data import load_dataset
    from textrnn_lab.errors import DataError

    try:
        text = load_dataset("austen", max_chars=300_000)  # the chapter's corpus
    except DataError as exc:  # pragma: no cover - data/ is part of the repository
        pytest.skip(f"austen data unavailable: {exc.message}")
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    small = small_lm_config(len(vocab))
    wild = train_char_lm(ids, small, seq_len=256, steps=5)
    tame = train_char_lm(ids, small, seq_len=256, steps=5, clip_grad_norm=1.0)
    assert wild.diverged and wild.diverged_at is not None and math.isnan(wild.final_loss)
    assert wild.grad_norms[0] > 100  # the history before the NaN is kept
    assert not tame.diverged and len(tame.losses) == len(tame.grad_norms) == 5
    assert tame.grad_norms[0] == pytest.approx(wild.grad_norms[0])  # the norm is recorded before clipping
    assert math.isfinite(tame.final_loss) and tame.losses[-1] < tame.losses[0]
    assert tame.row()["diverged_at_step"] is None and wild.row()["final_loss"] == "NaN"


# --------------------------------------------------------------------------- the self-checks


def test_checks_pass_on_the_references():
    for name, ref in (("04.input_gradient_norms", input_gradient_norms),
                      ("04.keep_gate_bias", set_keep_gate_bias),
                      ("04.clip_grad_norm", clip_grad_norm)):
        assert checks.check(name, ref, seed=0, quiet=True).passed, name
    assert checks.check("04.clip_grad_norm", torch.nn.utils.clip_grad_norm_, seed=1, quiet=True).passed
    assert checks.check("04.lstm_step", _lstm_step, seed=0, quiet=True).passed
    assert checks.check("04.memory_time_constant", memory_time_constant, seed=0, quiet=True).passed
    assert set(checks.available_checks("04")) == {"04.input_gradient_norms", "04.keep_gate_bias", "04.clip_grad_norm",
                                                  "04.lstm_step", "04.memory_time_constant"}


def _per_tensor_clip(parameters, max_norm):
    total = 0.0
    for p in parameters:
        if p.grad is not None:
            norm = p.grad.norm()
            total += float(norm) ** 2
            if norm > max_norm:
                p.grad.mul_(max_norm / norm)
    return total ** 0.5


def _clip_without_clamp(parameters, max_norm):
    parameters = list(parameters)
    total = global_grad_norm(parameters)
    for p in parameters:
        if p.grad is not None:
            p.grad.mul_(max_norm / (total + 1e-6))  # also scales small gradients *up*
    return total


def _clip_consuming_a_generator_twice(parameters, max_norm):
    total = global_grad_norm(parameters)
    for p in parameters:  # a generator is already exhausted here
        p.grad.mul_(min(1.0, max_norm / (float(total) + 1e-6)))
    return total


def _clip_returns_the_norm_after(parameters, max_norm):
    parameters = list(parameters)
    clip_grad_norm(parameters, max_norm)
    return global_grad_norm(parameters)


def _probe_per_example_mean(rnn, x, loss_fn=last_step_sum):
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss_fn(rnn(x)[0]), x)
    return grad.norm(dim=2).mean(dim=0)


def _probe_ignores_loss_fn(rnn, x, loss_fn=last_step_sum):
    return input_gradient_norms(rnn, x)


def _probe_accumulates_in_x(rnn, x, loss_fn=last_step_sum):
    x.requires_grad_(True)
    loss_fn(rnn(x)[0]).backward()
    return x.grad.pow(2).sum(dim=(0, 2)).sqrt()


def _probe_per_example(rnn, x, loss_fn=last_step_sum):
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss_fn(rnn(x)[0]), x)
    return grad.norm(dim=2)  # [B, T]


def _gate_hh_only(rnn, value):
    with torch.no_grad():
        h = rnn.hidden_size
        for name, p in rnn.named_parameters():
            if name.startswith("bias_hh"):
                p[h:2 * h] = value


def _gate_first_block(rnn, value):  # the LSTM input gate / GRU reset gate
    with torch.no_grad():
        h = rnn.hidden_size
        for name, p in rnn.named_parameters():
            if name.startswith("bias_ih"):
                p[:h] = value
            elif name.startswith("bias_hh"):
                p[:h] = 0.0


def _gate_first_layer_only(rnn, value):
    with torch.no_grad():
        h = rnn.hidden_size
        rnn.bias_ih_l0[h:2 * h] = value
        rnn.bias_hh_l0[h:2 * h] = 0.0


def _lstm_step(x, state, w_ih, w_hh, b_ih, b_hh):  # a correct step, written here so the test stands alone
    h, c = state
    i, f, g, o = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, -1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _lstm_without_tanh(x, state, w_ih, w_hh, b_ih, b_hh):
    h, c = _lstm_step(x, state, w_ih, w_hh, b_ih, b_hh)
    o = torch.sigmoid((x @ w_ih.T + b_ih + state[0] @ w_hh.T + b_hh).chunk(4, -1)[3])
    return o * c, c


def _lstm_gates_ifog(x, state, w_ih, w_hh, b_ih, b_hh):
    order = lambda w: torch.cat([w.chunk(4, 0)[k] for k in (0, 1, 3, 2)])  # noqa: E731
    return _lstm_step(x, state, order(w_ih), order(w_hh), order(b_ih), order(b_hh))


def _lstm_forget_on_the_candidate(x, state, w_ih, w_hh, b_ih, b_hh):
    h, c = state
    i, f, g, o = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, -1)
    c = torch.sigmoid(i) * c + torch.sigmoid(f) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _lstm_returns_h_only(x, state, *weights):
    return _lstm_step(x, state, *weights)[0]


def _tau_naive(b):
    return -1.0 / math.log(1.0 / (1.0 + math.exp(-b)))


def _tau_of_the_gate_value(b):  # 1 / (1 - sigmoid(b)): right only for large b
    return 1.0 + math.exp(b)


@pytest.mark.parametrize("name,wrong", [
    ("04.lstm_step", _lstm_without_tanh),
    ("04.lstm_step", _lstm_gates_ifog),
    ("04.lstm_step", _lstm_forget_on_the_candidate),
    ("04.lstm_step", _lstm_returns_h_only),
    ("04.memory_time_constant", _tau_naive),
    ("04.memory_time_constant", _tau_of_the_gate_value),
    ("04.clip_grad_norm", _per_tensor_clip),
    ("04.clip_grad_norm", _clip_without_clamp),
    ("04.clip_grad_norm", _clip_consuming_a_generator_twice),
    ("04.clip_grad_norm", _clip_returns_the_norm_after),
    ("04.input_gradient_norms", _probe_per_example_mean),
    ("04.input_gradient_norms", _probe_ignores_loss_fn),
    ("04.input_gradient_norms", _probe_accumulates_in_x),
    ("04.input_gradient_norms", _probe_per_example),
    ("04.keep_gate_bias", _gate_hh_only),
    ("04.keep_gate_bias", _gate_first_block),
    ("04.keep_gate_bias", _gate_first_layer_only),
])
def test_checks_fail_on_wrong_implementations(name, wrong):
    for seed in range(3):
        result = checks.check(name, wrong, seed=seed, quiet=True)
        assert result.status == "fail", (seed, result.line)


def test_check_reports_todo_for_the_stub():
    def stub(*args, **kwargs):
        raise NotImplementedError()

    for name in ("04.input_gradient_norms", "04.keep_gate_bias", "04.clip_grad_norm", "04.lstm_step",
                 "04.memory_time_constant"):
        assert checks.check(name, stub, quiet=True).status == "todo"


def test_lstm_check_names_the_usual_mistakes():
    assert "without the tanh" in checks.check("04.lstm_step", _lstm_without_tanh, seed=0, quiet=True).message
    assert "another order" in checks.check("04.lstm_step", _lstm_gates_ifog, seed=0, quiet=True).message


# --------------------------------------------------------------------------- time constants, slopes, modes


def test_memory_time_constant_is_exact_where_the_naive_formula_breaks():
    assert memory_time_constant(0.0) == pytest.approx(1 / math.log(2))
    assert memory_time_constant(3.0) == pytest.approx(-1 / math.log(1 / (1 + math.exp(-3))))
    assert memory_time_constant(40.0) == pytest.approx(math.exp(40), rel=1e-9)  # sigmoid(40) == 1.0 in float64
    assert memory_time_constant(-800.0) == pytest.approx(1 / 800)  # e^800 overflows
    assert memory_time_constant(800.0) == math.inf


def test_log_slope_recovers_a_geometric_decay():
    decay = torch.tensor([0.9 ** k for k in range(50)][::-1], dtype=torch.float64)  # the loss at the last step
    assert log_slope(decay) == pytest.approx(math.log(0.9))
    bent = decay.clone()
    bent[-3:] *= 100.0  # the last steps also reach the output directly
    assert log_slope(bent, skip_last=3) == pytest.approx(math.log(0.9))
    assert log_slope(bent) != pytest.approx(math.log(0.9))


def test_a_keep_bias_gru_fades_at_the_rate_its_time_constant_predicts():
    torch.manual_seed(0)
    gru = set_keep_gate_bias(build_rnn("gru", 4, 16), 3.0).double()
    with torch.no_grad():  # the gate then sees its bias alone
        gru.weight_ih_l0[16:32] = 0.0
        gru.weight_hh_l0[16:32] = 0.0
        gru.weight_hh_l0[32:] = 0.0  # and the candidate does not read h: the kept path is the only one
        gru.bias_hh_l0[32:] = 0.0  # (nor, through the reset gate, h's effect on r)
    norms = hidden_gradient_norms(gru, torch.randn(8, 60, 4, dtype=torch.float64))
    assert log_slope(norms, skip_last=1) == pytest.approx(-1 / memory_time_constant(3.0), rel=1e-6)


def test_tagging_tasks_label_from_the_right_and_from_the_left():
    x = torch.tensor([[0, 1, 3, 2, 2]])
    assert TaggingTask(5, "next").labels(x).tolist() == [[1, 0, 1, 0, -100]]
    assert TaggingTask(5, "window").labels(x).tolist() == [[-100, -100, 0, 2, 3]]
    xs, ys = TaggingTask(9, "next", num_classes=3).sample(4, torch.Generator().manual_seed(0))
    assert xs.shape == ys.shape == (4, 9) and int(xs.max()) < 3
    with pytest.raises(CourseError):
        TaggingTask(5, "future")


def test_only_the_bidirectional_tagger_uses_the_right_hand_context():
    task = TaggingTask(10, "next")
    forward = train_tagger(task, "rnn", hidden_size=16, steps=150, seed=0, n_test=250)
    both = train_tagger(task, "rnn", hidden_size=16, bidirectional=True, steps=150, seed=0, n_test=250)
    assert forward.test_acc < 0.35 and both.test_acc > 0.9


def test_hidden_size_for_matches_the_parameter_count():
    target = count_parameters(build_rnn("rnn", 8, 32))
    h = hidden_size_for(target, "rnn", 8, num_layers=2)
    deep = count_parameters(build_rnn("rnn", 8, h, num_layers=2))
    assert abs(deep - target) <= min(abs(count_parameters(build_rnn("rnn", 8, k, num_layers=2)) - target)
                                     for k in (h - 1, h + 1))


def test_build_lm_gives_every_cell_the_same_recurrent_radius():
    config = small_lm_config(10, hidden_size=8, embed_dim=4)
    for cell in ("rnn", "gru", "lstm"):
        model = build_lm(replace(config, cell=cell), recurrent_radius=1.5, seed=0)
        for block in model.rnn.weight_hh_l0.detach().split(8):
            assert spectral_radius(block) == pytest.approx(1.5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_keep_gate_values_are_the_gates_the_cell_used(cell):
    torch.manual_seed(0)
    rnn = build_rnn(cell, 3, 4)
    x = torch.randn(2, 5, 3)
    gates = keep_gate_values(rnn, x)
    assert gates.shape == (2, 5, 4)
    # step by step with the module: the gate at t=1 from h_0, the module's own first output
    out, _ = rnn(x[:, :1])
    w_ih, w_hh = rnn.weight_ih_l0[4:8], rnn.weight_hh_l0[4:8]
    by_hand = torch.sigmoid(x[:, 1] @ w_ih.T + rnn.bias_ih_l0[4:8] + out[:, 0] @ w_hh.T + rnn.bias_hh_l0[4:8])
    assert torch.allclose(gates[:, 1], by_hand.detach(), atol=1e-6)
    with torch.no_grad():  # a gate that reads nothing is its bias
        rnn.weight_ih_l0[4:8] = 0.0
        rnn.weight_hh_l0[4:8] = 0.0
    set_keep_gate_bias(rnn, 3.0)
    assert torch.allclose(keep_gate_values(rnn, x), torch.full((2, 5, 4), 1 / (1 + math.exp(-3.0))))
    with pytest.raises(CourseError):
        keep_gate_values(build_rnn("rnn", 3, 4), x)
