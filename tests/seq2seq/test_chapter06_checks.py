"""Chapter 06's self-checks: the references pass, known mistakes fail with the hint for what went wrong."""
from __future__ import annotations

import pytest
import torch

from textrnn_lab import checks
from textrnn_lab.seq2seq import Seq2Seq, Seq2SeqConfig, decoder_step, prune_beams


def test_checks_pass_on_the_references():
    assert checks.check("06.decoder_step", decoder_step, seed=0, quiet=True).passed
    assert checks.check("06.prune_beams", prune_beams, seed=0, quiet=True).passed
    assert set(checks.available_checks("06")) == {"06.decoder_step", "06.prune_beams"}


def test_the_functional_step_is_what_the_decoder_module_does():
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(7, 9, embed_dim=5, hidden_size=6, num_layers=2)).eval()
    dec = model.decoder
    y, state = torch.tensor([3, 1, 8]), torch.randn(2, 3, 6)
    want_logits, want_state, _ = dec.step(y, state)
    logits, new_state = decoder_step(y, state, dec.embedding.weight, dec.rnn, dec.out.weight, dec.out.bias)
    torch.testing.assert_close(logits, want_logits)
    torch.testing.assert_close(new_state, want_state)


def _step_bottom_layer(y, state, emb, gru, w, b):
    _, new = gru(emb[y].unsqueeze(1), state)
    return new[0] @ w.T + b, new


def _step_old_state(y, state, emb, gru, w, b):
    _, new = gru(emb[y].unsqueeze(1), state)
    return state[-1] @ w.T + b, new


def _step_no_bias(y, state, emb, gru, w, b):
    out, new = gru(emb[y].unsqueeze(1), state)
    return out.squeeze(1) @ w.T, new


def _step_returns_output_as_state(y, state, emb, gru, w, b):
    out, new = gru(emb[y].unsqueeze(1), state)
    return out.squeeze(1) @ w.T + b, out.transpose(0, 1)


def _step_keeps_time_axis(y, state, emb, gru, w, b):
    out, new = gru(emb[y].unsqueeze(1), state)
    return out @ w.T + b, new


def _prune_per_beam(scores, log_probs, k):
    B, K, V = log_probs.shape
    values, tokens = (scores.unsqueeze(-1) + log_probs).max(-1)         # the best token of each beam only
    new, parents = values.topk(min(k, K), -1)
    out = torch.full((B, k), -1e9), torch.zeros(B, k, dtype=torch.long), torch.zeros(B, k, dtype=torch.long)
    out[0][:, :new.shape[1]], out[1][:, :new.shape[1]] = new, parents
    out[2][:, :new.shape[1]] = tokens.gather(1, parents)
    return out


def _prune_forgets_scores(scores, log_probs, k):
    B, K, V = log_probs.shape
    new, flat = log_probs.reshape(B, -1).topk(k, -1)
    return new, flat // V, flat % V


def _prune_modulo_k(scores, log_probs, k):
    B, K, V = log_probs.shape
    new, flat = (scores.unsqueeze(-1) + log_probs).reshape(B, -1).topk(k, -1)
    return new, flat % K, flat % V


def _prune_ascending(scores, log_probs, k):
    B, K, V = log_probs.shape
    new, flat = (scores.unsqueeze(-1) + log_probs).reshape(B, -1).topk(k, -1)
    return new.flip(-1), (flat // V).flip(-1), (flat % V).flip(-1)


@pytest.mark.parametrize("name,wrong,kind", [
    ("06.decoder_step", _step_bottom_layer, "layer"),
    ("06.decoder_step", _step_old_state, "old_state"),
    ("06.decoder_step", _step_no_bias, "values"),
    ("06.decoder_step", _step_returns_output_as_state, None),
    ("06.decoder_step", _step_keeps_time_axis, "shape"),
    ("06.prune_beams", _prune_per_beam, None),
    ("06.prune_beams", _prune_forgets_scores, "scores"),
    ("06.prune_beams", _prune_modulo_k, "values"),
    ("06.prune_beams", _prune_ascending, "order"),
])
def test_checks_fail_on_wrong_implementations_with_the_matching_hint(name, wrong, kind):
    stages = checks.hint_stages(name)
    for seed in range(3):
        result = checks.check(name, wrong, seed=seed, quiet=True)
        assert result.status == "fail", (seed, result.line)
        if kind is not None and kind in stages:
            assert result.hint in stages[kind], (seed, result.line)


def test_hints_come_in_stages():
    def wrong(scores, log_probs, k):
        return _prune_forgets_scores(scores, log_probs, k)

    assert checks.check("06.prune_beams", prune_beams, seed=0, quiet=True).passed  # a pass starts from stage 1
    first = checks.check("06.prune_beams", wrong, seed=0, quiet=True)
    second = checks.check("06.prune_beams", wrong, seed=0, quiet=True)
    assert (first.hint_stage, second.hint_stage) == (1, 2) and first.hint != second.hint


def test_check_reports_todo_for_the_stub():
    def stub(*args, **kwargs):
        raise NotImplementedError()

    for name in ("06.decoder_step", "06.prune_beams"):
        assert checks.check(name, stub, quiet=True).status == "todo"


def test_a_step_that_changes_its_inputs_fails():
    def in_place(y, state, emb, gru, w, b):
        logits, new = decoder_step(y, state, emb, gru, w, b)
        state.zero_()
        return logits, new

    assert checks.check("06.decoder_step", in_place, seed=0, quiet=True).status == "fail"
