"""The chapter 09 self-checks: the references pass, known-wrong answers fail with the hint for what went wrong."""
from __future__ import annotations

import pytest
import torch

from textrnn_lab import checks
from textrnn_lab.bert_lstm.scoring import accuracy, macro_f1
from textrnn_lab.transfer.encoder_rnn import last_real_position


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
    assert run("09.macro_f1", lambda y_true, y_pred: (_ for _ in ()).throw(NotImplementedError())).status == "todo"


# --------------------------------------------------------------------------- 09.macro_f1


def test_macro_f1_passes_the_reference_and_scikit_learn():
    from sklearn.metrics import f1_score

    assert run("09.macro_f1", macro_f1).passed
    assert run("09.macro_f1", lambda t, p: float(f1_score(t, p, average="macro", zero_division=0))).passed


def test_macro_f1_mistakes_get_the_hint_for_them():
    hints = checks.hint_stages("09.macro_f1")
    result = run("09.macro_f1", accuracy)
    assert result.status == "fail" and "accuracy" in result.message and result.hint == hints["accuracy"][0]

    def weighted(y_true, y_pred):
        from sklearn.metrics import f1_score

        return float(f1_score(y_true, y_pred, average="weighted", zero_division=0))

    checks._FAILURES.clear()
    result = run("09.macro_f1", weighted)  # on the first case the weighted F1 happens to equal the accuracy
    assert result.status == "fail" and result.hint in (hints["weighted"][0], hints["accuracy"][0])

    def true_classes_only(y_true, y_pred):
        return macro_f1(y_true, y_pred, sorted(set(y_true), key=str))

    checks._FAILURES.clear()
    result = run("09.macro_f1", true_classes_only)
    assert result.status == "fail" and "left out" in result.message and result.hint == hints["classes"][0]

    def micro(y_true, y_pred):
        return 0.5

    checks._FAILURES.clear()
    result = run("09.macro_f1", micro)
    assert result.status == "fail" and result.hint == hints["*"][0]


def test_macro_f1_that_changes_its_inputs_fails():
    def sorts(y_true, y_pred):
        value = macro_f1(y_true, y_pred)
        y_true.sort(key=str)
        return value

    result = run("09.macro_f1", sorts)
    assert result.status == "fail" and "changed the lists" in result.message


def test_the_checks_forbid_their_references():
    assert "textrnn_lab.transfer.encoder_rnn.last_real_position" in checks.forbidden_calls("09.last_real_state")
    forbidden = checks.forbidden_calls("09.macro_f1")
    assert "textrnn_lab.bert_lstm.scoring.macro_f1" in forbidden and "sklearn.metrics.f1_score" in forbidden
