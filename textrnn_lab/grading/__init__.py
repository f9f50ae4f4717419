"""Grading student submissions of a chapter: ``textrnn-lab grade``.

The pieces, one idea per module:

* :mod:`.spec` -- what a chapter asks for, read from ``solutions/``: the exercises,
  their points (nbgrader cell metadata), the grader's test code (visible check and
  hidden tests), and checksums of the protected cells of the released notebook;
* :mod:`.matching` -- a submission against that spec: which cell is which exercise
  (by ``grade_id``, else by the names it defines, else by text similarity), which
  protected cells were edited or deleted, and the notebook that will be executed;
* :mod:`.sandbox` -- the limits and isolation of the processes that run student code;
* :mod:`.execution` -- running the student's cells in a kernel, cell by cell;
* :mod:`.checker` -- the separate, sandboxed process in which the student's
  definitions answer the grader's calls;
* :mod:`.wire` -- the plain data those calls and answers travel as (JSON, tensors
  as little-endian bytes; never pickle);
* :mod:`.remote` -- the two sides of a call: the student's (forked in the checker)
  and the grader's (in the worker, where the tests run and no student code does);
* :mod:`.verdicts` -- the tests of one exercise and its verdict: the self-check and
  hidden tests, forbidden calls (``uses-reference``), what feedback may quote;
* :mod:`.worker` -- one submission from start to finish (a worker process);
* :mod:`.results` -- the grade of one submission and the meaning of each status;
* :mod:`.gradebook`, :mod:`.feedback` -- what is written for the instructor and the students;
* :mod:`.grader` -- many submissions over a pool of workers (:func:`grade`);
* :mod:`.cli` -- the ``grade`` sub-command.

The threat model (what the grader defends against, and what it cannot) is in
:mod:`.grader`. From Python::

    from textrnn_lab.grading import GradeOptions, grade
    run = grade("00", ["submissions/"], "grades/", GradeOptions(workers=2))
    for result in run.results:
        print(result.student, result.points, result.status)

Nothing heavy is imported here: ``from textrnn_lab.grading import grade`` is cheap.
"""
from __future__ import annotations

import importlib

__all__ = ["GradeOptions", "GradeRun", "SubmissionResult", "find_submissions", "grade", "load_spec"]

_LAZY = {
    "GradeOptions": "grader",
    "GradeRun": "grader",
    "grade": "grader",
    "find_submissions": "grader",
    "SubmissionResult": "results",
    "load_spec": "spec",
}


def __getattr__(name: str):
    if name in _LAZY:
        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
