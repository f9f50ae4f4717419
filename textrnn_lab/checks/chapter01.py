"""Checks for chapter 01 (RNN text generation).

* ``01.make_pairs``: ``make_pairs(ids, seq_len) -> (x, y)``, the (input, target) windows.
* ``01.next_char_probs``: ``next_char_probs(logits, temperature, top_k=None) -> probs``.
* ``01.sample_next``: ``sample_next(logits, temperature, top_k=None, generator=None) -> id``.
* ``01.gru_step``: ``gru_step(x, h, weight_ih, weight_hh, bias_ih, bias_hh) -> h_next``, one GRU step
  with torch operations, compared with ``nn.GRU`` holding the same weights.

Each check's ``forbidden=`` names the package's own answer and the built-ins that
would do the exercise's work (for the GRU step: ``nn.GRU``, ``nn.GRUCell`` and the
fused ``torch.gru_cell``); a graded submission that calls one earns no points.

The references are bound as default arguments when this module is imported,
so patching ``textrnn_lab.lm`` or ``torch.softmax`` later changes nothing.
"""
from __future__ import annotations

import torch

from ..lm.batching import input_target_pairs
from ..lm.sampling import next_char_probs
from . import CheckFailed, register
from .compare import brief, expect_callable, expect_tensor, plain, repeated_calls, type_name


def _as_pair(result, context: str):
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise CheckFailed(f"{context}: expected a pair (x, y), got {type_name(result)} {brief(result)}".rstrip() + ".",
                          kind="type")
    return result


@register(
    "01.make_pairs",
    hints={
        "shape": ("only whole windows count: the last target needs one more id than its input, so count the "
                  "windows from one id fewer than the text has",
                  "both tensors have shape [n, seq_len], with n the number of complete windows that fit into "
                  "all ids but the last; a partial window at the end is dropped"),
        "*": ("each target is the input window moved one character to the right: y[i, t] is the character that "
              "follows x[i, t] in the text",
              "cut consecutive, non-overlapping windows of seq_len ids for x; y is cut the same way from the ids "
              "starting one position later"),
    },
    forbidden=("textrnn_lab.lm.batching.input_target_pairs",),
)
def _check_make_pairs(make_pairs, rng, cases, _reference=input_target_pairs):
    expect_callable(make_pairs, "make_pairs(ids, seq_len)")
    for case in range(cases):
        if case == 0:  # exactly one window: the last target is the last character
            seq_len = int(rng.integers(1, 9))
            n_chars = seq_len + 1
        elif case == 1:  # a length that is an exact multiple of seq_len: one character too few for another window
            seq_len = int(rng.integers(2, 9))
            n_chars = seq_len * int(rng.integers(2, 6))
        elif case == 2:  # seq_len 1: pairs of neighbours
            seq_len, n_chars = 1, int(rng.integers(2, 12))
        else:
            seq_len = int(rng.integers(1, 20))
            n_chars = int(rng.integers(seq_len + 1, 200))
        ids = torch.from_numpy(rng.integers(0, 60, size=n_chars)).to(torch.long)
        x_ref, y_ref = _reference(ids.clone(), seq_len)
        context = f"make_pairs({brief(ids)}, seq_len={seq_len})"
        x, y = _as_pair(make_pairs(ids.clone(), seq_len), context)
        x, y = plain(x), plain(y)
        expect_tensor(x, x_ref, context=context + " -> x")
        expect_tensor(y, y_ref, context=context + " -> y")


def _logits(rng, shape) -> torch.Tensor:
    return torch.from_numpy(rng.normal(0.0, 2.0, size=shape)).to(torch.float32)


@register(
    "01.next_char_probs",
    hints={
        "shape": ("the probabilities have the shape of the logits: one distribution over the vocabulary per row",),
        "*": ("temperature divides the logits before the softmax (low: sharper, high: flatter); top-k keeps only "
              "the k largest logits and gives every other symbol probability 0",
              "temperature 0 is the limit of sharpening: all the probability on the largest logit. For top-k, "
              "mask every logit below the k-th largest with minus infinity before the softmax, so the kept "
              "probabilities are renormalised and keep their ratios"),
    },
    forbidden=("textrnn_lab.lm.sampling.next_char_probs",),
)
def _check_next_char_probs(next_char_probs_fn, rng, cases, _reference=next_char_probs):
    expect_callable(next_char_probs_fn, "next_char_probs(logits, temperature, top_k=None)")
    for case in range(cases):
        V = int(rng.integers(2, 40))
        shape = (V,) if case % 3 else (int(rng.integers(2, 5)), V)
        if case == 0:
            temperature, top_k = 1.0, None  # a plain softmax
        elif case == 1:
            temperature, top_k = 0.0, None  # greedy
        elif case == 2:
            temperature, top_k = 1.0, 1  # top-1 is greedy too
        elif case == 3:
            temperature, top_k = float(rng.uniform(0.2, 3.0)), V  # k = V keeps everything
        else:
            temperature = [0.0, 0.5, 1.0, 2.0, float(rng.uniform(0.1, 3.0))][int(rng.integers(0, 5))]
            top_k = None if rng.random() < 0.4 else int(rng.integers(1, V + 1))
        logits = _logits(rng, shape)
        expected = _reference(logits.clone(), temperature, top_k)
        context = f"next_char_probs({brief(logits)}, temperature={temperature:g}, top_k={top_k})"
        got = plain(next_char_probs_fn(logits.clone(), temperature, top_k))
        if isinstance(got, torch.Tensor) and got.dtype != torch.float32 and got.is_floating_point():
            got = got.float()
        expect_tensor(got, expected, context=context, rtol=1e-4, atol=1e-6)


def _as_index(value, context: str) -> int:
    if isinstance(value, torch.Tensor):
        value = plain(value)
        if value.numel() != 1 or value.is_floating_point():
            raise CheckFailed(f"{context}: expected one integer id, got {brief(value)}.")
        return int(value.item())
    if isinstance(value, bool) or not isinstance(value, int):
        raise CheckFailed(f"{context}: expected an integer id, got {type_name(value)} {brief(value)}".rstrip() + ".")
    return value


def _frequencies(sample, logits, temperature, top_k, draws: int, generator) -> torch.Tensor:
    counts = torch.zeros(logits.shape[-1])
    context = f"sample_next({brief(logits)}, temperature={temperature:g}, top_k={top_k})"
    for value in repeated_calls(sample, (logits, temperature, top_k, generator), draws):
        index = _as_index(value, context)
        if not 0 <= index < logits.shape[-1]:
            raise CheckFailed(f"{context} returned {index}, which is not an id in 0..{logits.shape[-1] - 1}.")
        counts[index] += 1
    return counts / draws


@register(
    "01.sample_next",
    hints=("sampling draws one id at random with the probabilities of your next_char_probs, using the generator "
           "you are given so the draw can be repeated",
           "draw exactly one sample from the categorical distribution and return it as a plain integer; at "
           "temperature 0 there is nothing to draw: return the most likely id"),
    forbidden=("textrnn_lab.lm.sampling.sample_next", "textrnn_lab.lm.sampling.next_char_probs"),
)
def _check_sample_next(sample_next, rng, cases, _probs=next_char_probs):
    expect_callable(sample_next, "sample_next(logits, temperature, top_k=None, generator=None)")
    generator = torch.Generator().manual_seed(int(rng.integers(0, 2**31)))
    # temperature 0 (and top-1) is greedy: always the arg-max, no randomness
    for case in range(cases):
        V = int(rng.integers(2, 40))
        logits = _logits(rng, (V,))
        temperature, top_k = (0.0, None) if case % 2 == 0 else (float(rng.uniform(0.5, 2.0)), 1)
        context = f"sample_next({brief(logits)}, temperature={temperature:g}, top_k={top_k})"
        got = _as_index(sample_next(logits.clone(), temperature, top_k, generator), context)
        if got != int(logits.argmax()):
            raise CheckFailed(f"{context}: expected the arg-max {int(logits.argmax())} (greedy), got {got}.")
    # top-k never samples outside the k most likely characters
    for _ in range(3):
        V = int(rng.integers(8, 30))
        k = int(rng.integers(2, 5))
        logits = _logits(rng, (V,))
        allowed = set(torch.topk(logits, k).indices.tolist())
        freq = _frequencies(sample_next, logits, 3.0, k, 150, generator)
        outside = [i for i in torch.nonzero(freq).flatten().tolist() if i not in allowed]
        if outside:
            raise CheckFailed(f"sample_next(..., temperature=3, top_k={k}) drew id {outside[0]}, which is not among "
                              f"the {k} most likely {sorted(allowed)}.")
    # the draws follow the distribution (a generous 5-sigma band)
    draws = 1500
    for temperature, top_k in ((0.5, None), (1.5, 3)):
        logits = torch.tensor([0.0, 1.0, 2.0, 2.5, 3.0])[torch.from_numpy(rng.permutation(5))]
        expected = _probs(logits, temperature, top_k)
        freq = _frequencies(sample_next, logits, temperature, top_k, draws, generator)
        band = 5 * torch.sqrt(expected * (1 - expected) / draws) + 0.01
        bad = torch.nonzero((freq - expected).abs() > band).flatten().tolist()
        if bad:
            i = bad[0]
            raise CheckFailed(
                f"sample_next({brief(logits)}, temperature={temperature:g}, top_k={top_k}) over {draws} draws "
                f"picked id {i} {freq[i]:.1%} of the time, but its probability is {expected[i]:.1%}.")
    return f"{cases} greedy cases, top-k support and sampling frequencies agree with the reference."


def _gru_variants(x, h, w_ih, w_hh, b_ih, b_hh):
    """What the two usual mistakes compute: the update gate read the other way round, the reset before W_hn."""
    H = h.shape[-1]
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    r = torch.sigmoid(gi[:, :H] + gh[:, :H])
    z = torch.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
    n = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
    n_reset_first = torch.tanh(gi[:, 2 * H:] + (r * h) @ w_hh[2 * H:].T + b_hh[2 * H:])
    return {"update": z * n + (1 - z) * h, "reset": (1 - z) * n_reset_first + z * h}


@register(
    "01.gru_step",
    hints={
        "update": ("your update gate mixes the old state and the candidate the other way round: in PyTorch's "
                   "convention z is the share of the OLD state that is kept",
                   "the new state is the candidate weighted by one minus the update gate, plus the previous "
                   "state weighted by the update gate itself"),
        "reset": ("the reset gate is applied in the wrong place: PyTorch multiplies it with the recurrent part of "
                  "the candidate after the matrix product and its bias, not with the state before it",
                  "the candidate is tanh of (input rows of the third block, with their bias) plus the reset gate "
                  "times (the recurrent rows of the third block applied to the previous state, plus their bias)"),
        "shape": ("the new state has the shape of the previous one: one row of H numbers per example",
                  "the stacked matrices have 3H rows; the first H rows belong to the reset gate, the next H to "
                  "the update gate, the last H to the candidate"),
        "*": ("a GRU step computes two gates and a candidate from the input and the previous state, each from "
              "its own block of rows of the stacked weights and biases, then mixes the candidate with the old "
              "state",
              "reset and update gates are logistic sigmoids of (input part + recurrent part); the candidate is a "
              "tanh whose recurrent part is scaled by the reset gate; the blocks are in the order reset, update, "
              "candidate"),
    },
    forbidden=("textrnn_lab.lm.cells.gru_step", "torch.nn.GRU.forward", "torch.nn.GRUCell.forward",
               "torch.gru_cell", "torch.gru"),
)
def _check_gru_step(gru_step, rng, cases, _gru=torch.nn.GRU):
    expect_callable(gru_step, "gru_step(x, h, weight_ih, weight_hh, bias_ih, bias_hh)")
    torch_seed = int(rng.integers(0, 2**31))
    for case in range(cases):
        B, E, H = int(rng.integers(1, 5)), int(rng.integers(1, 7)), int(rng.integers(1, 9))
        torch.manual_seed(torch_seed + case)
        gru = _gru(E, H, batch_first=True)
        with torch.no_grad():
            for p in gru.parameters():
                p.normal_(0.0, 0.8)
            if case == 1:  # update gate near 1: the state must pass through almost unchanged
                gru.bias_ih_l0[H:2 * H] += 4.0
            if case == 2:  # a large recurrent bias of the candidate: tells where the reset is applied
                gru.bias_hh_l0[2 * H:] += 2.5
                gru.bias_ih_l0[:H] -= 1.0
        x = _logits(rng, (B, E)) / 2
        h = torch.zeros(B, H) if case == 0 else torch.tanh(_logits(rng, (B, H)))
        weights = [t.detach().clone() for t in (gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0)]
        with torch.no_grad():
            expected = gru(x[:, None, :], h[None])[0][:, 0]    # [B, H]
        context = f"gru_step(x {list(x.shape)}, h {list(h.shape)}, weights for E={E}, H={H})"
        got = plain(gru_step(x.clone(), h.clone(), *[w.clone() for w in weights]))
        if isinstance(got, torch.Tensor) and got.shape == expected.shape and got.is_floating_point() \
                and not torch.allclose(got.float(), expected, rtol=1e-4, atol=1e-5):
            for kind, wrong in _gru_variants(x, h, *weights).items():
                if torch.allclose(got.float(), wrong, rtol=1e-4, atol=1e-5):
                    mistake = "the update gate reversed" if kind == "update" else "the reset applied before the matrix"
                    raise CheckFailed(f"{context}: your state differs from nn.GRU's with the same weights, and "
                                      f"matches a GRU with {mistake}.", kind=kind)
        expect_tensor(got, expected, context=context, rtol=1e-4, atol=1e-5)
    return f"{cases} random steps agree with nn.GRU holding the same weights."
