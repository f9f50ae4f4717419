"""Turning a trained decoder into output sequences: greedy decoding and beam search.

Both call only ``model.encode`` and ``model.decoder.step``, so they work
unchanged with any attention module (chapter 07)::

    result = greedy_decode(model, batch.src, batch.src_lengths, max_len=20)
    result.tokens           # list of B lists of ids, <eos> left out
    result.attention        # list of B FloatTensor[T_i, S] (None without attention)
    result = beam_search(model, batch.src, batch.src_lengths, beam_size=4, max_len=20)
    result.scores           # the chosen hypothesis's total log-probability, per sequence

Greedy decoding takes the most probable token at every step. Beam search
keeps the ``K`` most probable *prefixes* instead: at each step every live
prefix is extended by every token (``K * V`` candidates), and :func:`prune_beams`
keeps the best ``K`` by total log-probability. A finished prefix (it wrote
``<eos>``) is carried along unchanged with its score, so it competes with
the live ones until the end.

Shapes: ``B`` batch, ``K`` beams, ``V`` target vocabulary, ``S`` source positions,
``T`` steps, ``L`` layers, ``H`` hidden units.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import CourseError


@dataclass
class DecodeResult:
    """Decoded sequences (ids, ``<eos>`` and what follows left out), their scores and attention weights."""

    tokens: list[list[int]]
    scores: list[float]
    attention: list[torch.Tensor] | None = None   # per sequence [T_i, S_i] (the written steps, real source)


def next_token_log_probs(logits: torch.Tensor, pad_id: int, bos_id: int) -> torch.Tensor:
    """``logits [..., V]`` -> log-probabilities, with ``<pad>`` and ``<bos>`` ruled out (never a correct output)."""
    logits = logits.float().clone()
    logits[..., [pad_id, bos_id]] = float("-inf")
    return logits.log_softmax(dim=-1)


def _check_inputs(src: torch.Tensor, src_lengths: torch.Tensor, max_len: int) -> None:
    if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
        raise CourseError(f"max_len must be a whole number >= 1, not {max_len!r}.")
    if src.ndim != 2 or src_lengths.ndim != 1 or src_lengths.shape[0] != src.shape[0]:
        raise CourseError(f"src must be [B, S] and src_lengths [B]; got {tuple(src.shape)} and "
                          f"{tuple(src_lengths.shape)}.")


@torch.no_grad()
def greedy_decode(model, src: torch.Tensor, src_lengths: torch.Tensor, max_len: int = 32) -> DecodeResult:
    """The arg-max token at every step, until every sequence wrote ``<eos>`` or ``max_len`` steps."""
    _check_inputs(src, src_lengths, max_len)
    was_training = model.training
    model.eval()
    try:
        cfg = model.config
        encoder_outputs, state, mask = model.encode(src, src_lengths)       # [B, S, H], [L, B, H], [B, S]
        B = src.shape[0]
        y = torch.full((B,), cfg.bos_id, dtype=torch.long, device=src.device)  # [B]
        done = torch.zeros(B, dtype=torch.bool, device=src.device)         # [B]
        written, scores, weights_seen = [], torch.zeros(B, device=src.device), []
        for _ in range(max_len):
            logits, state, weights = model.decoder.step(y, state, encoder_outputs, mask)  # [B, V]
            log_probs = next_token_log_probs(logits, cfg.pad_id, cfg.bos_id)  # [B, V]
            y = log_probs.argmax(dim=-1)                                   # [B]
            scores = scores + torch.where(done, 0.0, log_probs.gather(1, y[:, None]).squeeze(1))
            written.append(y)
            if weights is not None:
                weights_seen.append(weights)
            done = done | (y == cfg.eos_id)
            if bool(done.all()):
                break
        ids = torch.stack(written, dim=1).tolist()                         # [B, T]
        tokens, attention = [], [] if weights_seen else None
        attn = torch.stack(weights_seen, dim=1) if weights_seen else None  # [B, T, S]
        for i, row in enumerate(ids):
            n = row.index(cfg.eos_id) if cfg.eos_id in row else len(row)
            tokens.append(row[:n])
            if attn is not None:
                attention.append(attn[i, :n + 1 if n < len(row) else n, :int(src_lengths[i])].cpu())
        return DecodeResult(tokens, scores.tolist(), attention)
    finally:
        model.train(was_training)


def prune_beams(scores: torch.Tensor, log_probs: torch.Tensor,
                beam_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The pruning step of beam search: the ``beam_size`` best one-token extensions of the live prefixes.

    Args:
        scores: ``[B, K]`` total log-probability of each prefix (``-inf`` for an empty slot).
        log_probs: ``[B, K, V]`` log-probability of each next token after each prefix.
        beam_size: how many extensions to keep (at most ``K * V``).

    Returns:
        ``(new_scores [B, beam_size], parents [B, beam_size], tokens [B, beam_size])``, best first:
        extension ``j`` of sequence ``b`` is prefix ``parents[b, j]`` followed by token ``tokens[b, j]``,
        with total ``new_scores[b, j] = scores[b, parent] + log_probs[b, parent, token]``.
    """
    B, K, V = log_probs.shape
    candidates = scores.unsqueeze(-1) + log_probs                            # [B, K, V]
    new_scores, flat = candidates.reshape(B, K * V).topk(beam_size, dim=-1)  # [B, beam_size]
    return new_scores, flat // V, flat % V


def _expand(x: torch.Tensor, k: int, dim: int) -> torch.Tensor:
    """Repeat each batch entry ``k`` times along ``dim`` (B -> B*K, entries of one sequence side by side)."""
    return x.repeat_interleave(k, dim=dim)


@torch.no_grad()
def beam_search(model, src: torch.Tensor, src_lengths: torch.Tensor, beam_size: int = 4, max_len: int = 32,
                length_penalty: float = 0.0) -> DecodeResult:
    """The most probable sequence among ``beam_size`` kept at every step (``beam_size=1`` is greedy decoding).

    The winner maximises ``score / length ** length_penalty`` (0: the plain total
    log-probability; 1: the mean per token), ``length`` counting ``<eos>``.
    """
    _check_inputs(src, src_lengths, max_len)
    if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
        raise CourseError(f"beam_size must be a whole number >= 1, not {beam_size!r}.")
    was_training = model.training
    model.eval()
    try:
        cfg = model.config
        K, device = beam_size, src.device
        encoder_outputs, state, mask = model.encode(src, src_lengths)      # [B, S, H], [L, B, H], [B, S]
        B = src.shape[0]
        encoder_outputs, mask = _expand(encoder_outputs, K, 0), _expand(mask, K, 0)  # [B*K, S, H], [B*K, S]
        state = _expand(state, K, 1)                                        # [L, B*K, H]
        scores = torch.full((B, K), float("-inf"), device=device)           # [B, K]
        scores[:, 0] = 0.0          # one live prefix (<bos>) at first; the other slots are empty
        y = torch.full((B * K,), cfg.bos_id, dtype=torch.long, device=device)  # [B*K]
        finished = torch.zeros(B, K, dtype=torch.bool, device=device)       # [B, K]
        lengths = torch.zeros(B, K, device=device)                          # [B, K] tokens written, <eos> included
        history = torch.zeros(B, K, 0, dtype=torch.long, device=device)     # [B, K, T]
        attn_history = None                                                 # [B, K, T, S]
        for _ in range(max_len):
            logits, state, weights = model.decoder.step(y, state, encoder_outputs, mask)  # [B*K, V]
            log_probs = next_token_log_probs(logits, cfg.pad_id, cfg.bos_id).view(B, K, -1)  # [B, K, V]
            # a finished prefix may only be "extended" by <eos> again, at no cost: it keeps its score
            stay = torch.full_like(log_probs, float("-inf"))
            stay[..., cfg.eos_id] = 0.0
            log_probs = torch.where(finished.unsqueeze(-1), stay, log_probs)
            scores, parents, tokens = prune_beams(scores, log_probs, K)     # [B, K] each
            rows = torch.arange(B, device=device)[:, None]                  # [B, 1]
            finished = finished[rows, parents]
            lengths = lengths[rows, parents] + (~finished).float()
            finished = finished | (tokens == cfg.eos_id)
            history = torch.cat([history[rows, parents], tokens.unsqueeze(-1)], dim=-1)  # [B, K, T+1]
            flat_parents = (parents + rows * K).reshape(-1)                 # [B*K] into the B*K rows
            state = state[:, flat_parents]                                  # [L, B*K, H]
            if weights is not None:
                w = weights.view(B, K, 1, -1)                               # [B, K, 1, S]
                w = w[rows, parents]                                        # the parents' weights this step
                attn_history = w if attn_history is None else torch.cat([attn_history[rows, parents], w], dim=2)
            y = tokens.reshape(-1)                                          # [B*K]
            if bool(finished.all()):
                break
        normalised = scores / lengths.clamp(min=1.0) ** float(length_penalty) if length_penalty else scores
        best = normalised.argmax(dim=-1)                                     # [B]
        tokens_out, scores_out, attention = [], [], [] if attn_history is not None else None
        for b in range(B):
            row = history[b, best[b]].tolist()
            n = row.index(cfg.eos_id) if cfg.eos_id in row else len(row)
            tokens_out.append(row[:n])
            scores_out.append(float(scores[b, best[b]]))
            if attn_history is not None:
                attention.append(attn_history[b, best[b], :n + 1 if n < len(row) else n,
                                              :int(src_lengths[b])].cpu())
        return DecodeResult(tokens_out, scores_out, attention)
    finally:
        model.train(was_training)
