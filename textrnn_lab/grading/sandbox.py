"""Limits and isolation for the processes that run students' code.

Both the student's kernel and the grader's test process are started through this
module's launcher::

    python -m textrnn_lab.grading.sandbox [--memory-mb N] [--file-mb N] [--cpu-s N]
        [--isolate --hide PATH ...] -- COMMAND ...

which, before running ``COMMAND``:

* asks the kernel to kill it when its parent (the grading worker) dies
  (``PR_SET_PDEATHSIG``), so an interrupted grader leaves no stray kernels;
* sets resource limits: address space (``RLIMIT_AS``, a memory bomb becomes a
  ``MemoryError``), the size of any file written (``RLIMIT_FSIZE``), CPU seconds
  (``RLIMIT_CPU``, a backstop behind the wall-clock timeouts) and no core dumps;
* with ``--isolate`` (Linux, where unprivileged user namespaces work): moves the
  process into new user, mount, PID and network namespaces (``unshare``). There it
  covers each ``--hide`` path with an empty read-only file system (the solutions,
  the repository's ``.git``, the output folder, the submission folders), gives it
  a private ``/tmp`` and ``$TMPDIR`` (in which only its own working folder is visible), a private
  ``/proc`` (no other process can be seen or signalled) and no network. The
  kernel talks to the grader over Unix sockets in its working folder.

:func:`isolation_available` says whether ``--isolate`` works on this machine;
without it the limits still apply but the files of the machine stay readable
(see the threat model in :mod:`textrnn_lab.grading.grader`).

The launcher imports nothing heavy: it starts in a few milliseconds.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_MS_RDONLY = 1
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_NOEXEC = 8
_MS_REMOUNT = 32
_MS_NOATIME = 1024
_MS_NODIRATIME = 2048
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_MS_RELATIME = 1 << 21
_MS_STRICTATIME = 1 << 24
_KEPT_FLAGS = {"nosuid": _MS_NOSUID, "nodev": _MS_NODEV, "noexec": _MS_NOEXEC, "noatime": _MS_NOATIME,
               "nodiratime": _MS_NODIRATIME, "relatime": _MS_RELATIME, "strictatime": _MS_STRICTATIME}
_SPECIAL_MOUNTS = ("/proc", "/sys", "/dev")

_UNSHARE = ("--user", "--map-root-user", "--mount", "--pid", "--fork", "--mount-proc", "--net", "--kill-child")


@dataclass(frozen=True)
class Limits:
    """Resource limits for a sandboxed process (``None``: no limit)."""

    memory_mb: int | None = 6144
    file_mb: int | None = 256
    cpu_s: int | None = None

    def arguments(self) -> list[str]:
        args = []
        if self.memory_mb:
            args += ["--memory-mb", str(int(self.memory_mb))]
        if self.file_mb:
            args += ["--file-mb", str(int(self.file_mb))]
        if self.cpu_s:
            args += ["--cpu-s", str(int(self.cpu_s))]
        return args


@dataclass(frozen=True)
class Isolation:
    """Whether to use namespaces, and which paths to hide from the sandboxed process."""

    enabled: bool = False
    hide: tuple[str, ...] = field(default_factory=tuple)

    def arguments(self) -> list[str]:
        if not self.enabled:
            return []
        args = ["--isolate"]
        for path in self.hide:
            args += ["--hide", path]
        return args


def kill_group(pid: int) -> None:
    """SIGKILL the process group led by ``pid`` (a launched kernel or test process and
    whatever it started), or ``pid`` alone when it leads no group; gone already is fine."""
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except OSError:
            pass


def launcher_prefix(limits: Limits, isolation: Isolation) -> list[str]:
    """The command prefix that runs a command under ``limits`` and ``isolation``."""
    return [sys.executable, "-m", "textrnn_lab.grading.sandbox", *limits.arguments(), *isolation.arguments(), "--"]


# --------------------------------------------------------------------------- deciding what to hide


def _needed_paths() -> list[Path]:
    """Paths a sandboxed Python must still reach: the interpreter, the packages, the course's data."""
    import sysconfig

    from ..runtime import paths

    needed = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent,
              Path(__file__).resolve().parents[1], paths.data_dir()}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        value = sysconfig.get_paths().get(key)
        if value:
            needed.add(Path(value))
    for entry in sys.path:
        if entry and Path(entry).is_dir():
            needed.add(Path(entry))
    return [p.resolve() for p in needed if str(p)]


def hide_plan(paths, keep=None) -> list[str]:
    """The paths to cover so that ``paths`` are unreadable while ``keep`` (default: the
    interpreter, packages and data) stays reachable.

    A path that contains something to keep is not covered itself: its entries are,
    one level at a time, except the branches that lead to what is kept.
    """
    keep = [Path(k).resolve() for k in (keep if keep is not None else _needed_paths())]
    plan: list[str] = []

    def visit(path: Path, depth: int) -> None:
        if not path.exists() or path == Path("/"):
            return
        ancestors_of_kept = [k for k in keep if k == path or path in k.parents]
        if not ancestors_of_kept:
            plan.append(str(path))
            return
        if depth > 6 or not path.is_dir() or any(k == path for k in keep):
            return
        try:
            children = sorted(path.iterdir())
        except OSError:
            return
        for child in children:
            visit(child, depth + 1)

    for raw in paths:
        visit(Path(raw).resolve(), 0)
    unique: list[str] = []
    for item in sorted(set(plan)):
        if not any(item.startswith(u.rstrip("/") + "/") for u in unique):
            unique.append(item)
    return unique


@functools.lru_cache(maxsize=1)
def isolation_available() -> tuple[bool, str]:
    """(works, reason): whether ``--isolate`` can be used here (tried once per process)."""
    if not sys.platform.startswith("linux"):
        return False, "namespaces need Linux"
    if shutil.which("unshare") is None:
        return False, "the `unshare` command (util-linux) is not installed"
    with tempfile.TemporaryDirectory(prefix="textrnn-sandbox-probe-") as tmp:
        hidden = Path(tmp) / "hidden"
        hidden.mkdir()
        (hidden / "secret").write_text("x")
        probe = (
            "import os, sys\n"
            "assert not os.path.exists(sys.argv[1])\n"
            "assert os.path.isdir(os.getcwd())\n"
            "try:\n"
            "    open(os.path.join(sys.prefix, '.textrnn-write-probe'), 'w')\n"
            "    state = 'writable'\n"
            "except OSError:\n"
            "    state = 'read-only'\n"
            "open('ok', 'w').write(state)\n"
        )
        work = Path(tmp) / "work"
        work.mkdir()
        command = launcher_prefix(Limits(memory_mb=None, file_mb=None), Isolation(True, (str(hidden),)))
        command += [sys.executable, "-c", probe, str(hidden / "secret")]
        try:
            done = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            return False, f"unshare failed: {exc}"
        if done.returncode != 0 or not (work / "ok").exists():
            detail = (done.stderr or done.stdout).strip().splitlines()
            return False, "user namespaces are not available here" + (f" ({detail[-1]})" if detail else "")
        state = (work / "ok").read_text()
    leftover = Path(sys.prefix) / ".textrnn-write-probe"
    if leftover.exists():
        leftover.unlink()
    return True, f"user, mount, PID and network namespaces; files outside the working folder {state}"


# --------------------------------------------------------------------------- the launcher itself


def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def _die_with_parent() -> None:
    try:
        _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _set_limit(which: int, value: int) -> None:
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, hard if hard != resource.RLIM_INFINITY else resource.RLIM_INFINITY))


def _apply_limits(memory_mb: int | None, file_mb: int | None, cpu_s: int | None) -> None:
    if memory_mb:
        _set_limit(resource.RLIMIT_AS, int(memory_mb) * 1024 * 1024)
    if file_mb:
        _set_limit(resource.RLIMIT_FSIZE, int(file_mb) * 1024 * 1024)
    if cpu_s:
        _set_limit(resource.RLIMIT_CPU, int(cpu_s))
    _set_limit(resource.RLIMIT_CORE, 0)


def _mount(libc, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    result = libc.mount(
        source.encode() if source is not None else None,
        target.encode(),
        fstype.encode() if fstype is not None else None,
        ctypes.c_ulong(flags),
        data.encode() if data is not None else None,
    )
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {target}: {os.strerror(errno)}")


def _mount_points() -> list[tuple[str, set[str]]]:
    """(mount point, per-mount options) of every mount this process sees."""
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            fields = line.split()
            if len(fields) < 6:
                continue
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
            found.append((point, set(fields[5].split(","))))
    return found


def _read_only_everywhere(libc, writable: list[str]) -> list[str]:
    """Remount every mount read-only except ``writable`` and /proc, /sys, /dev; return the failures."""
    failed = []
    for point, options in _mount_points():
        special = any(point == s or point.startswith(s + "/") for s in _SPECIAL_MOUNTS)
        if "ro" in options or point in writable or special:
            continue
        flags = _MS_REMOUNT | _MS_BIND | _MS_RDONLY
        for name, bit in _KEPT_FLAGS.items():
            if name in options:
                flags |= bit  # flags inherited from the parent namespace are locked: keep them
        try:
            _mount(libc, None, point, None, flags)
        except OSError:
            failed.append(point)
    return failed


def _outermost(paths) -> list[str]:
    """The paths of ``paths`` that are not inside another one of them, sorted."""
    result: list[str] = []
    for item in sorted({os.path.realpath(p) for p in paths}):
        if not any(item == r or item.startswith(r.rstrip(os.sep) + os.sep) for r in result):
            result.append(item)
    return result


def _inside_namespace(hide: list[str], keep: list[str] | None = None) -> None:
    """Runs as root of the new user namespace: cover ``hide``, make /tmp private, the rest read-only.

    ``keep`` (default: the interpreter, the packages and the course's data) stays
    reachable even when it lies under /tmp, as it does for a course cloned there.
    """
    libc = _libc()
    _mount(libc, None, "/", None, _MS_REC | _MS_PRIVATE)
    for path in hide:
        if os.path.isdir(path):
            _mount(libc, "tmpfs", path, "tmpfs", _MS_RDONLY | _MS_NOSUID | _MS_NODEV, "size=4k,mode=555")
        elif os.path.exists(path):
            _mount(libc, "/dev/null", path, None, _MS_BIND)
    # a private /tmp, $TMPDIR and /dev/shm, in which only our own working folder (and what
    # Python itself needs) is visible again
    cwd = os.getcwd()
    keep = [k for k in _outermost(str(p) for p in (keep if keep is not None else _needed_paths())
                                  if os.path.exists(p))
            if not (k == cwd or k.startswith(cwd + os.sep))]  # the working folder is bound below
    covered: list[str] = []
    for tmp in sorted({"/tmp", os.path.realpath(tempfile.gettempdir())}):
        if not os.path.isdir(tmp) or any(tmp == c or tmp.startswith(c + os.sep) for c in covered):
            continue
        if any(k == tmp for k in keep):
            continue  # Python itself lives here: this folder cannot be replaced
        inside = [k for k in keep if k.startswith(tmp + os.sep)]
        handles = {k: os.open(k, os.O_PATH) for k in inside}  # reach them again after the mount
        _mount(libc, "tmpfs", tmp, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=512m,mode=1777")
        for path, fd in handles.items():
            os.makedirs(path, exist_ok=True)
            _mount(libc, f"/proc/self/fd/{fd}", path, None, _MS_BIND | _MS_REC)
            os.close(fd)
        covered.append(tmp)
    if os.path.isdir("/dev/shm"):
        _mount(libc, "tmpfs", "/dev/shm", "tmpfs", _MS_NOSUID | _MS_NODEV, "size=256m,mode=1777")
    writable = covered + ["/dev/shm"]
    if any(cwd == c or cwd.startswith(c + os.sep) for c in covered):
        os.makedirs(cwd, exist_ok=True)
        # "." still names the original folder (we are standing in it): bind it back in place
        _mount(libc, ".", cwd, None, _MS_BIND | _MS_REC)
        os.chdir(cwd)
        writable.append(cwd)
    # nothing else may be changed: not the course's code, not the environment, not the home folder
    failed = _read_only_everywhere(libc, writable)
    if failed:
        print(f"sandbox: could not make read-only: {', '.join(failed[:5])}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--" not in args:
        print("usage: python -m textrnn_lab.grading.sandbox [options] -- COMMAND ...", file=sys.stderr)
        return 2
    split = args.index("--")
    options, command = args[:split], args[split + 1:]
    if not command:
        print("sandbox: no command given", file=sys.stderr)
        return 2
    memory_mb = file_mb = cpu_s = None
    isolate = inner = False
    hide: list[str] = []
    keep: list[str] = []  # besides what Python needs: paths under /tmp that stay visible
    i = 0
    while i < len(options):
        option = options[i]
        if option in ("--memory-mb", "--file-mb", "--cpu-s", "--hide", "--keep"):
            value = options[i + 1]
            i += 2
            if option == "--hide":
                hide.append(value)
            elif option == "--keep":
                keep.append(value)
            elif option == "--memory-mb":
                memory_mb = int(value)
            elif option == "--file-mb":
                file_mb = int(value)
            else:
                cpu_s = int(value)
            continue
        if option == "--isolate":
            isolate = True
        elif option == "--inner":
            inner = True
        else:
            print(f"sandbox: unknown option {option}", file=sys.stderr)
            return 2
        i += 1

    if inner:
        _inside_namespace(hide, [*map(str, _needed_paths()), *keep])
        os.execvp(command[0], command)
    _die_with_parent()
    _apply_limits(memory_mb, file_mb, cpu_s)
    if isolate:
        unshare = shutil.which("unshare") or "unshare"
        inner_command = [sys.executable, "-m", "textrnn_lab.grading.sandbox", "--inner"]
        for path in hide:
            inner_command += ["--hide", path]
        for path in keep:
            inner_command += ["--keep", path]
        os.execv(unshare, [unshare, *_UNSHARE, "--", *inner_command, "--", *command])
    os.execvp(command[0], command)
    return 127  # not reached


if __name__ == "__main__":  # pragma: no cover - exercised through subprocesses
    sys.exit(main())
