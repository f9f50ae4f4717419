"""Chapter 05 graded by the real grader: the solution earns full marks, the released student copy zero, and
submissions that hand the work to the course's reference or to gensim earn nothing for that exercise.

One run (the chapter's notebooks without their slow cells: imports, parameters, exercises), shared between
the pytest-xdist workers like the runs of ``test_grading.py``.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from test_grading import _shared_run, statuses, write
from test_verdicts import _notebook, light_chapter, solution_sources, with_cells

from textrnn_lab.grading.grader import GradeOptions

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CH05 = "05_oov_and_fasttext"
OPTIONS = GradeOptions(workers=2, timeout=300, cell_timeout=120, test_timeout=60)

DELEGATES = {
    "ch05_char_ngrams": '''def char_ngrams(word, min_n=3, max_n=6):
    return emb.char_ngrams(word, min_n, max_n)
''',
    "ch05_oov_vector": '''from textrnn_lab.embeddings.subwords import oov_vector as _oov


def oov_vector(word, table, min_n=3, max_n=6):
    return _oov(word, table, min_n, max_n)
''',
    "ch05_cosine_top_k": '''def cosine_top_k(query, matrix, k=10):
    return emb.cosine_top_k(query, matrix, k)
''',
}

GENSIM_NGRAMS = '''from gensim.models.fasttext import compute_ngrams


def char_ngrams(word, min_n=3, max_n=6):
    return list(compute_ngrams(word, min_n, max_n))
'''


def chapter05_submissions(base: Path, out: Path) -> dict[str, Path]:
    subs = base / "chapter05"
    made = {}

    def add(name, nb):
        made[name] = write(nb, subs / f"{name}.ipynb")

    student = lambda: light_chapter(_notebook(CH05, "chapters"))  # noqa: E731
    solution = solution_sources(CH05)
    add("solution", with_cells(student(), solution))
    add("student", student())
    add("delegates", with_cells(student(), DELEGATES))
    add("gensim", with_cells(student(), {**solution, "ch05_char_ngrams": GENSIM_NGRAMS}))
    return made


@pytest.fixture(scope="session")
def run05(tmp_path_factory):
    return _shared_run(tmp_path_factory, "chapter05", chapter05_submissions, OPTIONS, chapter="05")


@pytest.mark.notebooks
def test_the_solution_scores_full_marks(run05):
    result = run05["results"]["solution"]
    assert set(statuses(result).values()) == {"passed"}, result.exercises
    assert result.points == result.max_points == 6


@pytest.mark.notebooks
def test_the_released_student_copy_scores_zero(run05):
    result = run05["results"]["student"]
    assert result.points == 0
    assert set(statuses(result).values()) <= {"todo", "failed"}, result.exercises


@pytest.mark.notebooks
def test_delegating_to_the_reference_earns_nothing(run05):
    result = run05["results"]["delegates"]
    assert statuses(result) == {"ch05_char_ngrams": "uses-reference", "ch05_oov_vector": "uses-reference",
                                "ch05_cosine_top_k": "uses-reference"}, result.exercises
    assert result.points == 0
    assert "textrnn_lab.embeddings.subwords.char_ngrams" in result.exercises[0].message


@pytest.mark.notebooks
def test_calling_gensims_own_ngrams_earns_nothing_for_that_exercise(run05):
    result = run05["results"]["gensim"]
    assert statuses(result)["ch05_char_ngrams"] == "uses-reference", result.exercises
    assert "gensim.models.fasttext.compute_ngrams" in result.exercises[0].message
    assert result.points == 4  # the other two exercises are the solution's
