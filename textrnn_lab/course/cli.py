"""The ``textrnn-lab`` command line.

Every sub-command turns a :class:`~textrnn_lab.errors.CourseError` into one
clear message on stderr and a non-zero exit status; wrong arguments print the
usage. Heavy modules are imported inside the commands, so ``--help`` is quick.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

from ..errors import CourseError
from .doctor import package_version


def print_table(rows: Sequence[Sequence[object]]) -> None:
    """Print rows as left-aligned columns (the first row is the header)."""
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import diagnose

    report = diagnose(args.device)
    print(report.format())
    return 0 if report.ready else 1


# ----------------------------------------------------------------------------- list
def cmd_list(args: argparse.Namespace) -> int:
    from .chapters import list_chapters

    chapters = list_chapters()
    if not chapters:
        raise CourseError("no chapter notebooks found in solutions/.", hint="run from the course repository.")
    rows = [("#", "file", "title", "student copy")]
    for ch in chapters:
        rows.append((ch.number, ch.stem, ch.title, "yes" if Path(ch.student).is_file() else "missing"))
    print_table(rows)
    return 0


# ----------------------------------------------------------------------------- run
def cmd_run(args: argparse.Namespace) -> int:
    from ..runtime.paths import runs_dir
    from .chapters import list_chapters, resolve_chapter
    from .summary import run_chapters

    chapters = [resolve_chapter(name) for name in args.chapters] if args.chapters else list_chapters()
    if args.device != "auto":
        from ..runtime.device import get_device

        get_device(args.device)  # a clear error now rather than inside every notebook
    out = Path(args.out) if args.out else runs_dir() / ("smoke" if args.smoke else "full")
    print(f"running {len(chapters)} notebook(s) ({'smoke' if args.smoke else 'default'} parameters, "
          f"device {args.device}) -> {out}")
    summaries = run_chapters(chapters, smoke=args.smoke, device=args.device, out_dir=out, seed=args.seed,
                             progress=sys.stderr.isatty(), log=print)
    failed = [s for s in summaries if s.status != "ok"]
    print(f"\nsummary: {out / 'summary.md'}")
    if failed:
        print(f"{len(failed)} of {len(summaries)} notebook(s) failed: " + ", ".join(s.stem for s in failed),
              file=sys.stderr)
        return 1
    print(f"all {len(summaries)} notebook(s) ran.")
    return 0


# ----------------------------------------------------------------------------- release
def cmd_release(args: argparse.Namespace) -> int:
    from .release import release_all

    results = release_all(check=args.check)
    if args.check:
        drift = [(path, status) for path, status in results if status != "ok"]
        for path, status in drift:
            print(f"  {status}: {path}")
        if drift:
            print(f"chapters/ has drifted from solutions/ ({len(drift)} file(s)); run `textrnn-lab release`.",
                  file=sys.stderr)
            return 1
        print(f"chapters/ is up to date with solutions/ ({len(results)} notebook(s)).")
        return 0
    for path, status in results:
        print(f"  {status}: {path}")
    print(f"released {len(results)} notebook(s) into chapters/.")
    return 0


# ----------------------------------------------------------------------------- parser
# Sub-commands defined next to the code they drive: each module has add_cli(subparsers).
_PLUGINS = ("textrnn_lab.lm.cli", "textrnn_lab.grading.cli",
            "textrnn_lab.transfer.cli", "textrnn_lab.bert_lstm.cli")


class _Parser(argparse.ArgumentParser):
    """Argument errors print the usage and a one-line message (exit 2), never a traceback."""

    def error(self, message: str):  # noqa: D401
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n  (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="textrnn-lab", description="Run, release and check the textrnn-lab course notebooks.")
    parser.add_argument("--version", action="version", version=f"textrnn-lab {package_version('textrnn-lab') or 'dev'}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("doctor", help="check versions, device, offline data and models")
    p.add_argument("--device", default="auto", help="device to check (default: auto)")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("list", help="list the chapters")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("run", help="execute solution notebooks with papermill")
    p.add_argument("chapters", nargs="*", metavar="CHAPTER", help="chapter number (01) or file name; default: all")
    p.add_argument("--smoke", action="store_true", help="tiny sizes (seconds per notebook), as CI runs them")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--seed", type=int, default=0, help="seed passed to every notebook (default 0)")
    p.add_argument("--out", help="output folder (default: runs/full or runs/smoke)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("release", help="write chapters/ (student notebooks) from solutions/")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if chapters/ has drifted")
    p.set_defaults(func=cmd_release)

    _load_plugins(sub)
    return parser


def _load_plugins(sub) -> None:
    import importlib
    import importlib.util

    for module in _PLUGINS:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # its parent package is not there (yet)
            found = False
        if found:
            importlib.import_module(module).add_cli(sub)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    started = time.perf_counter()
    try:
        return int(args.func(args) or 0)
    except CourseError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  hint: {exc.hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ninterrupted after {time.perf_counter() - started:.0f} s; finished work was kept.", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
