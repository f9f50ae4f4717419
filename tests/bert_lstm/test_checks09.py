"""The chapter 09 self-checks: the references pass, known-wrong answers fail with the hint for what went wrong."""
from __future__ import annotations

import pytest
import torch

from textrnn_lab import checks
from textrnn_lab.transfer.encoder_rnn import last_real_position, right_pad


@pytest.fixture(autouse=True)
def fresh_stages():
    checks._FAILURES.clear()
    yield
    checks._FAILURES.clear()


def run(name, func):
    return checks.check(name, func, quiet=True, seed=0)


# --------------------------------------------------------------------------- 09.last_real_state


def loop_version(outputs, mask):
    rows = []
    for b in range(outputs.shape[0]):
        n = int((mask[b] != 0).sum())
        rows.append(outputs[b, n - 1])
    return torch.stack(rows)


def test_last_real_state_passes_the_reference_and_a_loop():
    assert run("09.last_real_state", last_real_position).passed
    assert run("09.last_real_state", loop_version).passed


def test_reading_the_last_column_is_named_as_the_padding_bug_with_staged_hints():
    stages = checks.hint_stages("09.last_real_state")["padding"]
    first = run("09.last_real_state", lambda outputs, mask: outputs[:, -1, :])
    assert first.status == "fail" and "padding position" in first.message
    assert first.hint == stages[0]
    second = run("09.last_real_state", lambda outputs, mask: outputs[:, -1, :])
    assert second.hint == stages[1]


def test_other_wrong_answers_fail():
    off_by_one = lambda outputs, mask: outputs[torch.arange(outputs.shape[0]), (mask != 0).sum(1).clamp(max=outputs.shape[1] - 1)]  # noqa: E501,E731
    assert run("09.last_real_state", off_by_one).status == "fail"
    keeps_time = lambda outputs, mask: outputs * mask.unsqueeze(-1)  # noqa: E731
    result = run("09.last_real_state", keeps_time)
    assert result.status == "fail" and "shape" in result.message
    assert result.hint == checks.hint_stages("09.last_real_state")["shape"][0]
    # a mask of floats or booleans must work too: a version that indexes with the mask's own dtype breaks
    float_index = lambda outputs, mask: outputs[torch.arange(outputs.shape[0]), mask.sum(1) - 1]  # noqa: E731
    assert run("09.last_real_state", float_index).status in ("fail", "error")


def test_writing_into_the_inputs_fails():
    def zeroes_padding(outputs, mask):
        outputs[mask == 0] = 0.0
        return last_real_position(outputs, mask)

    result = run("09.last_real_state", zeroes_padding)
    assert result.status == "fail" and "changed its inputs" in result.message


def test_todo_is_todo():
    def todo(outputs, mask):
        raise NotImplementedError()

    assert run("09.last_real_state", todo).status == "todo"
    assert run("09.right_pad", lambda pieces: (_ for _ in ()).throw(NotImplementedError())).status == "todo"


# --------------------------------------------------------------------------- 09.right_pad


def padded_with(pad, left=False, invert=False, mask_dtype=torch.long):
    def func(pieces):
        states, mask = right_pad(pieces)
        if left:
            steps = mask.shape[1]
            states, mask = torch.zeros_like(states), torch.zeros_like(mask)
            for b, piece in enumerate(pieces):
                states[b, steps - piece.shape[0]:] = piece
                mask[b, steps - piece.shape[0]:] = 1
        states = states + pad * (1 - mask).unsqueeze(-1).to(states.dtype)
        return states, (1 - mask if invert else mask).to(mask_dtype)

    return func


def test_right_pad_passes_the_reference_and_accepts_boolean_or_float_masks():
    assert run("09.right_pad", right_pad).passed
    assert run("09.right_pad", padded_with(0.0, mask_dtype=torch.bool)).passed
    assert run("09.right_pad", padded_with(0.0, mask_dtype=torch.float32)).passed


def test_right_pad_mistakes_get_the_hint_for_them():
    hints = checks.hint_stages("09.right_pad")
    result = run("09.right_pad", padded_with(0.0, left=True))
    assert result.status == "fail" and "left" in result.message and result.hint == hints["side"][0]
    result = run("09.right_pad", padded_with(0.0, invert=True))
    assert result.status == "fail" and "other way" in result.message and result.hint == hints["mask"][0]
    result = run("09.right_pad", padded_with(-1.0))
    assert result.status == "fail" and "states" in result.message and result.hint == hints["*"][0]
    result = run("09.right_pad", lambda pieces: right_pad(pieces)[0])
    assert result.status == "fail" and "pair" in result.message
    result = run("09.right_pad", lambda pieces: right_pad(pieces, pad_to=20))
    assert result.status == "fail" and result.hint == hints["shape"][0]


def test_the_checks_forbid_their_references():
    assert "textrnn_lab.transfer.encoder_rnn.last_real_position" in checks.forbidden_calls("09.last_real_state")
    forbidden = checks.forbidden_calls("09.right_pad")
    assert "textrnn_lab.transfer.encoder_rnn.right_pad" in forbidden and "torch.nn.utils.rnn.pad_sequence" in forbidden
