"""``textrnn-lab grade CHAPTER SUBMISSION... --out DIR [--workers N] [--timeout S] [-p NAME VALUE] [--force]``."""
from __future__ import annotations

import argparse
import ast
import sys


def _value(text: str):
    """A parameter value as papermill's -p reads it: a Python literal when it is one, else the string."""
    lowered = text.strip()
    if lowered in ("true", "True"):
        return True
    if lowered in ("false", "False"):
        return False
    if lowered in ("none", "None"):
        return None
    try:
        return ast.literal_eval(lowered)
    except (ValueError, SyntaxError):
        return text


def cmd_grade(args: argparse.Namespace) -> int:
    from ..errors import CourseError
    from .grader import GradeOptions, grade
    from .results import format_points

    parameters = {}
    for name, value in args.parameter or []:
        if not name.isidentifier():
            raise CourseError(f"-p {name} {value}: {name!r} is not a parameter name.")
        parameters[name] = _value(value)
    options = GradeOptions(
        workers=args.workers,
        timeout=args.timeout,
        cell_timeout=args.cell_timeout,
        test_timeout=args.test_timeout,
        parameters=parameters,
        force=args.force,
        memory_mb=args.memory_mb,
        isolation=args.isolation,
    )
    run = grade(args.chapter, args.submissions, args.out, options, log=print)
    graded = run.results
    if graded:
        counts: dict[str, int] = {}
        for result in graded:
            counts[result.status] = counts.get(result.status, 0) + 1
        mean = sum(r.points for r in graded) / len(graded)
        top = graded[0].max_points
        print(f"graded {len(graded)} submission(s) in {run.seconds:.0f} s: "
              + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
              + f"; mean {format_points(round(mean, 2))}/{format_points(top)}")
    if run.skipped:
        print(f"skipped {len(run.skipped)} already graded (use --force to grade them again)")
    print(f"grade book: {run.gradebook}")
    print(f"feedback:   {run.out / 'feedback'}")
    print(f"notebooks:  {run.out / 'executed'}")
    status = 0
    clashes = [r for r in graded if r.status == "clash"]
    if clashes:
        print(f"{len(clashes)} student id(s) are given by more than one path and were not graded "
              "(rename all but one; the grade book names the paths): " + ", ".join(r.student for r in clashes),
              file=sys.stderr)
        status = 1
    errors = [r for r in graded if r.status == "error"]
    if errors:
        print(f"{len(errors)} submission(s) could not be graded because of a grader problem: "
              + ", ".join(r.student for r in errors), file=sys.stderr)
        status = 1
    return status


def add_cli(subparsers) -> None:
    """Add the ``grade`` sub-command to ``textrnn-lab``."""
    p = subparsers.add_parser(
        "grade",
        help="grade student notebooks of a chapter",
        description="Execute each submission in its own sandboxed kernel (smoke mode on the CPU by default), "
                    "run the chapter's own tests on the student's definitions, and write gradebook.csv, "
                    "a feedback file per student and the executed notebooks under --out.",
    )
    p.add_argument("chapter", metavar="CHAPTER", help="chapter number (00) or file name")
    p.add_argument("submissions", nargs="+", metavar="SUBMISSION",
                   help="a notebook, a folder of notebooks, or a folder of students' folders")
    p.add_argument("--out", required=True, metavar="DIR", help="where the grade book, feedback and notebooks go")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="submissions graded at once (default 1)")
    p.add_argument("--timeout", type=float, default=900, metavar="SECONDS",
                   help="wall-clock limit for running one whole notebook (default 900)")
    p.add_argument("--cell-timeout", type=float, default=None, metavar="SECONDS",
                   help="limit for one cell (default: the notebook's limit)")
    p.add_argument("--test-timeout", type=float, default=60, metavar="SECONDS",
                   help="limit for the tests of one exercise (default 60)")
    p.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                   help="inject a parameter (default SMOKE True, DEVICE cpu); repeat for several")
    p.add_argument("--memory-mb", type=int, default=6144, metavar="MB",
                   help="address-space limit of each kernel and test process (default 6144)")
    p.add_argument("--isolation", choices=("auto", "on", "off"), default="auto",
                   help="run student code in Linux namespaces: auto (when possible, default), on (required), off")
    p.add_argument("--force", action="store_true", help="grade again submissions already in the grade book")
    p.set_defaults(func=cmd_grade)
