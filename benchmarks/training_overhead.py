"""Benchmark: the overhead of the shared loop ``textrnn_lab.training.fit`` over a bare PyTorch loop.

Both train the same character language model (chapter 01's, a GRU by default)
on the same truncated-BPTT batches of Moby Dick for the same number of steps,
with the same optimizer, gradient clipping and learning-rate schedule; ``fit``
adds its progress bar, NaN check, per-step and per-evaluation history and so on. The two runs
alternate several times and the median of each is reported, as wall time and
as CPU time of this process (steadier when the machine is shared). Target:
overhead below 10%.

    python benchmarks/training_overhead.py [--steps 150] [--repeats 3] [--threads 1]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

from textrnn_lab.data import load_text
from textrnn_lab.lm import CharLM, CharLMConfig, CharVocab, TBPTTLoss, TBPTTStream
from textrnn_lab.training import fit
from textrnn_lab.training.schedules import BudgetSchedule


def make(args, ids, vocab_size):
    torch.manual_seed(0)
    model = CharLM(CharLMConfig(vocab_size, cell=args.cell, hidden_size=args.hidden))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    schedule = BudgetSchedule(optimizer, max_steps=args.steps, warmup_steps=10)
    data = TBPTTStream(ids, args.batch_size, args.seq_len)
    return model, optimizer, schedule, data


def bare_loop(args, ids, vocab_size) -> tuple[float, float, float]:
    model, optimizer, schedule, data = make(args, ids, vocab_size)
    loss_fn = TBPTTLoss()
    model.train()
    wall, cpu = time.perf_counter(), time.process_time()
    for _, batch in zip(range(args.steps), data):
        loss = loss_fn(model, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
    return time.perf_counter() - wall, time.process_time() - cpu, float(loss.detach())


def with_fit(args, ids, vocab_size) -> tuple[float, float, float]:
    model, optimizer, schedule, data = make(args, ids, vocab_size)
    wall, cpu = time.perf_counter(), time.process_time()
    history = fit(model, data, TBPTTLoss(), optimizer=optimizer, max_steps=args.steps, evals=args.evals,
                  device="cpu", clip_grad_norm=1.0, scheduler=schedule, progress=args.progress)
    return time.perf_counter() - wall, time.process_time() - cpu, history.steps[-1]["loss"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--evals", type=int, default=3, help="evaluation points fit spreads over the steps")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cell", default="gru")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="fit without its progress bar")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    text = load_text("mobydick", max_chars=400_000)
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    print(f"{args.cell.upper()} {args.hidden}, batch {args.batch_size} x {args.seq_len}, {args.steps} steps, "
          f"{args.threads} thread(s), fit progress bar {'on' if args.progress else 'off'}; "
          f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    bare_loop(args, ids, len(vocab))  # warm-up (allocator, kernels)
    runs = {"bare": [], "fit": []}
    for r in range(args.repeats):
        order = (("bare", bare_loop), ("fit", with_fit))
        for name, run in order if r % 2 == 0 else order[::-1]:
            wall, cpu, loss = run(args, ids, len(vocab))
            runs[name].append((wall, cpu))
            print(f"  {name:4s} run {r + 1}: {wall:6.2f} s wall, {cpu:6.2f} s CPU, last loss {loss:.3f}",
                  file=sys.stderr)
    med = {name: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for name, v in runs.items()}
    over_wall = 100 * (med["fit"][0] / med["bare"][0] - 1)
    over_cpu = 100 * (med["fit"][1] / med["bare"][1] - 1)
    print(f"bare loop  {med['bare'][0]:.2f} s wall, {med['bare'][1]:.2f} s CPU "
          f"({args.steps / med['bare'][0]:.1f} steps/s)")
    print(f"fit        {med['fit'][0]:.2f} s wall, {med['fit'][1]:.2f} s CPU "
          f"({args.steps / med['fit'][0]:.1f} steps/s)")
    print(f"overhead   {over_wall:+.1f}% wall, {over_cpu:+.1f}% CPU (target < 10%) -> "
          f"{'PASS' if max(over_wall, over_cpu) < 10 else 'MISS'}")
    print(f"load after {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
