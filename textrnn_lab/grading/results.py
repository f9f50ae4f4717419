"""The grade of one submission: per exercise, and in total.

Exercise statuses (the ``status`` column of the grade book):

=============  ===============================================================
passed         every check and hidden test passed: full points
failed         a self-check or a hidden test failed: 0 points
todo           the exercise still raises ``NotImplementedError``
error          the student's code raised while being tested
missing        what the test needs (e.g. ``one_hot``) is not defined
timeout        the exercise (its cell or its test) ran past a time limit
crashed        the exercise's cell or test killed its process
uses-reference the answer calls what the exercise asks the student to write:
               the course's reference (unreachable while grading) or the
               built-in that does it (``F.one_hot``, ``clip_grad_norm_``): 0 points
not-graded     the submission could not be graded (see the total row)
=============  ===============================================================

Submission statuses (the ``TOTAL`` row):

=============  ===============================================================
graded         graded, nothing unusual
review         graded, but something needs a person's look: protected cells
               edited, a kernel that died, a forged result, hidden tests
               found in the submission
invalid        not a readable notebook (empty, not JSON, too large ...)
wrong-chapter  a notebook of another chapter
missing        the student's folder has no notebook for this chapter
error          the grader itself failed on this submission (e.g. its worker died)
clash          several paths give the same student id (``bob.ipynb`` and ``bob/``,
               names that differ only in spaces): none is graded, every path is
               named, until the instructor renames one
=============  ===============================================================
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

EXERCISE_STATUSES = ("passed", "failed", "todo", "error", "missing", "timeout", "crashed", "uses-reference",
                     "not-graded")
SUBMISSION_STATUSES = ("graded", "review", "invalid", "wrong-chapter", "missing", "error", "clash")


def format_points(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:.2f}".rstrip("0").rstrip(".")


@dataclass
class ExerciseResult:
    exercise: str
    title: str
    points: float
    max_points: float
    status: str
    message: str
    hint: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass
class SubmissionResult:
    """What the grader concluded about one submission."""

    student: str
    chapter: str
    source: str
    status: str
    message: str = ""
    exercises: list[ExerciseResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tampering: list[str] = field(default_factory=list)
    executed: str | None = None
    feedback: list[str] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    graded_at: str = ""

    @property
    def points(self) -> float:
        return float(sum(e.points for e in self.exercises))

    @property
    def max_points(self) -> float:
        return float(sum(e.max_points for e in self.exercises))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SubmissionResult":
        data = dict(data)
        data["exercises"] = [ExerciseResult(**e) for e in data.get("exercises", [])]
        return cls(**data)

    def summary(self) -> str:
        """One line for the terminal."""
        head = f"{format_points(self.points)}/{format_points(self.max_points)}"
        counts: dict[str, int] = {}
        for e in self.exercises:
            counts[e.status] = counts.get(e.status, 0) + 1
        detail = ", ".join(f"{n} {s}" for s, n in counts.items())
        text = f"{head} {self.status}" + (f" ({detail})" if detail else "")
        if self.status in ("invalid", "wrong-chapter", "missing", "error", "clash") and self.message:
            text += f": {self.message}"
        return text
