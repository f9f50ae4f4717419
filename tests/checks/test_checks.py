"""Self-checks: statuses, messages, the one printed line and the display payload."""
from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import pytest
import torch

from textrnn_lab import checks
from textrnn_lab.errors import CourseError


def good_one_hot(indices, num_classes):
    out = torch.zeros(*indices.shape, num_classes)
    return out.scatter_(-1, indices.unsqueeze(-1), 1.0)


def int_one_hot(indices, num_classes):  # wrong dtype
    return torch.nn.functional.one_hot(indices, num_classes)


def off_by_one_one_hot(indices, num_classes):
    return torch.nn.functional.one_hot(indices, num_classes + 1).float()


def width_from_data_one_hot(indices, num_classes):  # ignores num_classes
    return torch.nn.functional.one_hot(indices).float()


def todo_one_hot(indices, num_classes):
    # YOUR CODE HERE
    raise NotImplementedError()


def raising_one_hot(indices, num_classes):
    table = torch.eye(num_classes)
    return table[indices + num_classes]  # the line the student must see


def run(name, obj, **kwargs):
    return checks.check(name, obj, quiet=True, **kwargs)


# --------------------------------------------------------------------------- statuses


def test_pass_with_reference_implementations():
    result = run("00.one_hot", good_one_hot)
    assert result.passed and result.status == "pass" and result.cases == 25
    assert result.message == "25 random cases agree with the reference."
    assert run("00.perplexity", math.exp).passed
    assert run("00.perplexity", lambda x: float(torch.exp(torch.tensor(x, dtype=torch.float64)))).passed


def test_wrong_dtype_fails_with_dtype_message():
    result = run("00.one_hot", int_one_hot)
    assert result.status == "fail" and not result.passed
    assert "expected dtype torch.float32, got torch.int64" in result.message
    assert "one_hot(tensor of shape" in result.message  # names the input
    assert result.hint


@pytest.mark.parametrize("impl", [off_by_one_one_hot, width_from_data_one_hot])
def test_wrong_width_fails_with_shape_message(impl):
    result = run("00.one_hot", impl)
    assert result.status == "fail"
    assert "expected shape" in result.message and "num_classes=" in result.message


def test_wrong_values_fail_with_index():
    def shifted(indices, num_classes):
        return good_one_hot((indices + 1) % num_classes, num_classes)

    result = run("00.one_hot", shifted, seed=3)
    assert result.status == "fail" and "at index" in result.message and "expected 1, got 0" in result.message


def test_wrong_perplexity_fails_with_values():
    result = run("00.perplexity", lambda x: 2.0 ** x)
    assert result.status == "fail" and "expected" in result.message and "got" in result.message
    assert run("00.perplexity", lambda x: math.exp(x) * (1 + 1e-4)).status == "fail"
    assert run("00.perplexity", lambda x: math.exp(x) * (1 + 1e-9)).status == "pass"  # within 1e-6 relative
    assert "expected a float, got list" in run("00.perplexity", lambda x: [x]).message


def test_todo_status():
    result = run("00.one_hot", todo_one_hot)
    assert result.status == "todo"
    assert result.message == "not done yet: replace `raise NotImplementedError()` with your code"


def test_not_implemented_error_from_a_library_is_an_error_not_todo():
    def forgot_forward(indices, num_classes):
        return torch.nn.Module()(indices)  # torch raises NotImplementedError("... missing ... forward")

    result = run("00.one_hot", forgot_forward)
    assert result.status == "error" and result.message.startswith("NotImplementedError: ")
    assert "torch.nn.Module()(indices)" in result.message

    def own_message(indices, num_classes):
        raise NotImplementedError("later")

    assert run("00.one_hot", own_message).status == "todo"  # the student's own raise


def test_error_status_names_exception_and_student_line():
    result = run("00.one_hot", raising_one_hot)
    assert result.status == "error"
    assert result.message.startswith("IndexError: ")
    assert "return table[indices + num_classes]" in result.message
    assert "raising_one_hot" in result.message and "test_checks.py" in result.message
    assert "Traceback" not in result.message and "\n" not in result.message


def test_error_from_a_library_call_points_at_the_students_line():
    result = run("00.perplexity", lambda x: torch.exp(x))  # torch.exp needs a tensor
    assert result.status == "error" and result.message.startswith("TypeError: ")
    assert "torch.exp(x)" in result.message


def test_not_a_function_fails():
    result = run("00.one_hot", None)
    assert result.status == "fail" and "NoneType" in result.message


# --------------------------------------------------------------------------- inputs


def test_inputs_are_fresh_unless_seeded():
    seen: list = []

    def recording(indices, num_classes):
        seen.append((tuple(indices.shape), num_classes, indices.tolist()))
        return good_one_hot(indices, num_classes)

    calls = []
    for seed in (None, None, 7, 7):
        seen.clear()
        run("00.one_hot", recording, seed=seed)
        calls.append(list(seen))
    first, second, seeded_a, seeded_b = calls
    assert first != second
    assert seeded_a == seeded_b
    assert len(first) == 25
    assert {len(shape) for shape, _, _ in first} == {1, 2}
    assert ((1,), 1, [0]) in first  # the single-element, single-class edge case


def test_cases_argument_and_student_mutation_does_not_matter():
    def mutating(indices, num_classes):
        out = good_one_hot(indices, num_classes)
        indices.zero_()  # a student clobbering the input must not break the comparison
        return out

    result = run("00.one_hot", mutating, cases=5)
    assert result.passed and result.cases == 5 and result.message.startswith("5 random cases")
    with pytest.raises(CourseError):
        run("00.one_hot", good_one_hot, cases=0)


def test_patching_the_reference_changes_nothing(monkeypatch):
    checks.available_checks("00")  # make sure the check module is imported
    monkeypatch.setattr(torch.nn.functional, "one_hot", lambda i, n=-1: torch.zeros(1))
    monkeypatch.setattr(math, "exp", lambda x: 1.0)
    assert run("00.one_hot", good_one_hot).passed
    assert run("00.perplexity", lambda x: math.e ** x).passed


# --------------------------------------------------------------------------- names


def test_unknown_check_lists_known_ones():
    with pytest.raises(checks.UnknownCheck) as info:
        checks.check("00.one_hott", good_one_hot)
    err = info.value
    assert isinstance(err, KeyError) and isinstance(err, CourseError)
    assert "00.one_hot" in err.hint and "00.perplexity" in err.hint


def test_unknown_chapter_and_malformed_name():
    with pytest.raises(checks.UnknownCheck) as info:
        checks.check("97.anything", good_one_hot)
    assert "no checks for chapter 97" in info.value.hint and "00" in info.value.hint
    with pytest.raises(checks.UnknownCheck):
        checks.check("one_hot", good_one_hot)


def test_available_checks_and_register_validation():
    assert {"00.one_hot", "00.perplexity"} <= set(checks.available_checks())
    assert checks.available_checks("00") == ["00.one_hot", "00.perplexity"]
    with pytest.raises(ValueError):
        checks.register("not a name")


# --------------------------------------------------------------------------- output


@pytest.mark.parametrize(
    "impl, prefix",
    [(good_one_hot, "PASS 00.one_hot: "), (int_one_hot, "FAIL 00.one_hot: "),
     (todo_one_hot, "TODO 00.one_hot: "), (raising_one_hot, "ERROR 00.one_hot: ")],
)
def test_prints_exactly_one_line(capsys, impl, prefix):
    result = checks.check("00.one_hot", impl)
    out, err = capsys.readouterr()
    assert out == result.line + "\n" and out.startswith(prefix)
    assert out.count("\n") == 1 and err == ""
    if result.status == "fail":
        assert " | hint 1 of 1: " in out or " | hint: " in out


def test_strict_and_assert_passed():
    with pytest.raises(AssertionError, match="^FAIL 00.one_hot"):
        checks.check("00.one_hot", int_one_hot, strict=True, quiet=True)
    with pytest.raises(AssertionError, match="^TODO"):
        checks.assert_passed(run("00.one_hot", todo_one_hot))
    assert checks.check("00.one_hot", good_one_hot, strict=True, quiet=True).passed


def test_payload_matches_the_contract():
    result = run("00.one_hot", int_one_hot, cases=4)
    assert result.to_dict() == {"check": "00.one_hot", "status": "fail", "message": result.message, "cases": 4}
    bundle = checks._payload(result)
    assert bundle[checks.CHECK_MIME] == result.to_dict()


def test_the_mime_types_are_defined_once():
    from textrnn_lab.runtime import display
    from textrnn_lab.training import metrics

    assert checks.CHECK_MIME is display.CHECK_MIME and display.CHECK_MIME == "application/vnd.textrnn-lab.check+json"
    assert metrics.METRICS_MIME is display.METRICS_MIME
    assert display.METRICS_MIME == "application/vnd.textrnn-lab.metrics+json"


def test_displays_payload_under_ipython(monkeypatch, capsys):
    pytest.importorskip("IPython")
    import IPython.display

    shown = []
    monkeypatch.setattr(checks, "_in_ipython", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append((obj, raw)))
    result = checks.check("00.perplexity", math.exp)
    assert capsys.readouterr().out == ""  # one output: the display carries the text form too
    assert len(shown) == 1
    bundle, raw = shown[0]
    assert raw is True
    assert bundle[checks.CHECK_MIME] == {"check": "00.perplexity", "status": "pass",
                                         "message": result.message, "cases": 25}
    assert bundle["text/plain"] == result.line and bundle["text/plain"].startswith("PASS 00.perplexity")
    assert "PASS" in bundle["text/html"] and "#1a7f37" in bundle["text/html"]


def test_no_display_outside_ipython(monkeypatch, capsys):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: shown.append(a))
    checks.check("00.perplexity", math.exp)
    assert shown == [] and capsys.readouterr().out.startswith("PASS")


def test_works_from_a_fresh_import():
    code = textwrap.dedent(
        """
        import torch
        from textrnn_lab import checks
        r = checks.check("00.one_hot", lambda i, n: torch.nn.functional.one_hot(i, n).float(), seed=1)
        assert r.passed, r
        r = checks.check("00.perplexity", lambda x: 0.0)
        assert r.status == "fail", r
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("PASS 00.one_hot") and lines[1].startswith("FAIL 00.perplexity")


def test_last_expression_in_a_cell_adds_nothing(capsys):
    # IPython calls _ipython_display_ on a cell's last value: a printed result stays one line
    shown = checks.check("00.perplexity", math.exp)
    assert shown.shown
    capsys.readouterr()
    shown._ipython_display_()
    assert capsys.readouterr().out == ""
    quiet = checks.check("00.perplexity", math.exp, quiet=True)
    assert not quiet.shown and capsys.readouterr().out == ""
    quiet._ipython_display_()
    assert capsys.readouterr().out == quiet.line + "\n"


def test_a_tensor_subclass_cannot_fake_equality():
    import torch

    from textrnn_lab import checks

    class AlwaysEqual(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            if func in (torch.isclose, torch.Tensor.__eq__, torch.eq):
                return torch.ones(args[0].shape, dtype=torch.bool)
            return super().__torch_function__(func, types, args, kwargs or {})

    def forged_one_hot(indices, num_classes):
        return torch.zeros(*indices.shape, num_classes).as_subclass(AlwaysEqual)

    result = checks.check("00.one_hot", forged_one_hot, quiet=True)
    assert result.status == "fail"


def test_a_failing_check_fails_its_cell_under_nbgrader_autograde(monkeypatch):
    """nbgrader gives a test cell its points when it raises nothing: a FAIL must raise there."""
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(AssertionError, match="^FAIL 00.one_hot"):
        checks.check("00.one_hot", int_one_hot, quiet=True)
    assert checks.check("00.one_hot", good_one_hot, quiet=True).passed
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    assert checks.check("00.one_hot", int_one_hot, quiet=True).status == "fail"
