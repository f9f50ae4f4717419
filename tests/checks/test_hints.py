"""Hints come in stages, follow what failed, and never hold the solution.

Every registered check of every chapter is compared with every solution region of
``solutions/``: no hint may contain a line or a call of a solution, nor code
(a method call, a slice, a keyword argument, a library function): a hint explains
the idea in words and, at a later stage, the shape or the formula in maths notation.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
import torch

from textrnn_lab import checks

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
# Code, not prose or a formula: a dotted call (obj.method(...), torch.x(...)), a slice (ids[:n]),
# or a keyword argument (dim=-1). A formula in maths notation, log(1 - D(G(z))), is a fair later stage.
CALL = re.compile(r"\b[A-Za-z_]\w*\.[A-Za-z_]\w*\s*\(|\.[A-Za-z_]\w*_\(|\b\w+\[[^\]]*:[^\]]*\]"
                  r"|\(\s*\w+=|,\s*\w+=[\w\-\"']")
DOTTED = re.compile(r"\b(?:torch|np|numpy|math|F|nn|keras|tf)\.[A-Za-z_]")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _solution_fragments() -> list[str]:
    """Lines (at least 12 characters) and calls (at least 10) of every solution region, without whitespace."""
    fragments: set[str] = set()
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            for region in SOLUTION.findall(cell.source):
                for line in region.splitlines():
                    code = line.split("#", 1)[0].strip()
                    if len(_squash(code)) >= 12:
                        fragments.add(_squash(code))
                try:
                    tree = ast.parse(_dedent(region))
                except SyntaxError:
                    continue
                for node in ast.walk(tree):
                    if isinstance(node, ast.Call) and (node.args or node.keywords):
                        text = _squash(ast.unparse(node))
                        if len(text) >= 10:
                            fragments.add(text)
    return sorted(fragments)


def _dedent(code: str) -> str:
    import textwrap

    return textwrap.dedent(code)


def _all_hints() -> list[tuple[str, str, str]]:
    found = []
    for name in checks.available_checks():
        for kind, stages in checks.hint_stages(name).items():
            found += [(name, kind, stage) for stage in stages]
    return found


HINTS = _all_hints()


@pytest.fixture(autouse=True)
def fresh_stages():
    """Each test starts with no failures counted (the stages are per process)."""
    checks._FAILURES.clear()
    yield
    checks._FAILURES.clear()


def test_every_check_has_staged_hints():
    for name in checks.available_checks():
        stages = checks.hint_stages(name)
        assert stages, f"{name} has no hint"
        assert max(len(s) for s in stages.values()) >= 2, f"{name}: hints come in stages (idea, then shape/formula)"


@pytest.mark.parametrize("name, kind, hint", HINTS, ids=[f"{n}-{k}-{i}" for i, (n, k, _) in enumerate(HINTS)])
def test_no_hint_is_code(name, kind, hint):
    assert not CALL.search(hint), f"{name} [{kind}] hint has call syntax (code): {hint!r}"
    assert not DOTTED.search(hint), f"{name} [{kind}] hint names a library function: {hint!r}"


def test_no_hint_contains_a_solution():
    fragments = _solution_fragments()
    assert len(fragments) > 10  # the solutions were found
    for name, kind, hint in HINTS:
        squashed = _squash(hint)
        leaked = [f for f in fragments if f in squashed]
        assert not leaked, f"{name} [{kind}] hint gives away the solution: {leaked}"


def test_the_old_answer_giving_hints_are_caught():
    """The test above catches the hints this course used to show (the whole solution after one wrong try)."""
    for old in ("perplexity is e to the power of the mean negative log-likelihood in nats: math.exp(mean_nll_nats)",
                "x = ids[:n*T].view(n, T) and y is the same slice shifted by one character"):
        assert CALL.search(old) or DOTTED.search(old)


# --------------------------------------------------------------------------- staging


def wrong_shape_one_hot(indices, num_classes):
    return torch.zeros(*indices.shape, num_classes + 1)


def wrong_values_one_hot(indices, num_classes):
    return torch.zeros(*indices.shape, num_classes)


def good_one_hot(indices, num_classes):
    out = torch.zeros(*indices.shape, num_classes)
    return out.scatter_(-1, indices.unsqueeze(-1), 1.0)


def test_hints_follow_the_kind_of_failure_and_come_in_stages():
    stages = checks.hint_stages("00.one_hot")
    first = checks.check("00.one_hot", wrong_shape_one_hot, quiet=True)
    assert first.status == "fail" and "shape" in first.message
    assert (first.hint, first.hint_stage, first.hint_stages) == (stages["shape"][0], 1, 2)
    second = checks.check("00.one_hot", wrong_shape_one_hot, quiet=True)
    assert (second.hint, second.hint_stage) == (stages["shape"][1], 2)
    third = checks.check("00.one_hot", wrong_shape_one_hot, quiet=True)
    assert third.hint == stages["shape"][-1]  # the last stage stays
    values = checks.check("00.one_hot", wrong_values_one_hot, quiet=True)
    assert values.hint == stages["*"][0]  # another kind of failure starts at its own first stage
    assert "hint 1 of 2: " in values.line
    assert checks.check("00.one_hot", good_one_hot, quiet=True).passed
    again = checks.check("00.one_hot", wrong_shape_one_hot, quiet=True)
    assert again.hint_stage == 1  # a pass starts again from the idea


def test_todo_and_error_show_no_hint():
    def todo(indices, num_classes):
        raise NotImplementedError()

    result = checks.check("00.one_hot", todo, quiet=True)
    assert result.status == "todo" and result.hint is None


def test_html_verdict_colours_and_puts_the_hint_on_its_own_line():
    result = checks.check("00.one_hot", wrong_values_one_hot, quiet=True)
    page = result.html
    assert "#cf222e" in page and "<b style=\"color:#cf222e\">FAIL</b>" in page
    assert "<div style=\"margin-top:2px\"><b>Hint 1 of 2:</b>" in page or "Hint 2 of 2" in page
    assert "word-break:normal" in page and "text-align:left" in page
    passed = checks.check("00.one_hot", good_one_hot, quiet=True)
    assert "#1a7f37" in passed.html and "Hint" not in passed.html


def test_html_escapes_what_it_shows():
    result = checks.CheckResult("00.one_hot", "fail", "expected <b>1</b> & more", "use a < b", 3, 1, 2)
    assert "&lt;b&gt;1&lt;/b&gt; &amp; more" in result.html and "use a &lt; b" in result.html


def test_register_rejects_bad_hints():
    with pytest.raises(ValueError):
        checks.register("99.x", hint="a", hints=("b",))
    with pytest.raises(ValueError):
        checks.register("99.x", hints=("",))
