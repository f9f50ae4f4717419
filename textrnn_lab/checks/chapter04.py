"""Checks for chapter 04 (vanishing and exploding gradients).

* ``04.input_gradient_norms``: ``f(rnn, x, loss_fn=last_step_sum) -> FloatTensor[T]``,
  the norm of dL/dx_t per time step;
* ``04.keep_gate_bias``: ``f(rnn, value)`` sets the LSTM forget / GRU update gate bias;
* ``04.clip_grad_norm``: ``f(parameters, max_norm) -> total norm``, clipping by global norm;
* ``04.gru_step``: ``f(x, h, weight_ih, weight_hh, bias_ih, bias_hh) -> h_new``, one GRU step from scratch,
  compared with ``nn.GRU`` given the same weights;
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


# --------------------------------------------------------------------------- a GRU step from scratch


def _gru_variants(x, h, w_ih, w_hh, b_ih, b_hh):
    """The two usual mistakes, for a targeted message: the other convention, and the reset inside the product."""
    i_r, i_z, i_n = (x @ w_ih.T + b_ih).chunk(3, dim=-1)
    h_r, h_z, h_n = (h @ w_hh.T + b_hh).chunk(3, dim=-1)
    r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    hh = w_hh.shape[1]
    n_inside = torch.tanh(i_n + (r * h) @ w_hh[2 * hh:].T + b_hh[2 * hh:])
    return {"swapped": z * n + (1 - z) * h, "reset_inside": (1 - z) * n_inside + z * h}


@register(
    "04.gru_step",
    hints={
        "swapped": ("your update gate weighs the two terms the other way round: in PyTorch's convention z keeps "
                    "the old state",
                    "the new state is (1 - z) times the candidate plus z times the previous state"),
        "reset_inside": ("PyTorch applies the reset gate to the whole recurrent term of the candidate, its bias "
                         "included, not to the state before the matrix product",
                         "the candidate is tanh of (the input part of the new-gate block) plus r times (the "
                         "recurrent part of that block, with its bias)"),
        "*": ("one step of a GRU mixes the previous state with a candidate state, weighted by an update gate; "
              "a reset gate decides how much of the previous state the candidate may read",
              "the stacked weights hold three blocks of hidden_size rows each, in the order reset, update, new: "
              "compute the input part and the recurrent part of all three, split each into thirds along the "
              "last dimension, take the sigmoid of the sums for r and z, and tanh for the candidate"),
    },
    cases=20,
    forbidden=("textrnn_lab.gradients.cells.gru_step", "torch.nn.modules.rnn.GRU.forward",
               "torch.nn.modules.rnn.GRUCell.forward", "torch.gru_cell", "torch.gru"),
)
def _check_gru_step(func, rng, cases, _gru=nn.GRU, _allclose=torch.allclose):
    expect_callable(func, "gru_step(x, h, weight_ih, weight_hh, bias_ih, bias_hh)")
    for case in range(cases):
        batch = 1 if case == 0 else int(rng.integers(1, 5))
        in_size, hidden = int(rng.integers(1, 6)), int(rng.integers(1, 7))
        torch.manual_seed(_seed(rng))
        gru = _gru(in_size, hidden, batch_first=True)
        with torch.no_grad():  # larger, random biases, so that every term matters
            for p in gru.parameters():
                p.copy_(torch.randn(p.shape) * float(rng.choice([0.5, 1.0, 2.0])))
        x = torch.randn(batch, in_size)
        h = torch.randn(batch, hidden) if case else torch.zeros(batch, hidden)
        w_ih, w_hh = gru.weight_ih_l0.detach().clone(), gru.weight_hh_l0.detach().clone()
        b_ih, b_hh = gru.bias_ih_l0.detach().clone(), gru.bias_hh_l0.detach().clone()
        with torch.no_grad():
            _, expected = gru(x.unsqueeze(1), h.unsqueeze(0))  # one step of the module itself
        expected = expected[0]
        context = (f"gru_step(x {tuple(x.shape)}, h {tuple(h.shape)}, weights of nn.GRU({in_size}, {hidden}))"
                   + (" with h = 0" if case == 0 else ""))
        got = func(x.clone(), h.clone(), w_ih.clone(), w_hh.clone(), b_ih.clone(), b_hh.clone())
        if isinstance(got, tuple) and len(got) == 2:
            raise CheckFailed(f"{context}: return the new state alone, a tensor [B, H], not a pair.", kind="type")
        if isinstance(got, torch.Tensor) and tuple(got.shape) == tuple(expected.shape):
            values = plain(got).detach().float()
            if not _allclose(values, expected, rtol=1e-4, atol=1e-5):
                for kind, variant in _gru_variants(x, h, w_ih, w_hh, b_ih, b_hh).items():
                    if _allclose(values, variant, rtol=1e-4, atol=1e-5):
                        what = ("z weighs the candidate and 1 - z the old state: that is the other convention"
                                if kind == "swapped" else "the reset gate multiplies h before the matrix product")
                        raise CheckFailed(f"{context}: your step differs from nn.GRU's: {what}.", kind=kind)
        expect_tensor(got, expected, context=context, rtol=1e-4, atol=1e-5)


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
