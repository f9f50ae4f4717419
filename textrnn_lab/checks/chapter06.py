"""Checks for chapter 06 (encoder-decoders).

* ``06.decoder_step``: ``decoder_step(y_prev, state, embedding, gru, out_weight, out_bias) -> (logits, state)``,
  one step of a GRU decoder without attention;
* ``06.prune_beams``: ``prune_beams(scores, log_probs, beam_size) -> (new_scores, parents, tokens)``,
  the pruning step of beam search.

The references are bound as default arguments when this module is imported, so
patching ``textrnn_lab.seq2seq`` later changes nothing.
"""
from __future__ import annotations

import torch
from torch import nn

from ..seq2seq.decoding import prune_beams as _ref_prune_beams
from ..seq2seq.model import decoder_step as _ref_decoder_step
from . import CheckFailed, register
from .compare import brief, expect_callable, expect_tensor, plain, type_name


def _seed(rng) -> int:
    return int(rng.integers(0, 2**31 - 1))


def _tuple_of(result, n: int, what: str, context: str) -> tuple:
    if not isinstance(result, (tuple, list)) or len(result) != n:
        raise CheckFailed(f"{context}: expected a tuple {what}, got {type_name(result)} {brief(result)}".rstrip()
                          + ".", kind="type")
    return tuple(result)


# --------------------------------------------------------------------------- one decoder step


def _decoder_case(rng, case: int):
    torch.manual_seed(_seed(rng))
    V, E, H = int(rng.integers(3, 12)), int(rng.integers(1, 7)), int(rng.integers(1, 7))
    L = 1 if case < 4 else int(rng.integers(1, 3))
    B = 1 if case == 0 else int(rng.integers(2, 6))
    gru = nn.GRU(E, H, num_layers=L, batch_first=True)
    embedding = torch.randn(V, E)
    out_weight, out_bias = torch.randn(V, H), torch.randn(V)
    y_prev = torch.from_numpy(rng.integers(0, V, size=B)).to(torch.long)
    state = torch.randn(L, B, H)
    return y_prev, state, embedding, gru, out_weight, out_bias


@register(
    "06.decoder_step",
    hints={
        "shape": ("one step reads one token per sequence and returns one distribution per sequence: the GRU "
                  "wants a time axis, of length one, between the batch and the features, and the logits have none",
                  "the token vectors are [B, E]; the GRU is batch_first, so give it [B, 1, E] together with the "
                  "state [L, B, H]; it returns outputs [B, 1, H] and the new state [L, B, H]; the logits are "
                  "[B, V]"),
        "layer": ("the output layer reads the state the top GRU layer has just computed, not the bottom one",
                  "with two layers the new state has two rows [2, B, H]; the GRU's output at the single step is "
                  "the top row, and that is what the output weights project"),
        "old_state": ("the logits must come from the state after reading y_prev, not from the state that came in",
                      "run the GRU first, then project its new output with out_weight and out_bias"),
        "*": ("a decoder step is: look up the vector of each previous token, advance the GRU by one step from "
              "the given state, and project the new top-layer state to one score per target token",
              "the embedding's row number i is token i's vector; the projection is the matrix product with the "
              "transpose of out_weight [V, H], plus out_bias [V]; return the logits and the GRU's new state"),
    },
    cases=16,
    forbidden=("textrnn_lab.seq2seq.model.decoder_step",),
)
def _check_decoder_step(func, rng, cases, _reference=_ref_decoder_step):
    expect_callable(func, "decoder_step(y_prev, state, embedding, gru, out_weight, out_bias)")
    for case in range(cases):
        y_prev, state, embedding, gru, out_weight, out_bias = _decoder_case(rng, case)
        with torch.no_grad():
            want_logits, want_state = _reference(y_prev, state, embedding, gru, out_weight, out_bias)
        L, B, H = state.shape
        context = (f"decoder_step(y_prev of shape ({B},), state of shape {tuple(state.shape)}, embedding of shape "
                   f"{tuple(embedding.shape)}, nn.GRU({gru.input_size}, {H}, num_layers={L}, batch_first=True), "
                   f"out_weight of shape {tuple(out_weight.shape)}, out_bias)")
        given = [t.clone() for t in (y_prev, state, embedding, out_weight, out_bias)]
        got = _tuple_of(func(*given[:3], gru, *given[3:]), 2, "(logits, state)", context)
        for before, after in zip((y_prev, state, embedding, out_weight, out_bias), given):
            if not torch.equal(before, plain(after)):
                raise CheckFailed(f"{context}: your function changed one of its input tensors; leave them as they are.")
        logits, new_state = plain(got[0]), plain(got[1])
        if isinstance(logits, torch.Tensor) and logits.shape == want_logits.shape:
            close = lambda a, b: torch.allclose(a.detach().float(), b, rtol=1e-4, atol=1e-5)  # noqa: E731
            if L > 1 and close(logits, want_state[0] @ out_weight.T + out_bias):
                raise CheckFailed(f"{context} -> logits: these are the projection of the bottom layer's new state.",
                                  kind="layer")
            if close(logits, state[-1] @ out_weight.T + out_bias) and not close(logits, want_logits):
                raise CheckFailed(f"{context} -> logits: these are the projection of the incoming state.",
                                  kind="old_state")
        expect_tensor(logits, want_logits, context=context + " -> logits", rtol=1e-4, atol=1e-5)
        expect_tensor(new_state, want_state, context=context + " -> state", rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- beam search's pruning


def _beam_case(rng, case: int):
    B, K, V = int(rng.integers(1, 4)), int(rng.integers(1, 5)), int(rng.integers(2, 9))
    if case == 0:
        B, K, V = 1, 2, 3
    log_probs = torch.from_numpy(rng.normal(0, 2, size=(B, K, V))).float().log_softmax(-1)
    scores = torch.from_numpy(-rng.uniform(0, 6, size=(B, K))).float()
    beam_size = K
    if case in (1, 2):  # the first step: one live prefix, the other slots empty (-inf)
        K = max(K, 2)
        log_probs = torch.from_numpy(rng.normal(0, 2, size=(B, K, V))).float().log_softmax(-1)
        scores = torch.full((B, K), float("-inf"))
        scores[:, 0] = 0.0
        beam_size = min(K, V)
    elif case >= 6 and rng.random() < 0.5:
        beam_size = int(rng.integers(1, K * V + 1))
    return scores, log_probs, beam_size


@register(
    "06.prune_beams",
    hints={
        "type": ("return three tensors: the kept totals, which prefix each came from, and which token extends it",),
        "shape": ("keep beam_size candidates for each sequence of the batch, whatever K was",
                  "all three results are [B, beam_size]"),
        "scores": ("a candidate's score is the total log-probability of the whole prefix, not only of its last "
                   "token: add the prefix's score to each next-token log-probability",
                   "scores is [B, K]; add it along a new last axis to log_probs [B, K, V]"),
        "order": ("the kept candidates come best first", "sort by the total score, largest first"),
        "*": ("each candidate is one live prefix followed by one token; compare all K times V candidates of a "
              "sequence together (not beam by beam) and keep the beam_size best",
              "lay the [K, V] candidates of each sequence out as one row of K*V totals; for the kept position p, "
              "the prefix is p divided by V (rounded down) and the token the remainder"),
    },
    cases=20,
    forbidden=("textrnn_lab.seq2seq.decoding.prune_beams",),
)
def _check_prune_beams(func, rng, cases, _reference=_ref_prune_beams):
    expect_callable(func, "prune_beams(scores, log_probs, beam_size)")
    for case in range(cases):
        scores, log_probs, beam_size = _beam_case(rng, case)
        want = _reference(scores, log_probs, beam_size)
        B, K, V = log_probs.shape
        context = f"prune_beams(scores of shape ({B}, {K}), log_probs of shape ({B}, {K}, {V}), beam_size={beam_size})"
        got = _tuple_of(func(scores.clone(), log_probs.clone(), beam_size), 3, "(new_scores, parents, tokens)",
                        context)
        new_scores, parents, tokens = (plain(g) for g in got)
        for name, value in (("new_scores", new_scores), ("parents", parents), ("tokens", tokens)):
            if not isinstance(value, torch.Tensor):
                raise CheckFailed(f"{context} -> {name}: expected a torch.Tensor, got {type_name(value)}.", kind="type")
            if tuple(value.shape) != (B, beam_size):
                raise CheckFailed(f"{context} -> {name}: expected shape {(B, beam_size)}, got {tuple(value.shape)}.",
                                  kind="shape")
        if new_scores.is_floating_point():
            only_tokens = log_probs.reshape(B, -1).topk(beam_size, dim=-1).values
            if K > 1 and torch.allclose(new_scores, only_tokens) and not torch.allclose(new_scores, want[0]):
                raise CheckFailed(f"{context} -> new_scores: these are the best next-token log-probabilities alone.",
                                  kind="scores")
            if torch.allclose(new_scores.sort(dim=-1, descending=True).values, want[0]) and \
                    not torch.allclose(new_scores, want[0]):
                raise CheckFailed(f"{context} -> new_scores: the right values, in the wrong order.", kind="order")
        expect_tensor(new_scores, want[0], context=context + " -> new_scores", rtol=1e-5, atol=1e-6)
        expect_tensor(parents, want[1], context=context + " -> parents")
        expect_tensor(tokens, want[2], context=context + " -> tokens")
