"""Checks for chapter 04 (vanishing and exploding gradients).

* ``04.input_gradient_norms``: ``f(rnn, x, loss_fn=last_step_sum) -> FloatTensor[T]``,
  the norm of dL/dx_t per time step;
* ``04.keep_gate_bias``: ``f(rnn, value)`` sets the LSTM forget / GRU update gate bias;
* ``04.clip_grad_norm``: ``f(parameters, max_norm) -> total norm``, clipping by global norm;
* ``04.lstm_step``: ``f(x, (h, c), weight_ih, weight_hh, bias_ih, bias_hh) -> (h_new, c_new)``, one LSTM
  step from scratch, compared with ``nn.LSTM`` given the same weights;
* ``04.memory_time_constant``: ``f(bias) -> tau = -1 / ln sigmoid(bias)``, for any bias without overflow.

The references are bound as default arguments when this module is imported, so
patching ``textrnn_lab.gradients`` or ``torch.nn.utils`` later changes nothing.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..gradients.probes import input_gradient_norms as _ref_input_gradient_norms
from ..gradients.probes import last_step_sum
from ..gradients.probes import memory_time_constant as _ref_time_constant
from ..layers.rnn import set_keep_gate_bias as _ref_keep_gate_bias
from . import CheckFailed, register
from .compare import as_float, brief, expect_callable, expect_close, expect_tensor, plain, type_name

_CELLS = (nn.RNN, nn.LSTM, nn.GRU)


def _seed(rng) -> int:
    return int(rng.integers(0, 2**31 - 1))


def _random_rnn(rng, case: int, gated_only: bool = False) -> nn.RNNBase:
    cells = _CELLS[1:] if gated_only else _CELLS
    cls = cells[case % len(cells)] if case < 6 else cells[int(rng.integers(0, len(cells)))]
    layers = 1 if case < 3 else int(rng.integers(1, 3))
    bidirectional = bool(case >= 3 and rng.random() < 0.4)
    torch.manual_seed(_seed(rng))
    return cls(int(rng.integers(1, 5)), int(rng.integers(2, 7)), num_layers=layers,
               bidirectional=bidirectional, batch_first=True)


def _describe(rnn: nn.RNNBase) -> str:
    extra = f", num_layers={rnn.num_layers}" if rnn.num_layers > 1 else ""
    extra += ", bidirectional=True" if rnn.bidirectional else ""
    return f"{type(rnn).__name__}({rnn.input_size}, {rnn.hidden_size}{extra})"


# --------------------------------------------------------------------------- the probe


def _loss_for_case(rng, case: int, out_features: int):
    """(name, loss_fn or None for the default) for one case."""
    kind = case % 4 if case >= 4 else 0
    if kind == 0:
        return "default loss", None
    if kind == 1:
        return "loss_fn=lambda out: out.pow(2).mean()", lambda out: out.pow(2).mean()
    if kind == 2:
        gen = torch.Generator().manual_seed(_seed(rng))
        w = torch.randn(out_features, generator=gen)
        return "loss_fn=a random projection of out[:, -1]", lambda out: (out[:, -1] @ w).sum()
    t = int(rng.integers(0, 2))
    return f"loss_fn=lambda out: out[:, {t}].sum()", lambda out: out[:, t].sum()


@register(
    "04.input_gradient_norms",
    hints={
        "shape": ("one number per time step: the result has length T",
                  "the gradient with respect to the input has the input's shape [B, T, E]; reduce over the batch "
                  "and feature dimensions together, keeping the time dimension"),
        "*": ("the probe asks how much the loss depends on the input at each time step: differentiate the loss "
              "with respect to the input sequence itself, not the weights",
              "work on a copy of the input that requires a gradient (so the caller's tensor is untouched), run the "
              "network and the loss on it, take the gradient of the loss with respect to that copy, then its "
              "Euclidean norm per time step over batch and features"),
    },
    cases=20,
    forbidden=("textrnn_lab.gradients.probes.input_gradient_norms",),
)
def _check_input_gradient_norms(func, rng, cases, _reference=_ref_input_gradient_norms, _default=last_step_sum):
    expect_callable(func, "input_gradient_norms(rnn, x, loss_fn=last_step_sum)")
    for case in range(cases):
        rnn = _random_rnn(rng, case)
        batch, steps = int(rng.integers(1, 5)), int(rng.integers(2, 13))
        x = torch.from_numpy(rng.normal(size=(batch, steps, rnn.input_size))).float()
        name, loss_fn = _loss_for_case(rng, case, rnn.hidden_size * (2 if rnn.bidirectional else 1))
        expected = _reference(rnn, x, loss_fn if loss_fn is not None else _default)
        given = x.clone()
        got = func(rnn, given) if loss_fn is None else func(rnn, given, loss_fn)
        context = f"input_gradient_norms({_describe(rnn)}, x of shape {tuple(x.shape)}, {name})"
        if isinstance(got, torch.Tensor):
            got = plain(got)
            if tuple(got.shape) == (batch, steps) or tuple(got.shape) == (steps, batch):
                raise CheckFailed(f"{context}: expected shape ({steps},), one norm per time step, got "
                                  f"{tuple(got.shape)}: take the norm over the batch and the features together.",
                                  kind="shape")
        if not torch.equal(given, x):
            raise CheckFailed(f"{context}: your function changed the values of x; work on a copy.")
        expect_tensor(got, expected, context=context, rtol=1e-4, atol=1e-7)
        if case < 3:  # the same tensor twice: no gradient may pile up from one call to the next
            again = func(rnn, given) if loss_fn is None else func(rnn, given, loss_fn)
            expect_tensor(plain(again), expected,
                          context=f"{context}, called a second time with the same x (use a fresh leaf copy "
                                  f"of x, so that gradients do not accumulate in x.grad)", rtol=1e-4, atol=1e-7)


# --------------------------------------------------------------------------- the keep gate


@register(
    "04.keep_gate_bias",
    hints=("the keep gate is the forget gate of an LSTM and the update gate of a GRU: its bias sets how much of the "
           "old state a step keeps before any training",
           "PyTorch stacks the gates along the rows of each bias vector, hidden_size rows per gate (LSTM order: "
           "input, forget, cell, output; GRU order: reset, update, new), so the keep gate is the second block. "
           "The two biases of a layer add up, so give one the value and the other zero, in every layer and "
           "direction, without recording gradients, and leave every other entry alone"),
    cases=12,
    forbidden=("textrnn_lab.layers.rnn.set_keep_gate_bias",),
)
def _check_keep_gate_bias(func, rng, cases, _reference=_ref_keep_gate_bias):
    expect_callable(func, "set_keep_gate_bias(rnn, value)")
    for case in range(cases):
        rnn = _random_rnn(rng, case, gated_only=True)
        value = float(rng.choice([1.0, 2.0, 4.0, -1.0])) if case < 4 else float(rng.uniform(-3, 5))
        expected = {k: v.detach().clone() for k, v in rnn.named_parameters()}
        reference = type(rnn)(rnn.input_size, rnn.hidden_size, num_layers=rnn.num_layers,
                              bidirectional=rnn.bidirectional, batch_first=True)
        reference.load_state_dict(rnn.state_dict())
        _reference(reference, value)
        want = dict(reference.named_parameters())
        context = f"set_keep_gate_bias({_describe(rnn)}, {value:g})"
        returned = func(rnn, value)
        if returned is not None and returned is not rnn:
            raise CheckFailed(f"{context}: return the module you were given (or None), not "
                              f"{type_name(returned)} {brief(returned)}".rstrip() + ".")
        got = {k: plain(v) for k, v in rnn.named_parameters()}
        h = rnn.hidden_size
        for name in expected:
            if name.startswith("bias_ih"):
                partner = "bias_hh" + name[len("bias_ih"):]
                total = got[name] + got[partner]
                target = (want[name] + want[partner]).detach()
                expect_tensor(total, target, context=f"{context}: {name} + {partner}", rtol=1e-5, atol=1e-6)
            elif not name.startswith("bias_hh"):
                expect_tensor(got[name], expected[name],
                              context=f"{context}: {name} must not change")
        for name in expected:
            if name.startswith("bias_hh"):  # the other gates keep their two biases as they were
                rows = torch.ones(got[name].shape[0], dtype=torch.bool)
                rows[h:2 * h] = False
                expect_tensor(got[name][rows], expected[name][rows],
                              context=f"{context}: {name} outside rows {h}:{2 * h} must not change")
                ih = "bias_ih" + name[len("bias_hh"):]
                expect_tensor(got[ih][rows], expected[ih][rows],
                              context=f"{context}: {ih} outside rows {h}:{2 * h} must not change")
        if any(p.requires_grad is False for p in rnn.parameters()):
            raise CheckFailed(f"{context}: the parameters must stay trainable (requires_grad=True).")


# --------------------------------------------------------------------------- clipping


def _parameters_with_grads(rng, case: int, max_norm: float) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(_seed(rng))
    if case == 0:  # one tensor above the limit: per-tensor and global clipping agree here
        shapes, scale = [(int(rng.integers(2, 6)),)], 3.0
    elif case == 1:  # several tensors, each below the limit, together above it
        shapes, scale = [(2, 3), (4,), (3, 3)], 1.2
    elif case == 2:  # below the limit: nothing changes
        shapes, scale = [(3,), (2, 2)], 0.2
    else:
        shapes = [tuple(int(s) for s in rng.integers(1, 5, size=int(rng.integers(1, 3))))
                  for _ in range(int(rng.integers(1, 6)))]
        scale = float(rng.choice([0.3, 1.5, 10.0, 1000.0]))
    params = []
    for shape in shapes:
        p = nn.Parameter(torch.randn(shape, generator=gen))
        g = torch.randn(shape, generator=gen)
        p.grad = g * (scale * max_norm / (g.norm() * len(shapes) ** 0.5 + 1e-12))
        params.append(p)
    if case == 1:  # each tensor's own norm is below max_norm
        for p in params:
            p.grad.mul_(0.9 * max_norm / p.grad.norm())
    if case >= 4 and rng.random() < 0.3:  # a parameter that received no gradient
        p = nn.Parameter(torch.randn(2, generator=gen))
        params.insert(int(rng.integers(0, len(params) + 1)), p)
    return params


@register(
    "04.clip_grad_norm",
    hints=("clipping by the global norm treats all the gradients as one long vector: measure its length once, and if "
           "it is too long, shrink every gradient by the same factor so the direction is kept",
           "the total norm is the square root of the sum of squares over every parameter that has a gradient; "
           "the factor is max_norm over that total (with a tiny epsilon), capped at 1; scale the gradients in "
           "place and return the total measured before scaling. The parameters may arrive as a one-shot "
           "generator"),
    cases=25,
    forbidden=("textrnn_lab.gradients.clipping.clip_grad_norm", "textrnn_lab.gradients.clipping.global_grad_norm",
               "torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad_norm",
               "torch.nn.utils.clip_grad.clip_grad_norm_", "torch.nn.utils.clip_grad.clip_grad_norm",
               "torch.nn.utils.get_total_norm", "torch.nn.utils.clip_grads_with_norm_",
               "torch.nn.utils.clip_grad._get_total_norm", "torch.nn.utils.clip_grad._clip_grads_with_norm_"),
)
def _check_clip_grad_norm(func, rng, cases, _torch_clip=torch.nn.utils.clip_grad_norm_, _allclose=torch.allclose,
                          _equal=torch.equal):
    expect_callable(func, "clip_grad_norm(parameters, max_norm)")
    for case in range(cases):
        max_norm = float(rng.choice([0.5, 1.0, 5.0])) if case < 6 else float(rng.uniform(0.1, 10.0))
        params = _parameters_with_grads(rng, case, max_norm)
        originals = [None if p.grad is None else p.grad.clone() for p in params]
        twins = [nn.Parameter(p.detach().clone()) for p in params]
        for p, q in zip(params, twins):
            q.grad = None if p.grad is None else p.grad.clone()
        expected_total = float(_torch_clip(twins, max_norm))
        as_generator = case >= 3 and case % 2 == 1
        shapes = ", ".join(str(tuple(p.shape)) for p in params)
        context = (f"clip_grad_norm({'a generator of' if as_generator else '['} {len(params)} parameters "
                   f"{shapes}{'' if as_generator else ']'}, max_norm={max_norm:.3g})")
        returned = func((p for p in params) if as_generator else list(params), max_norm)
        for index, (p, q) in enumerate(zip(params, twins)):
            if q.grad is None:
                if p.grad is not None:
                    raise CheckFailed(f"{context}: parameter {index} had no gradient and must keep grad None.")
                continue
            if p.grad is None:
                raise CheckFailed(f"{context}: the gradient of parameter {index} disappeared.")
            grad = plain(p.grad)
            if grad.shape != q.grad.shape or not _allclose(grad, q.grad, rtol=1e-4, atol=1e-7):
                ratio = float(grad.norm() / q.grad.norm()) if float(q.grad.norm()) > 0 else float("nan")
                extra = ""
                untouched = all(o is None or (r.grad is not None and _equal(o, plain(r.grad)))
                                for o, r in zip(originals, params))
                if as_generator and untouched and expected_total > max_norm:
                    extra = " (parameters arrived as a generator: did you go through it twice?)"
                raise CheckFailed(
                    f"{context}: after clipping, parameter {index}'s gradient has norm "
                    f"{float(grad.norm()):.6g}, expected {float(q.grad.norm()):.6g} "
                    f"(ratio {ratio:.4g}); every gradient must be scaled by the same factor, computed "
                    f"from the global norm {expected_total:.6g}{extra}.")
            if plain(p).ne(q.data).any():
                raise CheckFailed(f"{context}: the parameter values changed; clipping only scales .grad.")
        got_total = as_float(returned, context=f"{context} returned value")
        expect_close(got_total, expected_total, context=f"{context} returned value (the norm before clipping)",
                     rel=1e-4, abs_tol=1e-6)


# --------------------------------------------------------------------------- an LSTM step from scratch


def _lstm_variants(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """Usual mistakes, for a targeted message: h without the tanh of the cell, and the gates read in another order."""
    gates = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    i, f, g, o = gates.chunk(4, dim=-1)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    found = {"no_tanh": (torch.sigmoid(o) * c_new, c_new)}
    i2, f2, o2, g2 = gates.chunk(4, dim=-1)  # (i, f, o, g): the candidate and the output gate swapped
    c2 = torch.sigmoid(f2) * c + torch.sigmoid(i2) * torch.tanh(g2)
    found["order"] = (torch.sigmoid(o2) * torch.tanh(c2), c2)
    return found


@register(
    "04.lstm_step",
    hints={
        "no_tanh": ("the output gate does not scale the cell itself but the cell squashed into (-1, 1)",
                    "the new hidden state is the output gate times tanh of the new cell"),
        "order": ("PyTorch stacks the four gates in one fixed order along the rows of the weights and biases",
                  "the blocks of hidden_size rows are, in order: input gate, forget gate, candidate (tanh), "
                  "output gate"),
        "*": ("an LSTM step updates a cell by addition, keeping a share of the old cell (forget gate) and adding a "
              "share of a candidate (input gate); the hidden state is a gated view of the cell (output gate)",
              "compute the input part plus the recurrent part of all four gates at once, split it into four blocks "
              "along the last dimension, take the sigmoid of the three gates and tanh of the candidate; the new "
              "cell is f * c + i * g, the new hidden state o * tanh(new cell); return both as a pair (h, c)"),
    },
    cases=20,
    forbidden=("textrnn_lab.lm.cells.lstm_step", "torch.nn.modules.rnn.LSTM.forward",
               "torch.nn.modules.rnn.LSTMCell.forward", "torch.lstm_cell", "torch.lstm"),
)
def _check_lstm_step(func, rng, cases, _lstm=nn.LSTM, _allclose=torch.allclose):
    expect_callable(func, "lstm_step(x, (h, c), weight_ih, weight_hh, bias_ih, bias_hh)")
    for case in range(cases):
        batch = 1 if case == 0 else int(rng.integers(1, 5))
        in_size, hidden = int(rng.integers(1, 6)), int(rng.integers(1, 7))
        torch.manual_seed(_seed(rng))
        lstm = _lstm(in_size, hidden, batch_first=True)
        with torch.no_grad():  # larger, random weights and biases, so that every term matters
            for p in lstm.parameters():
                p.copy_(torch.randn(p.shape) * float(rng.choice([0.5, 1.0, 2.0])))
        x = torch.randn(batch, in_size)
        h, c = ((torch.randn(batch, hidden), torch.randn(batch, hidden)) if case
                else (torch.zeros(batch, hidden), torch.zeros(batch, hidden)))
        weights = [getattr(lstm, f"{n}_l0").detach().clone() for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        with torch.no_grad():
            _, (h_ref, c_ref) = lstm(x.unsqueeze(1), (h.unsqueeze(0), c.unsqueeze(0)))  # one step of the module
        expected = (h_ref[0], c_ref[0])
        context = (f"lstm_step(x {tuple(x.shape)}, (h, c) {tuple(h.shape)} each, weights of "
                   f"nn.LSTM({in_size}, {hidden}))" + (" from a zero state" if case == 0 else ""))
        got = func(x.clone(), (h.clone(), c.clone()), *[w.clone() for w in weights])
        if not isinstance(got, tuple) or len(got) != 2:
            raise CheckFailed(f"{context}: return the pair (h_new, c_new), got {type_name(got)}.", kind="type")
        if all(isinstance(t, torch.Tensor) and tuple(t.shape) == (batch, hidden) for t in got):
            values = [plain(t).detach().float() for t in got]
            if not all(_allclose(v, e, rtol=1e-4, atol=1e-5) for v, e in zip(values, expected)):
                for kind, variant in _lstm_variants(x, h, c, *weights).items():
                    if all(_allclose(v, e, rtol=1e-4, atol=1e-5) for v, e in zip(values, variant)):
                        what = ("the hidden state is o * c, without the tanh of the cell" if kind == "no_tanh"
                                else "the gates are read in another order than PyTorch's")
                        raise CheckFailed(f"{context}: your step differs from nn.LSTM's: {what}.", kind=kind)
        expect_tensor(got[0], expected[0], context=f"{context}, h_new", rtol=1e-4, atol=1e-5)
        expect_tensor(got[1], expected[1], context=f"{context}, c_new", rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- the memory time constant


@register(
    "04.memory_time_constant",
    hints={
        "overflow": ("in floating point sigmoid(b) rounds to exactly 1 once b is large, and e^(-b) overflows once "
                     "b is very negative: compute the logarithm without forming sigmoid(b) first",
                     "-ln sigmoid(b) equals ln(1 + e^(-b)); the math module's log1p keeps it exact when e^(-b) "
                     "is tiny, and for negative b you can take -b out: ln(1 + e^(-b)) = -b + ln(1 + e^(b))"),
        "*": ("a gate held at sigmoid(b) multiplies what it keeps by that factor at every step; after k steps "
              "the factor is exp(k ln sigmoid(b)); the time constant tau is the k where that reaches 1/e",
              "tau = -1 / ln sigmoid(b), a positive number of steps (about e^b for large b)"),
    },
    cases=24,
    forbidden=("textrnn_lab.gradients.probes.memory_time_constant", "torch.nn.functional.logsigmoid",
               "torch.nn.functional.softplus", "torch.special.log_expit"),
)
def _check_memory_time_constant(func, rng, cases, _reference=_ref_time_constant, _isclose=math.isclose,
                                _isfinite=math.isfinite):
    expect_callable(func, "memory_time_constant(bias)")
    fixed = [0.0, 1.0, 3.0, 4.0, -2.0, 40.0, 100.0, -800.0]
    for case in range(cases):
        b = fixed[case] if case < len(fixed) else float(rng.uniform(-12.0, 12.0))
        if case >= len(fixed) and case % 5 == 0:
            b = float(rng.uniform(38.0, 300.0)) * (1 if case % 2 else -1)
        expected = _reference(b)
        context = f"memory_time_constant({b:g})"
        try:
            got = func(b)
        except (OverflowError, ZeroDivisionError) as exc:
            raise CheckFailed(f"{context}: raised {type(exc).__name__}; expected {expected:.6g}.",
                              kind="overflow") from None
        value = as_float(got, context=context)
        kind = "overflow" if abs(b) > 30 else "values"
        if not _isfinite(value) or not _isclose(value, expected, rel_tol=1e-9):
            raise CheckFailed(f"{context}: expected {expected:.10g} steps, got {value:.10g}.", kind=kind)
