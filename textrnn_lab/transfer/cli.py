"""``textrnn-lab finetune`` and ``textrnn-lab classify``: chapter 02's classifier on your own CSV, from a terminal.

::

    textrnn-lab finetune --train reviews.csv --minutes 3 --out runs/reviews
    textrnn-lab finetune --train train.csv --test test.csv --text-column review --label-column stars --epochs 2
    textrnn-lab classify --model runs/reviews "What a film!" "Two hours I will not get back."

``finetune`` fine-tunes the encoder (``--encoder``; the packaged all-MiniLM-L6-v2 by
default, a hub name where the hub can be reached) on the CSV, holding out a stratified
20% unless ``--test`` is given. Progress goes to stderr; stdout gets the data summary,
accuracy, macro-F1 and the confusion matrix on the held-out texts, where the model was
saved (``save_pretrained``, so ``transformers`` loads it as it is, plus ``labels.json``),
and as its last line ``accuracy=<held-out accuracy>``. ``classify`` prints one line per
text: ``<label>\\t<probability>\\t<text>``.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import MISSING, fields
from pathlib import Path

from .finetune import FinetuneConfig

DEFAULTS = {f.name: f.default for f in fields(FinetuneConfig) if f.default is not MISSING}
DEFAULT_MINUTES = DEFAULTS["max_seconds"] / 60


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {'whole ' if kind is int else ''}number, "
                                             f"got {text!r}") from None
        if not value > 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
        return value

    return parse


def _info(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _default_out(train: Path) -> Path:
    from ..runtime.paths import runs_dir

    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", train.stem) or "data"
    return runs_dir() / "finetune" / stem


def cmd_finetune(args: argparse.Namespace) -> int:
    from .finetune import finetune, save_finetuned
    from .metrics import format_confusion
    from .tabular import read_labelled_texts, stratified_split

    started = time.perf_counter()
    data = read_labelled_texts(args.train, args.text_column, args.label_column)
    if args.test:
        train = data
        test = read_labelled_texts(args.test, args.text_column, args.label_column, label_names=data.label_names)
        where = f"test file {args.test}"
    else:
        train_index, test_index = stratified_split(data.labels, 0.2, seed=args.seed)
        train, test = data.subset(train_index), data.subset(test_index)
        where = "a stratified 20% of the training file"
    counts = ", ".join(f"{name} {n}" for name, n in data.counts.items())
    print(f"data: {len(data)} labelled texts in {args.train}, {len(data.label_names)} classes ({counts})")
    print(f"training on {len(train)} texts, testing on {len(test)} ({where})")
    minutes = args.minutes if args.minutes is not None or args.epochs is not None else DEFAULT_MINUTES
    config = FinetuneConfig(max_seconds=minutes * 60 if minutes is not None else None, epochs=args.epochs,
                            encoder=args.encoder, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                            max_length=args.max_length, threads=args.threads)
    budget = f"{minutes:g} min" if minutes is not None else f"{args.epochs:g} epoch(s)"
    _info(f"fine-tuning {args.encoder or 'all-MiniLM-L6-v2 (offline)'} for {budget} on {args.device}")
    result = finetune(train, config, test=test, device=args.device, progress=not args.quiet)
    out = Path(args.out).expanduser() if args.out else _default_out(Path(args.train))
    save_finetuned(result, out, extra={"train_file": str(args.train), "test": where})
    ev = result.test
    print(f"trained {result.history.num_steps} steps in {result.train_seconds:.1f} s "
          f"({result.trainable:,} trainable parameters); evaluated {len(test)} texts in {ev.seconds:.1f} s")
    print(f"macro_f1={ev.macro_f1:.4f}")
    print("confusion matrix (rows: true class, columns: predicted):")
    print(format_confusion(ev.confusion, result.label_names))
    print(f"saved to {out} (transformers: AutoModelForSequenceClassification.from_pretrained({str(out)!r}))")
    print(f"total time {time.perf_counter() - started:.1f} s")
    print(f"accuracy={ev.accuracy:.4f}")
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    from .finetune import classify_texts

    for text, (label, prob) in zip(args.texts, classify_texts(args.model, args.texts, device=args.device)):
        print(f"{label}\t{prob:.4f}\t{text}")
    return 0


def add_cli(subparsers) -> None:
    """Add ``finetune`` and ``classify`` to the ``textrnn-lab`` command line."""
    p = subparsers.add_parser(
        "finetune", help="fine-tune a pre-trained encoder as a classifier on a labelled CSV (chapter 02)",
        description="Fine-tune a pre-trained encoder as a text classifier on a CSV with a text and a label column. "
                    "Without --test a stratified 20%% is held out. Prints accuracy, macro-F1 and the confusion "
                    "matrix, saves the model with save_pretrained, and prints accuracy=<held-out accuracy> last.")
    p.add_argument("--train", required=True, metavar="FILE.csv", help="labelled training texts (UTF-8 CSV or TSV)")
    p.add_argument("--test", metavar="FILE.csv", help="labelled test texts (default: 20%% of --train, stratified)")
    p.add_argument("--text-column", default="text", help="column holding the texts (default %(default)s)")
    p.add_argument("--label-column", default="label", help="column holding the labels (default %(default)s)")
    p.add_argument("--encoder", default=None, metavar="NAME",
                   help="pre-trained encoder: a hub name or a directory (default: the packaged all-MiniLM-L6-v2)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=_positive(float), default=None, metavar="M",
                        help=f"training time budget (default {DEFAULT_MINUTES:g})")
    budget.add_argument("--epochs", type=_positive(float), default=None, metavar="N",
                        help="passes over the training texts instead of a time budget")
    p.add_argument("--out", metavar="DIR", help="where to save the model (default runs/finetune/<train file>)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--batch-size", type=_positive(int), default=DEFAULTS["batch_size"],
                   help="texts per step (default %(default)s)")
    p.add_argument("--lr", type=_positive(float), default=DEFAULTS["lr"],
                   help="peak learning rate (default %(default)s)")
    p.add_argument("--max-length", type=_positive(int), default=DEFAULTS["max_length"],
                   help="tokens kept per text (default %(default)s)")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="seed of the split and the head (default 0)")
    p.add_argument("--threads", type=_positive(int), default=None,
                   help="CPU threads (default: adapts between one and all cores as the load changes)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_finetune)

    p = subparsers.add_parser(
        "classify", help="label texts with a model saved by finetune",
        description="Print each text's label and its probability (tab-separated) with a finetune model.")
    p.add_argument("--model", required=True, metavar="DIR", help="the --out directory of textrnn-lab finetune")
    p.add_argument("texts", nargs="+", metavar="TEXT", help="texts to classify")
    p.add_argument("--device", default="cpu", help="cpu (default), auto, cuda, cuda:N or mps")
    p.set_defaults(func=cmd_classify)

