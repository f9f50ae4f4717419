"""Limits and isolation for the processes that run students' code.

Both the student's kernel and the grader's test process are started through this
module's launcher::

    python -m textrnn_lab.grading.sandbox [--memory-mb N] [--file-mb N] [--cpu-s N] [--cgroup DIR ...]
        [--isolate --hide PATH ... --keep PATH ...] -- COMMAND ...

which, before running ``COMMAND``:

* asks the kernel to kill it when its parent (the grading worker) dies
  (``PR_SET_PDEATHSIG``), so an interrupted grader leaves no stray kernels;
* moves itself into the submission's control groups (``--cgroup``, made by the
  worker where cgroups are writable: memory and number of processes and threads
  of the submission as a whole, see :class:`SubmissionCgroup`);
* sets resource limits: address space (``RLIMIT_AS``, a memory bomb becomes a
  ``MemoryError``), the size of any file written (``RLIMIT_FSIZE``), CPU seconds
  (``RLIMIT_CPU``, a backstop behind the wall-clock timeouts) and no core dumps;
* with ``--isolate`` (Linux with bubblewrap, ``bwrap``): runs ``COMMAND`` in a
  sandbox built by bubblewrap, a maintained setuid-free sandbox, instead of
  namespaces set up by hand.

The sandbox (see :func:`bwrap_arguments`):

* new mount, PID, network, IPC and UTS namespaces; the command is PID 1 of its
  PID namespace (``--as-pid-1``), so when it ends every process it started ends
  with it, and bubblewrap kills it when the launcher's parent dies;
* a root file system made of what Python needs and nothing else: ``/usr``,
  ``/etc``, ``/sys`` and the interpreter, the packages and the course's data,
  all read-only (``--keep`` adds paths); the solutions, the repository's
  ``.git``, the output folder and the submission folders are not in it, and any
  ``--hide`` path inside a kept one is covered by an empty read-only file system;
* a private, size-limited ``/tmp`` (``$TMPDIR`` inside it), a private ``/dev``
  with no devices but the usual ones (and the GPUs), a new ``/proc``, no network;
  the working folder is the one writable place that the grader can see;
* student code never runs as root and never has a capability: run as root,
  the launcher has bubblewrap set the sandbox up and then drop to uid/gid 65534
  (``setpriv``, all capability sets emptied, bounding set included); run as
  another user, bubblewrap runs unprivileged in a user namespace as uid 65534,
  with ``--disable-userns``. Either way ``no_new_privs`` is set, so no setuid
  program gives anything back. The mounts are made by bubblewrap before the
  command starts and are locked against a process without capabilities:
  ``umount`` and remounting read-write fail, also from inside a user namespace
  the command makes for itself (a more privileged namespace's mounts are locked
  there).

The kernel talks to the grader over Unix sockets in its working folder. Files
the grader writes for the kernel (its connection file) live in the folder
above, which the worker owns and the sandbox sees read-only
(:func:`prepare_folders`).

:func:`isolation_available` says whether ``--isolate`` works on this machine;
without it the limits still apply but the files of the machine stay readable
(see the threat model in :mod:`textrnn_lab.grading.grader`). What is not
defended: a kernel exploit from inside the sandbox; reading what every user of
the machine may read in ``/usr``, ``/etc`` and ``/sys``; using the CPU and the
GPU for as long as the time limits allow. There is no seccomp filter.

The launcher imports nothing heavy: it starts in a few milliseconds.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import glob
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

_PR_SET_PDEATHSIG = 1

#: The user (and group) student code runs as: ``nobody`` on Debian, never root.
SANDBOX_UID = 65534
SANDBOX_GID = 65534
TMP_MB = 512  # the private /tmp (tmpfs: counted in the submission's memory)
_SYSTEM_DIRS = ("/usr", "/etc", "/sys", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/var/cache/fontconfig")
_GPU_DEVICES = ("/dev/nvidia*", "/dev/dri")


@dataclass(frozen=True)
class Limits:
    """Resource limits for a sandboxed process (``None``: no limit)."""

    memory_mb: int | None = 6144
    file_mb: int | None = 256
    cpu_s: int | None = None
    cgroups: tuple[str, ...] = ()  # control groups to join (a :class:`SubmissionCgroup`'s folders)
    disk_mb: int | None = 1024  # what the submission may leave in its working folder (watched by the worker)

    def arguments(self) -> list[str]:
        args = [a for folder in self.cgroups for a in ("--cgroup", folder)]
        if self.memory_mb:
            args += ["--memory-mb", str(int(self.memory_mb))]
        if self.file_mb:
            args += ["--file-mb", str(int(self.file_mb))]
        if self.cpu_s:
            args += ["--cpu-s", str(int(self.cpu_s))]
        return args


@dataclass(frozen=True)
class Isolation:
    """Whether to sandbox, which paths to hide from the sandboxed process, and which to show it (read-only)
    besides what Python needs."""

    enabled: bool = False
    hide: tuple[str, ...] = field(default_factory=tuple)
    keep: tuple[str, ...] = field(default_factory=tuple)

    def arguments(self) -> list[str]:
        if not self.enabled:
            return []
        args = ["--isolate"]
        for path in self.hide:
            args += ["--hide", path]
        for path in self.keep:
            args += ["--keep", path]
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
    # models and fonts already downloaded or cached (read-only): notebooks load them offline
    for cache in (os.environ.get("HF_HOME") or "~/.cache/huggingface", os.environ.get("TORCH_HOME") or "~/.cache/torch",
                  "~/.cache/fontconfig"):
        folder = Path(cache).expanduser()
        if folder.is_dir():
            needed.add(folder)
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


def _as_root() -> bool:
    return os.geteuid() == 0


def sandbox_owner() -> tuple[int, int] | None:
    """(uid, gid) that owns what the sandboxed student writes, when it is not the grader's own user (as root)."""
    return (SANDBOX_UID, SANDBOX_GID) if _as_root() else None


def prepare_folders(root: Path, isolation: Isolation) -> Path:
    """Make ``root`` (a fresh folder of the grader's) ready for one sandboxed process and return its working folder.

    ``root`` stays the grader's (read-only in the sandbox, where the grader keeps the
    kernel's connection file and log); ``root/work`` is the student's: the only folder
    the sandbox can write that the grader also sees.
    """
    root = Path(root)
    work = root / "work"
    work.mkdir(mode=0o700)
    owner = sandbox_owner() if isolation.enabled else None
    if owner is not None:
        os.chmod(root, 0o755)  # traversable by the sandbox's user; the worker's home above is the grader's alone
        os.chown(work, *owner)
        os.chmod(work, 0o711)  # bubblewrap enters it as root without capabilities, before it drops to uid 65534
    return work


def give_to_sandbox(path: Path, isolation: Isolation) -> None:
    """Let the sandbox's user read (and write) a file or folder the grader made for it."""
    owner = sandbox_owner() if isolation.enabled else None
    if owner is not None:
        os.chown(path, *owner, follow_symlinks=False)


@functools.lru_cache(maxsize=1)
def isolation_available() -> tuple[bool, str]:
    """(works, reason): whether ``--isolate`` can be used here (tried once per process)."""
    if not sys.platform.startswith("linux"):
        return False, "namespaces need Linux"
    if shutil.which("bwrap") is None:
        return False, "bubblewrap (`bwrap`) is not installed"
    if _as_root() and shutil.which("setpriv") is None:
        return False, "the `setpriv` command (util-linux) is not installed"
    with tempfile.TemporaryDirectory(prefix="textrnn-sandbox-probe-") as tmp:
        hidden = Path(tmp) / "hidden"
        hidden.mkdir()
        (hidden / "secret").write_text("x")
        probe = (
            "import os, sys\n"
            "assert not os.path.exists(sys.argv[1])\n"
            "assert os.path.isdir(os.getcwd())\n"
            "status = dict(line.split(':', 1) for line in open('/proc/self/status') if ':' in line)\n"
            "assert os.getuid() != 0 and os.geteuid() != 0, 'runs as root'\n"
            "assert int(status['CapEff'], 16) == 0 and int(status['CapBnd'], 16) == 0, 'has capabilities'\n"
            "assert status['NoNewPrivs'].strip() == '1', 'no no_new_privs'\n"
            "try:\n"
            "    open(os.path.join(sys.prefix, '.textrnn-write-probe'), 'w')\n"
            "    state = 'writable'\n"
            "except OSError:\n"
            "    state = 'read-only'\n"
            "open('ok', 'w').write(state)\n"
        )
        work = prepare_folders(Path(tmp), Isolation(True))
        command = launcher_prefix(Limits(memory_mb=None, file_mb=None), Isolation(True, (str(hidden),)))
        command += [sys.executable, "-c", probe, str(hidden / "secret")]
        try:
            done = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            return False, f"bubblewrap failed: {exc}"
        if done.returncode != 0 or not (work / "ok").exists():
            detail = (done.stderr or done.stdout).strip().splitlines()
            return False, "bubblewrap cannot make a sandbox here" + (f" ({detail[-1]})" if detail else "")
        state = (work / "ok").read_text()
    leftover = Path(sys.prefix) / ".textrnn-write-probe"
    if leftover.exists():
        leftover.unlink()
    user = "root, dropping to uid 65534" if _as_root() else "a user namespace, uid 65534"
    return True, (f"bubblewrap: mount, PID, network and IPC namespaces, {user}, no capabilities, no_new_privs; "
                  f"files outside the working folder {state}")


# --------------------------------------------------------------------------- one submission's control groups


def _own_cgroup(controller: str) -> str | None:
    """The folder of this process's control group for ``controller`` ("memory", "pids"), or None."""
    try:
        lines = open("/proc/self/cgroup", encoding="utf-8").read().splitlines()
        mounts = open("/proc/self/mountinfo", encoding="utf-8").read().splitlines()
    except OSError:
        return None
    for line in lines:
        number, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if controller in controllers.split(","):  # cgroup v1: a hierarchy of its own
            for mount in mounts:
                fields = mount.split(" - ")
                if len(fields) != 2 or fields[1].split()[0] != "cgroup":
                    continue
                if controller in fields[1].split()[-1].split(","):
                    root, point = fields[0].split()[3:5]
                    inside = path[len(root):] if root != "/" and path.startswith(root) else path
                    return os.path.join(point, inside.lstrip("/"))
    for line in lines:
        if line.startswith("0::"):  # cgroup v2: one hierarchy, the controller must be enabled for children
            for mount in mounts:
                fields = mount.split(" - ")
                if len(fields) == 2 and fields[1].split()[0] == "cgroup2":
                    folder = os.path.join(fields[0].split()[4], line[3:].lstrip("/"))
                    try:
                        if controller in open(os.path.join(folder, "cgroup.subtree_control")).read().split():
                            return folder
                    except OSError:
                        return None
    return None


class SubmissionCgroup:
    """Control groups holding all the processes of one submission (its kernels and its test process).

    Where cgroups are writable (as root, usually): the memory of the submission as a
    whole (``memory_mb``, swap included where it is accounted) and its number of
    tasks (``tasks``: processes and threads) are limited, :meth:`hits` says which
    limit was reached, and :meth:`kill` stops every process in them. Elsewhere
    :attr:`folders` is empty, ``unavailable`` says why, and only the per-process
    limits of :class:`Limits` hold.
    """

    def __init__(self, memory_mb: int | None, tasks: int | None):
        import secrets

        self.memory_mb, self.tasks = memory_mb, tasks
        self.folders: dict[str, str] = {}
        self.unavailable: list[str] = []
        name = f"textrnn-{os.getpid()}-{secrets.token_hex(4)}"
        wanted = {"memory": memory_mb, "pids": tasks}
        for controller, value in wanted.items():
            if not value:
                continue
            parent = _own_cgroup(controller)
            if parent is None:
                self.unavailable.append(f"no {controller} control group")
                continue
            _sweep(parent)
            folder = os.path.join(parent, name)
            try:
                os.mkdir(folder)
            except OSError as exc:
                self.unavailable.append(f"{controller} control group not writable ({exc.strerror})")
                continue
            self.folders[controller] = folder
            try:
                self._set_limit(controller, folder, int(value))
            except OSError as exc:
                self.unavailable.append(f"{controller} limit not set ({exc.strerror})")

    @staticmethod
    def _write(path: str, value: str) -> None:
        with open(path, "w") as handle:
            handle.write(value)

    def _set_limit(self, controller: str, folder: str, value: int) -> None:
        if controller == "pids":
            self._write(os.path.join(folder, "pids.max"), str(value))
            return
        size = str(value << 20)
        if os.path.exists(os.path.join(folder, "memory.max")):  # v2
            self._write(os.path.join(folder, "memory.max"), size)
            if os.path.exists(os.path.join(folder, "memory.swap.max")):
                self._write(os.path.join(folder, "memory.swap.max"), "0")
            return
        self._write(os.path.join(folder, "memory.limit_in_bytes"), size)
        memsw = os.path.join(folder, "memory.memsw.limit_in_bytes")
        if os.path.exists(memsw):
            try:
                self._write(memsw, size)
            except OSError:
                pass


    def _count(self, names: tuple[str, ...], keys: tuple[str, ...]) -> int:
        """The sum of ``keys`` in the event files ``names`` over the groups and their sub-groups
        (an event is counted where the process that met the limit is)."""
        total = 0
        for group in self._groups(None):
            for name in names:
                try:
                    text = open(os.path.join(group, name), encoding="utf-8").read()
                except OSError:
                    continue
                for line in text.splitlines():
                    parts = line.split()
                    if len(parts) >= 2 and parts[0] in keys and parts[1].isdigit():
                        total += int(parts[1])
                break
        return total

    def hits(self) -> list[str]:
        """The limits of the submission as a whole that were reached, in words."""
        found = []
        if self._count(("pids.events",), ("max",)):
            found.append(f"your notebook reached its limit of {self.tasks} processes and threads in all: "
                         "starting more failed")
        if self._count(("memory.events", "memory.oom_control"), ("oom_kill",)):
            found.append(f"your notebook's processes used up the {self.memory_mb} MB of memory they may use in all "
                         "(forked processes, files in /tmp included): one of them was killed")
        return found

    def part(self, name: str) -> tuple[str, ...]:
        """The folders of a sub-group (``kernel``, ``checker``), under the submission's limits; made when needed."""
        folders = []
        for folder in self.folders.values():
            inner = os.path.join(folder, name)
            try:
                os.makedirs(inner, exist_ok=True)
                folders.append(inner)
            except OSError:
                folders.append(folder)
        return tuple(folders)

    def _groups(self, name: str | None) -> list[str]:
        found = []
        for folder in self.folders.values():
            try:
                children = [e.path for e in os.scandir(folder) if e.is_dir()]
            except OSError:
                children = []
            found += [c for c in children if name is None or os.path.basename(c) == name]
            if name is None:
                found.append(folder)
        return found

    def kill(self, name: str | None = None) -> int:
        """SIGKILL every process in the groups (or in the sub-group ``name``); how many there were."""
        count = 0
        for group in self._groups(name):
            try:
                pids = open(os.path.join(group, "cgroup.procs"), encoding="utf-8").read().split()
            except OSError:
                continue
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                    count += 1
                except (OSError, ValueError):
                    pass
        return count

    def close(self) -> None:
        """Kill what is left and remove the groups."""
        import time

        groups = self._groups(None)
        for _ in range(100):
            self.kill()
            groups = [g for g in groups if not _rmdir(g)]
            if not groups:
                break
            time.sleep(0.05)
        self.folders = {}


def _sweep(parent: str) -> None:
    """Remove the empty groups left by workers that were killed (``textrnn-<pid>-*`` of a pid that is gone)."""
    try:
        entries = [e for e in os.scandir(parent) if e.name.startswith("textrnn-") and e.is_dir()]
    except OSError:
        return
    for entry in entries:
        pid = entry.name.split("-")[1]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            try:
                for inner in os.scandir(entry.path):
                    if inner.is_dir():
                        _rmdir(inner.path)
            except OSError:
                pass
            _rmdir(entry.path)


def _rmdir(folder: str) -> bool:
    try:
        os.rmdir(folder)
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------- the sandbox's command line


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _outermost(paths) -> list[str]:
    """The paths of ``paths`` that are not inside another one of them, sorted."""
    result: list[str] = []
    for item in sorted({os.path.realpath(p) for p in paths}):
        if not any(_inside(item, r) for r in result):
            result.append(item)
    return result


def bwrap_arguments(command: list[str], hide: list[str], keep: list[str], cwd: str, tmpdir: str,
                    tmp_mb: int = TMP_MB) -> list[str]:
    """The bubblewrap command line that runs ``command`` in ``cwd`` (see the module docstring)."""
    bwrap = shutil.which("bwrap") or "bwrap"
    root = _as_root()
    args = [bwrap, "--die-with-parent", "--as-pid-1", "--unshare-ipc", "--unshare-pid", "--unshare-net",
            "--unshare-uts", "--unshare-cgroup-try", "--cap-drop", "ALL"]
    if root:
        # bubblewrap sets up as root; setpriv then drops to the sandbox's user (which empties every capability set)
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
    else:
        args += ["--unshare-user", "--disable-userns", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID)]
    for path in _SYSTEM_DIRS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    args += ["--proc", "/proc", "--dev", "/dev"]
    for pattern in _GPU_DEVICES:
        for device in sorted(glob.glob(pattern)):
            args += ["--dev-bind-try", device, device]
    made = {"/"}  # folders that exist in the new root
    bound: list[str] = []  # folders bound from the host (their insides exist already)

    def parents(path: str, mode: str = "0755") -> None:
        chain = []
        parent = os.path.dirname(path)
        while parent not in made and not any(_inside(parent, b) for b in bound):
            chain.append(parent)
            parent = os.path.dirname(parent)
        for folder in reversed(chain):
            args.extend(["--perms", mode, "--dir", folder])
            made.add(folder)

    args += ["--perms", "1777", "--size", str(tmp_mb << 20), "--tmpfs", "/tmp"]
    made.add("/tmp")
    tmpdir = os.path.realpath(tmpdir)
    if not _inside(tmpdir, "/tmp"):
        parents(tmpdir)
        args += ["--perms", "1777", "--size", str(tmp_mb << 20), "--tmpfs", tmpdir]
    elif tmpdir != "/tmp":
        parents(tmpdir)
        args += ["--perms", "1777", "--dir", tmpdir]
    made.add(tmpdir)
    cwd = os.path.realpath(cwd)
    # what Python needs, read-only; never a folder that holds $TMPDIR (the worker's home, other submissions)
    kept = [k for k in _outermost(p for p in keep if os.path.exists(p))
            if not _inside(tmpdir, k) and not any(_inside(k, s) for s in ("/proc", "/dev"))]
    for path in kept:
        if any(_inside(path, s) for s in ("/usr", "/etc", "/sys", "/var/cache/fontconfig")):
            continue  # there already, read-only
        parents(path)
        args += ["--ro-bind", path, path]
        bound.append(path)
    for path in _outermost(hide):
        visible = any(_inside(path, k) for k in (*kept, *_SYSTEM_DIRS))
        if not visible or _inside(cwd, path) or _inside(path, cwd):
            continue  # not in the sandbox at all
        if os.path.isdir(path) and not os.path.islink(path):
            args += ["--perms", "0555", "--size", "4096", "--tmpfs", path, "--remount-ro", path]
        elif os.path.lexists(path):
            args += ["--ro-bind", "/dev/null", path]
    parents(cwd)
    args += ["--bind", cwd, cwd, "--chdir", cwd, "--remount-ro", "/", "--"]
    if root:
        args += [shutil.which("setpriv") or "setpriv", f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_GID}",
                 "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--"]
    # SIGINT is ignored by bubblewrap (an interrupt of the kernel's process group must not kill it);
    # the command gets the default handling back
    env = shutil.which("env") or "/usr/bin/env"
    return args + [env, "--default-signal=INT", *command]


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


def _join_cgroups(folders: list[str]) -> None:
    for folder in folders:
        try:
            with open(os.path.join(folder, "cgroup.procs"), "w") as handle:
                handle.write(str(os.getpid()))
        except OSError as exc:
            print(f"sandbox: could not join the control group {folder}: {exc}", file=sys.stderr)


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
    isolate = False
    hide: list[str] = []
    keep: list[str] = []  # besides what Python needs
    cgroups: list[str] = []
    i = 0
    while i < len(options):
        option = options[i]
        if option in ("--memory-mb", "--file-mb", "--cpu-s", "--hide", "--keep", "--cgroup"):
            value = options[i + 1]
            i += 2
            if option == "--hide":
                hide.append(value)
            elif option == "--keep":
                keep.append(value)
            elif option == "--cgroup":
                cgroups.append(value)
            elif option == "--memory-mb":
                memory_mb = int(value)
            elif option == "--file-mb":
                file_mb = int(value)
            else:
                cpu_s = int(value)
            continue
        if option == "--isolate":
            isolate = True
        else:
            print(f"sandbox: unknown option {option}", file=sys.stderr)
            return 2
        i += 1

    _die_with_parent()
    _join_cgroups(cgroups)
    _apply_limits(memory_mb, file_mb, cpu_s)
    if isolate:
        full = bwrap_arguments(command, hide, [*map(str, _needed_paths()), *keep], os.getcwd(),
                               tempfile.gettempdir())
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited by bubblewrap; see bwrap_arguments
        os.execv(full[0], full)
    os.execvp(command[0], command)
    return 127  # not reached


if __name__ == "__main__":  # pragma: no cover - exercised through subprocesses
    sys.exit(main())
