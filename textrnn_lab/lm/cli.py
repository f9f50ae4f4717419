"""``textrnn-lab train-charlm`` and ``textrnn-lab generate``: the chapter 01 model from a terminal.

::

    textrnn-lab train-charlm --text my_book.txt --minutes 3 --out book.pt
    textrnn-lab generate --checkpoint book.pt --prompt "It was" --temperature 0.8 --max-tokens 500

``train-charlm`` trains on any UTF-8 text (the last 10% held out), shows its
progress on stderr, saves one checkpoint (weights, vocabulary, settings) and
prints ``val_loss=<nats per character>`` on the held-out text as the last line
of stdout. ``generate`` needs nothing but that checkpoint; it writes exactly the
prompt and the generated text to stdout (plus a final newline when stdout is
a terminal), and any information to stderr.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from dataclasses import MISSING, fields
from pathlib import Path

from ..errors import CourseError
from ..layers.rnn import CELLS
from .config import CharLMConfig, CharLMTrainConfig


def _defaults(config_class) -> dict:
    """The field defaults of a config dataclass: the command's defaults are the library's."""
    return {f.name: f.default for f in fields(config_class) if f.default is not MISSING}


MODEL = _defaults(CharLMConfig)
TRAIN = _defaults(CharLMTrainConfig)
DEFAULT_MINUTES = TRAIN["max_seconds"] / 60


def int_at_least(minimum: int):
    """An argparse type: a whole number >= ``minimum``, with a one-line message otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {value}")
        return value

    return parse


_positive_int = int_at_least(1)
_nonneg_int = int_at_least(0)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


def _nonneg_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def _info(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _set_threads(threads: int | None) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)


# ----------------------------------------------------------------------------- train-charlm
def _process_age() -> float:
    """Seconds since this process started (Python's own start-up included); 0 where unknown."""
    try:
        with open("/proc/self/stat", "rb") as handle:
            start_ticks = int(handle.read().rsplit(b")", 1)[1].split()[19])
        with open("/proc/uptime", "rb") as handle:
            uptime = float(handle.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0


def cmd_train_charlm(args: argparse.Namespace) -> int:
    started = time.perf_counter() - _process_age()
    from ..data import load_text, read_text_file
    from ..data.vocab import CharVocab
    from ..runtime.device import describe_device, get_device
    from ..runtime.paths import runs_dir
    from .train import min_text_chars, train_charlm

    if args.text is not None:
        text = read_text_file(args.text)
        source = str(args.text)
        stem = Path(args.text).stem or "text"
    else:
        text = load_text("austen")
        source = "austen (shipped corpus)"
        stem = "austen"
    need = min_text_chars(args.seq_len)
    if len(text) < need:
        where = args.text if args.text is not None else "the corpus"
        raise CourseError(
            f"{where} is too short to train on: {len(text):,} characters, but one training window is "
            f"{args.seq_len + 1} characters and 10% is held out, so at least {need:,} are needed.",
            hint="use a longer text, or a shorter window with --seq-len.")
    device = get_device(args.device)
    out = Path(args.out) if args.out else runs_dir() / "charlm" / f"{stem}_{args.cell}.pt"
    if out.exists() and out.is_dir():
        raise CourseError(f"--out {out} is a directory.", hint="give the path of a file, e.g. model.pt")
    budget = f"{args.steps} steps" if args.steps else f"{args.minutes:g} minutes"
    _info(f"training a {args.cell.upper()} ({args.hidden} x {args.layers}{', attention' if args.attention else ''}) "
          f"on {source}: {len(text):,} characters, 90/10 split, {budget}, {describe_device(device)}")
    max_seconds = None
    if not args.steps:
        # the whole command takes about --minutes: start-up, the final evaluation and saving come off
        max_seconds = max(1.0, args.minutes * 60.0 - (time.perf_counter() - started) - 0.3)
    vocab = CharVocab.from_text(text)
    model_config = CharLMConfig(len(vocab), cell=args.cell, hidden_size=args.hidden, num_layers=args.layers,
                                embed_dim=args.embed_dim, dropout=args.dropout, attention=args.attention,
                                attn_window=args.attn_window)
    train_config = CharLMTrainConfig(max_steps=args.steps, max_seconds=max_seconds, seq_len=args.seq_len,
                                     batch_size=args.batch_size, lr=args.lr, unk_rate=args.unk_rate, seed=args.seed)
    fit_started = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # fit's evaluation lines are progress: stderr
        result = train_charlm(text, model_config, train_config, vocab=vocab, device=device, checkpoint=out,
                              progress=not args.quiet, source=source, threads=args.threads or "auto",
                              log=_info if args.quiet else None, include_final_eval=True)
    _info(f"saved {result.checkpoint} ({result.model.num_parameters():,} parameters, vocabulary of "
          f"{len(result.vocab)}); {result.steps} steps in {result.seconds:.0f} s, "
          f"{result.chars_per_second:,.0f} characters/s")
    changes = result.thread_changes
    if changes:
        _info("CPU threads changed with the load: " + ", ".join(f"{n} from step {step}" for step, n in changes))
    _info(f"held-out 10% ({result.val.chars:,} characters): {result.val}")
    _info(f"time: {fit_started - started:.1f} s start-up, {result.seconds:.1f} s training, "
          f"{result.final_eval_seconds:.1f} s final evaluation, "
          f"{time.perf_counter() - started:.1f} s in all")
    print(f"checkpoint={result.checkpoint} steps={result.steps} seconds={result.seconds:.1f} "
          f"chars_per_s={result.chars_per_second:.0f} params={result.model.num_parameters()} "
          f"val_bpc={result.val.bpc:.4f} val_perplexity={result.val.perplexity:.3f}")
    print(f"val_loss={result.val.nats:.4f}", flush=True)
    return 0


# ----------------------------------------------------------------------------- generate
def cmd_generate(args: argparse.Namespace) -> int:
    from ..runtime.device import get_device
    from .checkpoint import load_charlm
    from .sampling import iter_generate

    device = get_device(args.device)
    _set_threads(args.threads)
    model, vocab, extra = load_charlm(args.checkpoint, device=device)
    config = model.config
    val = extra.get("val") or {}
    trained = f", held-out loss {val['nats']:.3f} nats/char" if "nats" in val else ""
    _info(f"loaded {args.checkpoint}: {config.cell.upper()} {config.hidden_size} x {config.num_layers}"
          f"{' + attention' if config.attention else ''}, vocabulary of {len(vocab)}{trained}")
    unknown = vocab.unknown_chars(args.prompt)
    if unknown:
        _info(f"note: the model never saw {''.join(unknown)!r} in training; it reads them as the unknown symbol")
    stream = sys.stdout
    if hasattr(stream, "reconfigure"):
        with contextlib.suppress(Exception):
            stream.reconfigure(encoding="utf-8")
    chars = iter_generate(model, vocab, args.prompt, args.max_tokens, args.temperature, args.top_k,
                          args.seed, device)
    first = next(chars, None)  # option errors surface here, before anything is printed
    stream.write(args.prompt)
    if first is not None:
        stream.write(first)
        for ch in chars:
            stream.write(ch)
            if ch == "\n":
                stream.flush()
    if stream.isatty():
        stream.write("\n")
    stream.flush()
    return 0


# ----------------------------------------------------------------------------- parser
def add_cli(subparsers) -> None:
    """Add ``train-charlm`` and ``generate`` to the ``textrnn-lab`` command line."""
    p = subparsers.add_parser(
        "train-charlm", help="train a character language model on a UTF-8 text (chapter 01)",
        description="Train a character-level language model on a UTF-8 text file; the last 10% is held out. "
                    "Prints val_loss=<nats per character> on the held-out text as the last line.")
    p.add_argument("--text", metavar="FILE", help="UTF-8 text file (default: the shipped Jane Austen corpus)")
    p.add_argument("--cell", choices=tuple(CELLS), default=MODEL["cell"],
                   help=f"recurrent cell (default {MODEL['cell']})")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=_positive_float, default=None, metavar="M",
                        help=f"time budget for the whole command (default {DEFAULT_MINUTES:g})")
    budget.add_argument("--steps", type=_positive_int, default=None, metavar="N", help="train for N steps instead")
    p.add_argument("--out", metavar="CKPT", help="checkpoint to write (default runs/charlm/<text>_<cell>.pt)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--hidden", type=_positive_int, default=MODEL["hidden_size"],
                   help="hidden size (default %(default)s)")
    p.add_argument("--layers", type=_positive_int, default=MODEL["num_layers"],
                   help="recurrent layers (default %(default)s)")
    p.add_argument("--embed-dim", type=_positive_int, default=MODEL["embed_dim"],
                   help="character embedding size (default %(default)s)")
    p.add_argument("--dropout", type=_nonneg_float, default=MODEL["dropout"], help="dropout (default %(default)s)")
    p.add_argument("--attention", action="store_true", help="attend over the recent hidden states")
    p.add_argument("--attn-window", type=_positive_int, default=MODEL["attn_window"],
                   help="states attention sees (default %(default)s)")
    p.add_argument("--seq-len", type=_positive_int, default=TRAIN["seq_len"],
                   help="characters per training window, the BPTT length (default %(default)s)")
    p.add_argument("--batch-size", type=_positive_int, default=TRAIN["batch_size"],
                   help="parallel streams per batch (default %(default)s)")
    p.add_argument("--lr", type=_positive_float, default=TRAIN["lr"], help="peak learning rate (default %(default)s)")
    p.add_argument("--unk-rate", type=_nonneg_float, default=TRAIN["unk_rate"],
                   help="share of input characters replaced by the unknown symbol while training, so that an unseen "
                        "character at generation time is one the model has learnt to read (default %(default)s)")
    p.add_argument("--seed", type=int, default=TRAIN["seed"], help="random seed (default %(default)s)")
    p.add_argument("--threads", type=_positive_int, default=None,
                   help="CPU threads for PyTorch (default: auto, switches between 1 and all cores as the load changes)")
    p.add_argument("--quiet", action="store_true", help="no progress bar (one line per evaluation instead)")
    p.set_defaults(func=_train_entry)

    p = subparsers.add_parser(
        "generate", help="generate text from a train-charlm checkpoint",
        description="Generate text with a checkpoint written by train-charlm. Writes exactly the prompt and the "
                    "generated text to stdout; information goes to stderr.")
    p.add_argument("--checkpoint", required=True, metavar="CKPT", help="file written by train-charlm")
    p.add_argument("--prompt", default="", help="text to start from (default: none)")
    p.add_argument("--temperature", type=_nonneg_float, default=0.8,
                   help="0 = greedy, <1 safer, >1 wilder (default %(default)s)")
    p.add_argument("--max-tokens", type=_nonneg_int, default=500, help="characters to generate (default %(default)s)")
    p.add_argument("--top-k", type=_positive_int, default=None, help="sample only among the k most likely characters")
    p.add_argument("--seed", type=int, default=None, help="seed for a repeatable sample (default: random)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--threads", type=_positive_int, default=None, help="CPU threads for PyTorch (default: all cores)")
    p.set_defaults(func=cmd_generate)


def _train_entry(args: argparse.Namespace) -> int:
    if args.minutes is None and args.steps is None:
        args.minutes = DEFAULT_MINUTES
    if args.dropout >= 1:
        raise CourseError(f"--dropout must be below 1, not {args.dropout}.")
    return cmd_train_charlm(args)
