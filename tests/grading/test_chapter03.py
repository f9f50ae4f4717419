"""Grading chapter 03 (GANs) with the real grader: the solution scores full marks, the released student copy
scores zero, and submissions that hand the work to the package's reference or to PyTorch's binary
cross-entropy score zero for that exercise (status uses-reference), while honest exercises keep their points.

One graded run (the notebooks cut to their imports, parameters and exercises), shared between the
pytest-xdist workers like the runs of ``test_grading.py``.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from test_grading import _shared_run, statuses, write
from test_verdicts import OPTIONS, _notebook, light_chapter, solution_sources, with_cells

CH03 = "03_gans"

DELEGATES = {
    "ch03_discriminator_loss": '''def discriminator_loss(real_logits, fake_logits):
    return gan.discriminator_loss(real_logits, fake_logits)
''',
    "ch03_generator_loss": '''from textrnn_lab.gan.losses import generator_loss as _reference


def generator_loss(fake_logits):
    return _reference(fake_logits)
''',
    "ch03_frechet_distance": '''def frechet_distance(mu1, sigma1, mu2, sigma2):
    return gan.frechet_distance(mu1, sigma1, mu2, sigma2)
''',
}
BUILTIN_BCE = '''def generator_loss(fake_logits):
    return torch.nn.functional.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
'''


def chapter03_submissions(base: Path, out: Path) -> dict[str, Path]:
    subs = base / "chapter03"
    made = {}

    def add(name, nb):
        made[name] = write(nb, subs / f"{name}.ipynb")

    student = lambda: light_chapter(_notebook(CH03, "chapters"))  # noqa: E731
    solution = solution_sources(CH03)
    add("solution", with_cells(student(), solution))
    add("pristine", student())
    add("delegates", with_cells(student(), DELEGATES))
    add("builtin_bce", with_cells(student(), {**solution, "ch03_generator_loss": BUILTIN_BCE}))
    return made


@pytest.fixture(scope="session")
def run03(tmp_path_factory):
    return _shared_run(tmp_path_factory, "chapter03", chapter03_submissions, OPTIONS, chapter="03")


@pytest.mark.notebooks
def test_the_solution_scores_full_marks(run03):
    result = run03["results"]["solution"]
    assert set(statuses(result)) == {"ch03_discriminator_loss", "ch03_generator_loss", "ch03_frechet_distance"}
    assert result.points == result.max_points == 6 and set(statuses(result).values()) == {"passed"}, \
        result.exercises


@pytest.mark.notebooks
def test_the_released_student_copy_scores_zero(run03):
    result = run03["results"]["pristine"]
    assert result.points == 0 and "passed" not in statuses(result).values(), result.exercises


@pytest.mark.notebooks
def test_delegating_to_the_reference_earns_nothing(run03):
    result = run03["results"]["delegates"]
    assert set(statuses(result).values()) == {"uses-reference"}, result.exercises
    assert result.points == 0


@pytest.mark.notebooks
def test_pytorchs_binary_cross_entropy_is_forbidden_and_the_rest_keeps_its_points(run03):
    result = run03["results"]["builtin_bce"]
    got = statuses(result)
    assert got["ch03_generator_loss"] == "uses-reference", result.exercises
    assert got["ch03_discriminator_loss"] == got["ch03_frechet_distance"] == "passed"
    assert result.points == 5
