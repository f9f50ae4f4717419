"""Benchmark: `textrnn-lab finetune` on 2,000 labelled texts of a 4-class task, end to end in at most 5 minutes.

The task: which of VADER's four sources (movie reviews, NYT editorials, tweets,
Amazon reviews) a sentence comes from. 2,000 stratified training texts and 4,000
other held-out texts are written to CSV files, and the command a student would
type is run as a subprocess with a 3-minute training budget. Prints the held-out
accuracy (target >= 0.90), macro-F1, steps, wall time end to end (target <= 300 s)
and the machine's load before and after (a shared machine trains fewer steps).

    python benchmarks/finetune_5min.py
    python benchmarks/finetune_5min.py --minutes 2 -- --batch-size 32
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_ACCURACY, TARGET_SECONDS = 0.90, 300.0


def _command() -> list[str]:
    script = Path(sys.executable).with_name("textrnn-lab")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from textrnn_lab.course.cli import main; sys.exit(main())"]


def _load() -> str:
    try:
        return "load %.2f %.2f %.2f" % os.getloadavg()
    except OSError:  # pragma: no cover
        return "load unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--test", type=int, default=4000)
    parser.add_argument("extra", nargs="*", help="more finetune options, after --")
    args = parser.parse_args()

    from textrnn_lab.data import load_dataset
    from textrnn_lab.transfer.tabular import stratified_sample

    frame = load_dataset("vader")[["text", "domain"]].rename(columns={"domain": "label"})
    names = sorted(frame["label"].unique())
    labels = [names.index(v) for v in frame["label"]]
    train = stratified_sample(labels, args.train, seed=0)
    rest = sorted(set(range(len(frame))) - set(train))
    test = [rest[i] for i in stratified_sample([labels[i] for i in rest], args.test, seed=1)]
    with tempfile.TemporaryDirectory() as tmp:
        train_csv, test_csv = Path(tmp) / "train.csv", Path(tmp) / "test.csv"
        frame.iloc[train].to_csv(train_csv, index=False)
        frame.iloc[test].to_csv(test_csv, index=False)
        command = _command() + ["finetune", "--train", str(train_csv), "--test", str(test_csv), "--minutes",
                                f"{args.minutes:g}", "--out", str(Path(tmp) / "model"), "--quiet", *args.extra]
        print("before:", _load(), flush=True)
        started = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        print("after: ", _load())
    print(proc.stdout)
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        return proc.returncode
    accuracy = float(proc.stdout.strip().splitlines()[-1].split("=")[1])
    f1 = float(re.search(r"macro_f1=([0-9.]+)", proc.stdout).group(1))
    steps = re.search(r"trained (\d+) steps", proc.stdout).group(1)
    print(f"accuracy={accuracy:.4f} (target >= {TARGET_ACCURACY}), macro_f1={f1:.4f}, {steps} steps, "
          f"{seconds:.0f} s end to end (target <= {TARGET_SECONDS:.0f}), {os.cpu_count()} CPU(s)")
    return 0 if accuracy >= TARGET_ACCURACY and seconds <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
