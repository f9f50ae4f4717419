"""``textrnn-lab challenge make`` and ``textrnn-lab challenge score``: the chapter 09 challenge from a terminal.

::

    textrnn-lab challenge make --out runs/challenge09 --train 3000 --test 1500
    textrnn-lab challenge score runs/challenge09/submission.csv --labels runs/challenge09/organisers/test_labels.json

``make`` writes a challenge folder (``training/``, ``test/``,
``training_labels.json``) and, beside it, the organisers' held test labels.
``score`` checks a submission (``id,label`` CSV) against the held labels,
prints each class's precision, recall and F1, and as its last line
``accuracy=<a> macro_f1=<f>``. A malformed submission is one error message
and exit status 1.
"""
from __future__ import annotations

import argparse

from ..lm.cli import int_at_least as _whole  # the same one-line message as train-charlm


def _make(args: argparse.Namespace) -> int:
    from .challenge import make_challenge

    paths = make_challenge(args.out, n_train=args.train, n_test=args.test, seed=args.seed)
    print(f"challenge folder: {paths.folder} ({paths.n_train} training and {paths.n_test} test texts)")
    print(f"held test labels (do not give them to participants): {paths.held_labels}")
    return 0


def _score(args: argparse.Namespace) -> int:
    from .scoring import score_submission

    score = score_submission(args.submission, args.labels)
    width = max(len(str(name)) for name in score.per_class)
    print(f"  {'class'.ljust(width)}  precision  recall  f1      support")
    for name, row in score.per_class.items():
        print(f"  {str(name).ljust(width)}  {row['precision']:9.4f}  {row['recall']:6.4f}  {row['f1']:.4f}  "
              f"{row['support']}")
    print(f"accuracy={score.accuracy:.4f} macro_f1={score.macro_f1:.4f}")
    return 0


def add_cli(subparsers) -> None:
    """Add ``challenge make`` and ``challenge score`` to the ``textrnn-lab`` command line."""
    p = subparsers.add_parser("challenge", help="the chapter 09 data challenge: make one, score a submission",
                              description="The chapter 09 data challenge: make a challenge folder, score a submission.")
    sub = p.add_subparsers(dest="challenge_command", metavar="ACTION", parser_class=type(p))
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    make = sub.add_parser("make", help="write training/, test/, training_labels.json and the held test labels",
                          description="Write a challenge built from the shipped VADER sentences (labels negative / "
                                      "positive) under OUT: OUT/challenge/ for participants, "
                                      "OUT/organisers/test_labels.json for scoring.")
    make.add_argument("--out", required=True, metavar="DIR", help="run folder to write into (not data/)")
    make.add_argument("--train", type=_whole(1), default=3000, metavar="N", help="training texts (default %(default)s)")
    make.add_argument("--test", type=_whole(1), default=1500, metavar="N", help="test texts (default %(default)s)")
    make.add_argument("--seed", type=int, default=0, help="which texts and ids (default %(default)s)")
    make.set_defaults(func=_make)

    score = sub.add_parser("score", help="score an id,label CSV against the held labels",
                           description="Check a submission (a CSV whose first line is id,label, one row per test "
                                       "id) and print per-class scores, then accuracy and macro-F1.")
    score.add_argument("submission", metavar="SUBMISSION", help="the id,label CSV file")
    score.add_argument("--labels", required=True, metavar="FILE", help="the held test labels, JSON {id: label}")
    score.set_defaults(func=_score)
