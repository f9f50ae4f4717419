"""How many CPU threads PyTorch should use, chosen by measurement rather than guessed.

Never taught: machinery that makes the recurrent models of chapters 01 and 04
train faster on shared CPUs. :func:`probe_threads` times one training step
with one thread and with all cores before training; :class:`AdaptiveThreads`
keeps re-deciding while training, as the load of the machine changes::

    threads, timings = probe_threads(model, batch, loss_fn)
    tuner = AdaptiveThreads()
    fit(model, tuner.wrap(batches), loss_fn, ...)   # tuner.changes: (step, threads) for every change
"""
from __future__ import annotations

import os
import time
from collections import deque
from typing import Any, Callable

import torch
from torch import nn

from .loop import split_loss


def probe_threads(model: nn.Module, batch: Any, loss_fn: Callable[[nn.Module, Any], Any],
                  candidates: list[int] | None = None, repeats: int = 3,
                  margin: float = 0.8) -> tuple[int, dict[int, float]]:
    """Time a forward and backward pass of ``loss_fn(model, batch)`` with each thread count; keep the best.

    On a machine whose cores are shared with other work, each of a recurrent
    network's many small matrix products waits for the slowest thread, so all
    cores can be several times slower than one; on an idle machine all cores
    win. The median of ``repeats`` passes is compared, and more threads are
    kept only when they take at most ``margin`` times as long as one (a
    wrong "more threads" costs far more than a wrong "one thread"). Returns
    ``(threads, {threads: seconds per pass})`` and leaves PyTorch set to
    ``threads``. Gradients are cleared afterwards, so training is unaffected.
    """
    cores = os.cpu_count() or 1
    candidates = sorted(set(candidates or [1, cores]))
    timings: dict[int, float] = {}
    for threads in candidates:
        torch.set_num_threads(threads)
        times: list[float] = []
        for i in range(repeats + 1):
            start = time.perf_counter()
            loss, _ = split_loss(loss_fn(model, batch))
            loss.backward()
            if i > 0:  # the first pass warms up
                times.append(time.perf_counter() - start)
            if timings and times and min(times) > 2 * min(timings.values()):
                break  # clearly slower already: a loaded machine must not make the probe itself slow
        times.sort()
        timings[threads] = times[len(times) // 2] if times else float("inf")
    model.zero_grad(set_to_none=True)
    choice = candidates[0]
    for threads in candidates[1:]:
        if timings[threads] <= margin * timings[choice]:
            choice = threads
    torch.set_num_threads(choice)
    return choice, timings


class AdaptiveThreads:
    """Choose between one CPU thread and all of them while training, by the measured step time.

    ``wrap(batches)`` passes the batches through unchanged and times how long
    the consumer (the training loop) spends on each one. Every
    ``period_seconds`` it tries the other thread count for ``trial_steps``
    steps and keeps it if its median step time is below ``margin`` times the
    current one; a trial step twice as slow as usual ends the trial at once, so
    trying costs little even when the machine is busy. ``changes`` lists
    ``(step, threads)`` for every change. Useful where the cores are shared
    (a course server, a laptop running other things); on a dedicated machine
    it settles on all cores and stays there. When the batches end (or the loop lets go of
    them) the thread count the caller had is set again, so one model's choice does not
    become the next model's starting point.
    """

    def __init__(self, candidates: list[int] | None = None, period_seconds: float = 10.0, trial_steps: int = 6,
                 margin: float = 0.85):
        cores = os.cpu_count() or 1
        self.candidates = sorted(set(candidates or [1, cores]))
        self.period_seconds, self.trial_steps, self.margin = period_seconds, trial_steps, margin
        current = torch.get_num_threads()
        self.current = current if current in self.candidates else self.candidates[-1]
        self.changes: list[tuple[int, int]] = []
        self.steps = 0

    @staticmethod
    def _median(values) -> float:
        ordered = sorted(values)
        return ordered[len(ordered) // 2]

    def wrap(self, batches):
        if len(self.candidates) < 2:
            yield from batches
            return
        callers = torch.get_num_threads()
        torch.set_num_threads(self.current)
        recent: deque = deque(maxlen=25)     # step times with self.current
        trial: int | None = None             # the thread count on trial, if any
        trial_times: list[float] = []
        phase_start = time.perf_counter()
        try:
            for batch in batches:
                start = time.perf_counter()
                yield batch
                now = time.perf_counter()
                dt = now - start                 # what the training loop spent on this batch
                self.steps += 1
                if trial is None:
                    recent.append(dt)
                    if now - phase_start >= self.period_seconds and len(recent) >= 5:
                        others = [c for c in self.candidates if c != self.current]
                        trial = others[(self.steps // 7) % len(others)]
                        trial_times = []
                        torch.set_num_threads(trial)
                    continue
                trial_times.append(dt)
                base = self._median(recent)
                too_slow = dt > (5 if len(trial_times) == 1 else 2) * base  # the first step may warm up
                if too_slow or len(trial_times) > self.trial_steps:
                    if not too_slow and self._median(trial_times[1:]) < self.margin * base:
                        self.current = trial
                        self.changes.append((self.steps, trial))
                        recent.clear()
                    torch.set_num_threads(self.current)
                    trial = None
                    phase_start = time.perf_counter()
        finally:  # the batches ended or the loop let go of them: give back the caller's setting
            torch.set_num_threads(callers)


def tuned_on_cpu(batches, device, period_seconds: float = 10.0):
    """``batches`` through an :class:`AdaptiveThreads` when ``device`` is the CPU; unchanged on an accelerator."""
    from ..runtime.device import get_device

    if get_device(device).type != "cpu":
        return batches
    return AdaptiveThreads(period_seconds=period_seconds).wrap(batches)
