"""Checks for chapter 07 (attention).

* ``07.attention_step``: ``f(query [B, H], keys [B, S, H], mask [B, S]) -> (context [B, H], weights [B, S])``,
  one decoder step of dot-product attention over the source, padding masked out;
* ``07.scaled_dot_product_attention``: ``f(q [B, T, A], k [B, S, A], v [B, S, H], mask=None, causal=False)
  -> (out [B, T, H], weights [B, T, S])``, the core of self-attention, written out;
* ``07.multihead_parameter_count``: ``f(embed_dim, num_heads, key_dim) -> int``, the parameters of a
  multi-head attention layer (query, key, value and output projections with biases).

The references are bound as default arguments when this module is imported, so
patching ``textrnn_lab.attention`` later changes nothing.
"""
from __future__ import annotations

import torch

from ..attention.alignment import DotProductAttention
from ..attention.masks import padding_mask as _padding_mask
from ..attention.scaled import multihead_parameter_count as _ref_count
from ..attention.scaled import scaled_dot_product_attention as _ref_sdpa
from . import CheckFailed, register
from .compare import brief, expect_callable, expect_tensor, plain, type_name

_DOT = DotProductAttention(1)  # Luong's plain dot product: no parameters, so one instance fits every size
_TORCH_ATTENTION = ("torch.nn.functional.scaled_dot_product_attention",
                    "torch.nn.functional.multi_head_attention_forward")


def _seed(rng) -> int:
    return int(rng.integers(0, 2**31 - 1))


def _pair(got, context: str):
    """The two tensors of a (first, weights) answer, or a failure that says what came back instead."""
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise CheckFailed(f"{context}: return a pair (output, weights), got {type_name(got)} {brief(got)}".rstrip()
                          + ".", kind="type")
    return got[0], got[1]


def _lengths(rng, batch: int, size: int) -> torch.Tensor:
    lengths = torch.from_numpy(rng.integers(1, size + 1, size=batch))
    lengths[int(rng.integers(0, batch))] = size  # one row with no padding: the widest
    return lengths


def _expect_zero_where_masked(weights: torch.Tensor, allowed: torch.Tensor, context: str) -> None:
    leaked = plain(weights).detach().masked_select(~allowed)
    if leaked.numel() and float(leaked.abs().max()) != 0.0:
        raise CheckFailed(f"{context}: positions that are masked out got weight {float(leaked.abs().max()):.3g}; "
                          "they must get exactly 0.", kind="mask")


# --------------------------------------------------------------------------- one decoder step


@register(
    "07.attention_step",
    hints={
        "mask": ("padding is not part of the source: a padded position must get exactly zero weight, whatever its "
                 "score",
                 "before the softmax, replace the scores of masked positions by minus infinity; exp of minus "
                 "infinity is exactly 0, whereas multiplying the weights by the mask afterwards leaves rows that "
                 "no longer sum to 1"),
        "shape": ("one weight per source position for each sequence, and one context vector of the keys' size",
                  "the scores are the dot products of the query with every key, one number per (sequence, source "
                  "position); the context is the weighted sum of the keys over the source positions"),
        "*": ("the decoder state asks each encoder output how well it matches: the match is their dot product, "
              "turned into weights that are positive and sum to one over the real source positions",
              "scores [B, S] from a batched product of the keys with the query, a softmax over the source "
              "dimension, then the context as the weights times the keys, summed over S"),
    },
    cases=20,
    forbidden=("textrnn_lab.attention.alignment.attend", "textrnn_lab.attention.masks.masked_softmax",
               "textrnn_lab.attention.alignment.DotProductAttention.forward", *_TORCH_ATTENTION),
)
def _check_attention_step(func, rng, cases, _reference=_DOT.forward, _mask=_padding_mask):
    expect_callable(func, "attention_step(query, keys, mask)")
    for case in range(cases):
        batch, size, hidden = int(rng.integers(1, 5)), int(rng.integers(1, 8)), int(rng.integers(1, 7))
        gen = torch.Generator().manual_seed(_seed(rng))
        scale = 4.0 if case % 3 == 2 else 1.0  # large scores: softmax must still be stable
        query = torch.randn(batch, hidden, generator=gen) * scale
        keys = torch.randn(batch, size, hidden, generator=gen)
        mask = _mask(_lengths(rng, batch, size), size)
        if case >= 2:  # junk in the padding must not matter
            keys = torch.where(mask[..., None], keys, 50 * torch.randn(keys.shape, generator=gen))
        want_context, want_weights = _reference(query, keys, mask)
        given = (query.clone(), keys.clone(), mask.clone())
        context_text = (f"attention_step(query {tuple(query.shape)}, keys {tuple(keys.shape)}, mask of lengths "
                        f"{mask.sum(-1).tolist()})")
        context, weights = _pair(func(*given), context_text)
        if not (torch.equal(given[0], query) and torch.equal(given[1], keys) and torch.equal(given[2], mask)):
            raise CheckFailed(f"{context_text}: your function changed its inputs; work on new tensors.")
        expect_tensor(weights, want_weights, context=f"{context_text}, weights", rtol=1e-4, atol=1e-6)
        _expect_zero_where_masked(weights, mask, f"{context_text}, weights")
        expect_tensor(context, want_context, context=f"{context_text}, context", rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- scaled dot-product attention


def _sdpa_case(rng, case: int):
    batch, queries, width = int(rng.integers(1, 4)), int(rng.integers(1, 7)), int(rng.integers(1, 9))
    causal = case % 4 == 3
    keys = queries if causal or case % 2 == 0 else int(rng.integers(1, 7))  # self-attention: as many keys as queries
    gen = torch.Generator().manual_seed(_seed(rng))
    q = torch.randn(batch, queries, width, generator=gen) * (3.0 if case % 5 == 4 else 1.0)
    k = torch.randn(batch, keys, width, generator=gen)
    v = torch.randn(batch, keys, int(rng.integers(1, 6)), generator=gen)
    mask = None if case in (0, 3) else _padding_mask(_lengths(rng, batch, keys), keys)
    return q, k, v, mask, causal


@register(
    "07.scaled_dot_product_attention",
    hints={
        "mask": ("a masked key (padding, or the future when causal) must get exactly zero weight from every query",
                 "combine the padding mask of the keys, broadcast over the queries, with the lower-triangular "
                 "causal mask when asked; set the scores that are not allowed to minus infinity before the softmax"),
        "scale": ("your weights are too sharp or too flat: the scores are divided by a number that depends on the "
                  "size of the queries and keys",
                  "divide every score by the square root of the last dimension of the queries, A, before the "
                  "softmax"),
        "shape": ("each query gets one weight per key, and one output of the values' size",
                  "scores have shape [B, T, S]: queries times keys transposed over their last two dimensions; "
                  "the output is the weights times the values, [B, T, H]"),
        "*": ("each query compares itself with every key, turns the comparisons into a probability distribution "
              "over the keys, and returns the average of the values under that distribution",
              "scores = queries times transposed keys, scaled; masked scores to minus infinity; softmax over the "
              "key dimension; output = weights times values; return both"),
    },
    cases=24,
    forbidden=("textrnn_lab.attention.scaled.scaled_dot_product_attention",
               "textrnn_lab.attention.masks.masked_softmax", *_TORCH_ATTENTION),
)
def _check_sdpa(func, rng, cases, _reference=_ref_sdpa):
    expect_callable(func, "scaled_dot_product_attention(q, k, v, mask=None, causal=False)")
    for case in range(cases):
        q, k, v, mask, causal = _sdpa_case(rng, case)
        want_out, want_weights = _reference(q, k, v, mask, causal=causal)
        text = (f"scaled_dot_product_attention(q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}, "
                f"mask={'None' if mask is None else 'lengths ' + str(mask.sum(-1).tolist())}, causal={causal})")
        args = (q.clone(), k.clone(), v.clone(), None if mask is None else mask.clone())
        got = func(*args, causal=True) if causal else func(*args)
        out, weights = _pair(got, text)
        allowed = torch.ones(want_weights.shape, dtype=torch.bool)
        if mask is not None:
            allowed &= mask[:, None, :]
        if causal:
            allowed &= torch.ones(q.shape[1], k.shape[1], dtype=torch.bool).tril()
        if isinstance(weights, torch.Tensor) and tuple(weights.shape) == tuple(want_weights.shape):
            _expect_zero_where_masked(weights, allowed, f"{text}, weights")
            unscaled = _reference(q * (q.shape[-1] ** 0.5), k, v, mask, causal=causal)[1]  # no division by sqrt(A)
            if q.shape[-1] > 1 and torch.allclose(plain(weights).detach().float(), unscaled, atol=1e-5) \
                    and not torch.allclose(unscaled, want_weights, atol=1e-4):
                raise CheckFailed(f"{text}: your weights are those of the scores without the division by "
                                  f"sqrt({q.shape[-1]}).", kind="scale")
        expect_tensor(weights, want_weights, context=f"{text}, weights", rtol=1e-4, atol=1e-6)
        expect_tensor(out, want_out, context=f"{text}, output", rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- counting parameters


@register(
    "07.multihead_parameter_count",
    hints=("a multi-head attention layer holds four projections, each a weight matrix and a bias: queries, keys and "
           "values map the embedding to num_heads * key_dim numbers, the output maps those back to the embedding",
           "each of the three input projections has embed_dim * num_heads * key_dim weights and num_heads * "
           "key_dim biases; the output projection has num_heads * key_dim * embed_dim weights and embed_dim "
           "biases; add the four"),
    cases=25,
    forbidden=("textrnn_lab.attention.scaled.multihead_parameter_count",),
)
def _check_count(func, rng, cases, _reference=_ref_count):
    expect_callable(func, "multihead_parameter_count(embed_dim, num_heads, key_dim)")
    fixed = [(64, 4, 64), (64, 4, 16), (1, 1, 1), (512, 8, 64)]
    for case in range(cases):
        if case < len(fixed):
            embed, heads, key = fixed[case]
        else:
            embed, heads, key = (int(x) for x in rng.integers(1, 129, size=3))
            heads = max(1, heads % 17)
        want = _reference(embed, heads, key)
        got = func(embed, heads, key)
        text = f"multihead_parameter_count({embed}, {heads}, {key})"
        if isinstance(got, bool) or not isinstance(got, int) and not (isinstance(got, float) and got.is_integer()):
            if isinstance(got, torch.Tensor) and got.numel() == 1 and not got.is_floating_point():
                got = int(plain(got))
            else:
                raise CheckFailed(f"{text}: expected a whole number, got {type_name(got)} {brief(got)}".rstrip() + ".",
                                  kind="type")
        if int(got) != want:
            raise CheckFailed(f"{text}: expected {want:,}, got {int(got):,}.", kind="values")
