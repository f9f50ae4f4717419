"""The grader's test process: the student's functions answer calls, the verdict is reached elsewhere.

The student's kernel never sees a test. Once the student's notebook has run, the
objects the tests need (``one_hot``, ``perplexity``) are pickled out of the kernel
(:mod:`.execution`) and handed to this process, which is started fresh for each
submission through the sandbox launcher::

    python -m textrnn_lab.grading.checker CHAPTER

It imports the trusted modules (torch, numpy, cloudpickle, ``textrnn_lab.checks``)
and then reads one exercise at a time on stdin: a JSON header (the names of the
objects, the time limit, the dotted names the exercise forbids; never a test)
followed by the pickled objects. For each one it forks a child
(:func:`.remote.serve`) that starts a new session in an empty temporary folder,
with stdin, stdout and stderr on ``/dev/null`` and no descriptor but its two
pipes, replaces the forbidden callables by tripwires (:func:`.verdicts.install_tripwires`),
unpickles the student's objects and answers calls; this process passes the
lines between the child and the grader (:func:`.remote.relay`), announces a child
that dies (``died``, with its signal or exit status), kills it at the end of
the exercise or past its time limit, and then every process left in its
namespace (:func:`_clear_namespace`).

The tests, the references and the hidden tests are not here: they run in the
grading worker (:func:`.remote.run_remote`), where the student's functions are
proxies that call this process and get plain data back (:mod:`.wire`), and the
verdict is reached there (:mod:`.verdicts`). :func:`run_exercise` runs one
exercise with the child forked from the calling process (for tests).
"""
from __future__ import annotations

import os
import signal
import sys
import time

from .remote import STATUS_NAMES  # noqa: F401 - re-exported: a dead child's signal, in words


def run_exercise(job: dict, blobs: dict[str, bytes], checks_module) -> dict:
    """One exercise with the student's side forked from this process: the tests and the verdict here, the
    student's functions in the child (:func:`.remote.run_local`). The grader itself runs the tests in the
    worker and the student's side in the sandboxed checker (:func:`.remote.run_remote`)."""
    from .remote import run_local

    return run_local(job, blobs, checks_module)


def _clear_namespace() -> None:
    """In a PID namespace of its own (the checker is PID 1 there), kill every other process and reap it:
    nothing a test started, not even a process that left its session, survives into the next exercise."""
    if os.getpid() != 1:
        return
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != 1:
            try:
                os.kill(int(name), signal.SIGKILL)
            except OSError:
                pass
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.01)
            if not any(n.isdigit() and int(n) != 1 for n in os.listdir("/proc")):
                break


def main(argv: list[str] | None = None) -> int:
    from .remote import LineChannel, ProtocolFailure, relay

    args = list(sys.argv[1:] if argv is None else argv)
    chapter = args[0] if args else None
    # the protocol channel is a private copy of stdout; anything printed by libraries goes to stderr
    channel_fd = os.dup(1)
    os.dup2(2, 1)
    import cloudpickle  # noqa: F401 - preloaded, so each exercise's child starts at once
    import numpy  # noqa: F401
    import torch  # noqa: F401

    from textrnn_lab import checks

    if chapter:
        checks.available_checks(chapter)
    upstream = LineChannel(0, channel_fd)
    upstream.send({"ready": True})
    while True:
        try:
            job = upstream.receive(None)
            if job is None or job.get("done"):
                break
            sizes = job.get("sizes", {}) if isinstance(job.get("sizes"), dict) else {}
            blobs = {name: upstream.read_exactly(int(size)) for name, size in sizes.items()}
        except (ProtocolFailure, ValueError, TypeError):
            upstream.send({"status": "error", "message": "the grader sent a malformed job"})
            break
        relay(job, blobs, upstream)
        _clear_namespace()
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a process
    sys.exit(main())
