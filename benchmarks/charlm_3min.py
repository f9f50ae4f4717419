"""Benchmark: `textrnn-lab train-charlm --minutes 3` on text the course never trains on by default.

Decompresses data/mobydick.txt.gz (Melville's Moby Dick, about 1.2 million
characters) to a temporary file and runs exactly the command a student would
type, as a subprocess, then prints its figures: held-out loss in nats per
character (target <= 1.45 on 2 CPU cores), bits per character, steps, characters per second,
model size, wall time and the machine's load before and after (the machine may
be shared, and a loaded machine trains fewer steps in the same time).

    python benchmarks/charlm_3min.py                   # the 3-minute benchmark
    python benchmarks/charlm_3min.py --minutes 1 -- --cell gru --hidden 384   # try other settings
"""
from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 1.45  # nats per character on the held-out 10%, on 2 CPU cores


def _command() -> list[str]:
    script = Path(sys.executable).with_name("textrnn-lab")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "textrnn_lab.course.cli"]


def _load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:  # pragma: no cover - not on every platform
        return "unknown"
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--text", default=str(ROOT / "data" / "mobydick.txt.gz"),
                        help="a .txt or .txt.gz file (default: data/mobydick.txt.gz)")
    parser.add_argument("extra", nargs="*", help="more train-charlm options, after --")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="charlm-bench-") as tmp:
        text_path = Path(tmp) / "text.txt"
        opener = gzip.open if args.text.endswith(".gz") else open
        with opener(args.text, "rb") as src, open(text_path, "wb") as dst:
            shutil.copyfileobj(src, dst)
        text = text_path.read_text(encoding="utf-8")
        n_chars = len(text)
        ckpt = Path(tmp) / "model.pt"
        cmd = _command() + ["train-charlm", "--text", str(text_path), "--minutes", f"{args.minutes:g}",
                            "--out", str(ckpt), "--quiet", *args.extra]
        print(f"text: {args.text} ({n_chars:,} characters); cpu cores: {os.cpu_count()}")
        print("command: textrnn-lab " + " ".join(cmd[len(_command()):]))
        load_before = _load()
        started = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
        wall = time.perf_counter() - started
        load_after = _load()
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines or not lines[-1].startswith("val_loss="):
            print(proc.stdout)
            print(proc.stderr, file=sys.stderr)
            print(f"FAILED: exit status {proc.returncode}")
            return 1
        fields = dict(re.findall(r"(\w+)=(\S+)", " ".join(lines[-2:])))
        val_loss = float(fields["val_loss"])
        curve = [line for line in proc.stderr.splitlines() if line.startswith("step ") and "val_loss" in line]
    print("learning curve (stderr of the command):")
    for line in curve:
        print("  " + line.strip())
    verdict = "PASS" if val_loss <= TARGET else "MISS"
    print(f"val_loss        {val_loss:.4f} nats/char (target <= {TARGET}) -> {verdict}")
    print(f"val_bpc         {float(fields['val_bpc']):.4f} bits/char")
    print(f"val_perplexity  {float(fields['val_perplexity']):.3f}")
    print(f"steps           {fields['steps']} in {float(fields['seconds']):.1f} s of training "
          f"({int(fields['steps']) / max(float(fields['seconds']), 1e-9):.2f} steps/s)")
    print(f"chars/s         {float(fields['chars_per_s']):,.0f} (training)")
    print(f"model size      {int(fields['params']):,} parameters")
    print(f"wall time       {wall:.1f} s for the whole command (budget {args.minutes * 60:.0f} s)")
    print(f"load average    before {load_before}; after {load_after} (1, 5, 15 min)")
    order, counted = counting_baseline(text)
    word = "better" if val_loss < counted else "worse"
    print(f"counting        {counted:.4f} nats/char: Kneser-Ney order {order} on the same split (after the run); "
          f"the RNN is {abs(counted - val_loss):.4f} {word}")
    return 0


def counting_baseline(text: str, orders=(5, 6, 7)) -> tuple[int, float]:
    """The best held-out loss of a Kneser-Ney n-gram model on the command's split: what learning must beat."""
    from textrnn_lab.data.vocab import CharVocab
    from textrnn_lab.lm.batching import train_val_split
    from textrnn_lab.lm.config import CharLMTrainConfig
    from textrnn_lab.lm.ngram import KneserNeyLM

    vocab = CharVocab.from_text(text)
    train_ids, val_ids = train_val_split(vocab.encode(text), CharLMTrainConfig().val_fraction)
    scores = {k: KneserNeyLM(k, len(vocab)).fit(train_ids).mean_nll(val_ids, history=train_ids) for k in orders}
    best = min(scores, key=scores.get)
    return best, scores[best]


if __name__ == "__main__":
    sys.exit(main())
