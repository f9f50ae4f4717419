"""Chapter 07 graded by the real grader: the solution earns full marks, the released student copy
nothing, and a submission that hands the work to the course's attention code or PyTorch's built-in
earns nothing for that exercise (status uses-reference).

The notebooks are cut to their imports, parameters and exercises (``light_chapter``), so one graded
run takes seconds, shared between the pytest-xdist workers like the runs of ``test_grading.py``.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from test_grading import _shared_run, statuses, write
from test_verdicts import OPTIONS, _notebook, light_chapter, solution_sources, with_cells

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CH07 = "07_attention"
EXERCISES = ("ch07_attention_step", "ch07_scaled_dot_product_attention", "ch07_multihead_parameter_count")

DELEGATES = {
    "ch07_attention_step": '''def attention_step(query, keys, mask):
    return ta.DotProductAttention(query.shape[-1])(query, keys, mask)
''',
    "ch07_scaled_dot_product_attention": '''def scaled_dot_product_attention(q, k, v, mask=None, causal=False):
    return ta.scaled_dot_product_attention(q, k, v, mask, causal)
''',
    "ch07_multihead_parameter_count": '''def multihead_parameter_count(embed_dim, num_heads, key_dim):
    return ta.multihead_parameter_count(embed_dim, num_heads, key_dim)
''',
}

# the weights written out, the output left to PyTorch's fused attention: the built-in is forbidden
TORCH_SDPA = '''def scaled_dot_product_attention(q, k, v, mask=None, causal=False):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    allowed = torch.ones_like(scores, dtype=torch.bool)
    if mask is not None:
        allowed = allowed & mask[:, None, :]
    if causal:
        allowed = allowed & torch.ones(q.shape[1], k.shape[1], dtype=torch.bool).tril()
    weights = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    return out, weights
'''


def chapter07_submissions(base: Path, out: Path) -> dict[str, Path]:
    subs = base / "chapter07"
    made = {}

    def add(name, nb):
        made[name] = write(nb, subs / f"{name}.ipynb")

    student = lambda: light_chapter(_notebook(CH07, "chapters"))  # noqa: E731
    solution = solution_sources(CH07)
    add("solution", with_cells(student(), solution))
    add("student", student())
    add("delegates", with_cells(student(), DELEGATES))
    add("torch_sdpa", with_cells(student(), {**solution, "ch07_scaled_dot_product_attention": TORCH_SDPA}))
    return made


@pytest.fixture(scope="session")
def run07(tmp_path_factory):
    return _shared_run(tmp_path_factory, "chapter07", chapter07_submissions, OPTIONS, chapter="07")


@pytest.mark.notebooks
def test_the_solution_earns_full_marks_and_the_student_copy_nothing(run07):
    solution = run07["results"]["solution"]
    assert statuses(solution) == {e: "passed" for e in EXERCISES}, solution.exercises
    assert solution.points == solution.max_points == 6
    student = run07["results"]["student"]
    assert student.points == 0 and set(statuses(student).values()) == {"todo"}, student.exercises


@pytest.mark.notebooks
def test_delegating_to_the_course_or_to_pytorch_earns_nothing(run07):
    delegates = run07["results"]["delegates"]
    assert statuses(delegates) == {e: "uses-reference" for e in EXERCISES}, delegates.exercises
    assert delegates.points == 0
    torch_sdpa = run07["results"]["torch_sdpa"]
    assert statuses(torch_sdpa)["ch07_scaled_dot_product_attention"] == "uses-reference", torch_sdpa.exercises
    assert "torch.nn.functional.scaled_dot_product_attention" in torch_sdpa.exercises[1].message
    assert torch_sdpa.points == 3
