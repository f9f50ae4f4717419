"""Attention layers: masks give exactly zero weight, padding changes nothing at real positions,
the written-out formulas agree with PyTorch's own, and chapter 01's attention is causal self-attention."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from textrnn_lab.attention import (
    AdditiveAttention,
    DotProductAttention,
    MultiHeadSelfAttention,
    causal_mask,
    make_attention,
    masked_softmax,
    multihead_parameter_count,
    padding_mask,
    past_attention_weights,
    scaled_dot_product_attention,
    window_mask,
)
from textrnn_lab.errors import CourseError
from textrnn_lab.layers.rnn import count_parameters
from textrnn_lab.lm import CharLM, CharLMConfig

# --------------------------------------------------------------------------- masks


def test_padding_and_causal_masks():
    assert padding_mask(torch.tensor([3, 1, 0]), 4).tolist() == [
        [True, True, True, False], [True, False, False, False], [False] * 4]
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    assert window_mask(4, 2).tolist() == [[True, False, False, False], [True, True, False, False],
                                          [False, True, True, False], [False, False, True, True]]
    with pytest.raises(CourseError, match="shorter than the longest"):
        padding_mask(torch.tensor([5]), 3)


def test_masked_softmax_gives_exactly_zero_and_no_nan_for_empty_rows():
    scores = torch.tensor([[1e4, -2.0, 3.0], [0.5, 0.1, 9.0]])
    mask = torch.tensor([[False, True, True], [False, False, False]])
    w = masked_softmax(scores, mask)
    assert w[0, 0].item() == 0.0 and math.isclose(float(w[0].sum()), 1.0, rel_tol=1e-6)
    assert w[1].tolist() == [0.0, 0.0, 0.0]  # nothing allowed: zeros, not nan
    with pytest.raises(CourseError, match="bool"):
        masked_softmax(scores, mask.float())


# --------------------------------------------------------------------------- scaled dot-product


def test_scaled_dot_product_matches_pytorch_with_padding_and_causal_masks():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 5, 8), torch.randn(2, 5, 8), torch.randn(2, 5, 3)
    mask = padding_mask(torch.tensor([5, 3]), 5)
    out, w = scaled_dot_product_attention(q, k, v, mask)
    ref = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, :])
    assert torch.allclose(out, ref, atol=1e-6)
    assert w[1, :, 3:].abs().max().item() == 0.0  # masked keys get exactly zero weight
    out_c, w_c = scaled_dot_product_attention(q, k, v, causal=True)
    ref_c = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert torch.allclose(out_c, ref_c, atol=1e-6)
    assert torch.equal(w_c.triu(1), torch.zeros_like(w_c))  # never the future


def test_scaled_dot_product_divides_by_the_square_root_of_the_key_size():
    q = torch.ones(1, 1, 4)
    k = torch.tensor([[[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]]])
    _, w = scaled_dot_product_attention(q, k, torch.eye(2)[None])
    # scores 4 / sqrt(4) = 2 and 0
    assert torch.allclose(w, torch.softmax(torch.tensor([[[2.0, 0.0]]]), -1))


def test_adding_padding_changes_no_output_at_real_positions():
    torch.manual_seed(1)
    mha = MultiHeadSelfAttention(embed_dim=12, num_heads=3).eval()
    x = torch.randn(1, 4, 12)
    y, _ = mha(x, padding_mask(torch.tensor([4]), 4))
    padded = torch.cat([x, 100 * torch.randn(1, 6, 12)], dim=1)  # junk in the padding
    y_pad, w_pad = mha(padded, padding_mask(torch.tensor([4]), 10))
    assert torch.allclose(y_pad[:, :4], y, atol=1e-5)
    assert w_pad[..., 4:].abs().max().item() == 0.0
    y_unmasked, _ = mha(padded)  # without the mask the padding leaks in
    assert not torch.allclose(y_unmasked[:, :4], y, atol=1e-3)


def test_multihead_self_attention_equals_torch_multihead_attention():
    torch.manual_seed(2)
    mine = MultiHeadSelfAttention(embed_dim=8, num_heads=2).eval()
    ref = nn.MultiheadAttention(8, 2, batch_first=True).eval()
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([mine.query.weight, mine.key.weight, mine.value.weight]))
        ref.in_proj_bias.copy_(torch.cat([mine.query.bias, mine.key.bias, mine.value.bias]))
        ref.out_proj.weight.copy_(mine.out.weight)
        ref.out_proj.bias.copy_(mine.out.bias)
    x = torch.randn(3, 6, 8)
    mask = padding_mask(torch.tensor([6, 2, 4]), 6)
    y, w = mine(x, mask)
    y_ref, w_ref = ref(x, x, x, key_padding_mask=~mask, average_attn_weights=False)
    assert torch.allclose(y, y_ref, atol=1e-5) and torch.allclose(w, w_ref, atol=1e-6)
    assert count_parameters(mine) == count_parameters(ref) == multihead_parameter_count(8, 2, 4)


def test_multihead_parameter_count_for_full_size_heads():
    # four heads of key_dim 64 over 64-d embeddings (the question's classifier): 66,368
    assert multihead_parameter_count(64, 4, 64) == 66_368
    assert count_parameters(MultiHeadSelfAttention(64, 4, head_dim=64)) == 66_368


# --------------------------------------------------------------------------- a decoder's attention


@pytest.mark.parametrize("kind", ["additive", "dot", "general", "scaled"])
def test_decoder_attention_signature_and_masks(kind):
    torch.manual_seed(3)
    attn = make_attention(kind, 6)
    query, keys = torch.randn(2, 6), torch.randn(2, 5, 6)
    mask = padding_mask(torch.tensor([5, 2]), 5)
    context, weights = attn(query, keys, mask)
    assert context.shape == (2, 6) and weights.shape == (2, 5)
    assert weights[1, 2:].abs().max().item() == 0.0
    assert torch.allclose(weights.sum(-1), torch.ones(2))
    assert torch.allclose(context, torch.einsum("bs,bsh->bh", weights, keys), atol=1e-6)
    # more padding, with junk in it, changes nothing
    longer = torch.cat([keys, 50 * torch.randn(2, 3, 6)], dim=1)
    context2, weights2 = attn(query, longer, padding_mask(torch.tensor([5, 2]), 8))
    assert torch.allclose(context2, context, atol=1e-5) and torch.allclose(weights2[:, :5], weights, atol=1e-6)


def test_dot_attention_by_hand():
    attn = DotProductAttention(2)
    query = torch.tensor([[1.0, 0.0]])
    keys = torch.tensor([[[2.0, 0.0], [0.0, 5.0], [1.0, 1.0]]])
    _, w = attn(query, keys, torch.tensor([[True, True, False]]))
    e = torch.tensor([math.exp(2.0), math.exp(0.0)])
    assert torch.allclose(w[0, :2], e / e.sum()) and w[0, 2].item() == 0.0


def test_additive_attention_parameters_and_bad_input():
    attn = AdditiveAttention(4, key_size=6, attn_dim=3)
    assert count_parameters(attn) == 4 * 3 + (6 * 3 + 3) + 3
    with pytest.raises(CourseError, match="query"):
        attn(torch.randn(2, 3, 4), torch.randn(2, 5, 6))
    with pytest.raises(CourseError, match="unknown attention kind"):
        make_attention("cosine", 4)
    assert make_attention("none", 4) is None


# --------------------------------------------------------------------------- chapter 01, placed in the picture


def test_chapter01_past_attention_is_causal_self_attention():
    torch.manual_seed(4)
    model = CharLM(CharLMConfig(vocab_size=11, hidden_size=8, embed_dim=5, attention=True, attn_window=3,
                                attn_dim=4)).eval()
    x = torch.randint(0, 11, (2, 7))
    _, _, lm_weights = model(x, return_attention=True)   # [B, T, S] with S == T on a fresh chunk
    h, _ = model.rnn(model.embed(x))
    ours = past_attention_weights(model.attention, h)
    assert torch.allclose(ours, lm_weights, atol=1e-6)
    assert torch.equal(ours.triu(1), torch.zeros_like(ours))        # causal
    assert torch.equal(ours.tril(-3), torch.zeros_like(ours))       # the window of 3
    with pytest.raises(CourseError, match="attention=True"):
        past_attention_weights(nn.Linear(2, 2), h)
