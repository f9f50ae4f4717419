"""The sandbox against submissions that attack it: each test crafts an attack that once worked and shows it
now does no harm, while the honest submissions graded next to it score exactly what they earned.

The crafted notebooks are built as in ``test_grading.py`` (light: without the tour cells). The attacks of
the sandboxed run are graded together in one run (two workers, shared between pytest-xdist workers
through a lock file), so that an attacker runs while its victim's kernel is alive.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from test_grading import ROOT, SOLUTION, _shared_run, code, insert_after, light, solve, student_nb, write

from textrnn_lab.grading.grader import GradeOptions, grade
from textrnn_lab.grading.sandbox import isolation_available

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning")]

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None,
                                 reason="bubblewrap (bwrap) is not installed: `make setup` installs it as root")


def _sandboxed() -> tuple[bool, str]:
    if shutil.which("bwrap") is None:
        return False, "bubblewrap (bwrap) is not installed: `make setup` installs it as root"
    return isolation_available()


# --------------------------------------------------------------------------- the attacks

#: Item 1 of the issue, verbatim: undo the sandbox's mounts and make / writable again
ESCAPE = '''import ctypes, os
libc = ctypes.CDLL(None)
for _ in range(3):
    for l in open("/proc/self/mountinfo"):
        f = l.split(" - ")[0].split()
        if ("size=4k" in l or f[3] == "/null") and not f[4].startswith("/mnt/"):
            libc.umount2(f[4].encode(), 2)
    libc.umount2(b"/tmp", 2)
libc.mount(None, b"/", None, ctypes.c_ulong(32 | 4096), None)
'''

#: ... then again from a user namespace of its own (root there, with every capability), then the harm
HARM = '''import json
harm = {"uid": os.getuid(), "unshare": libc.unshare(0x10000000 | 0x00020000)}  # CLONE_NEWUSER | CLONE_NEWNS
for _ in range(3):
    for l in open("/proc/self/mountinfo"):
        f = l.split(" - ")[0].split()
        libc.umount2(f[4].encode(), 2)
libc.mount(None, b"/", None, ctypes.c_ulong(32 | 4096), None)
def _try(label, action):
    try:
        harm[label] = action()
    except BaseException as exc:
        harm[label] = f"refused: {type(exc).__name__}"
_try("read_solution", lambda: open(SOLUTION_PATH).read()[:40])
for label, path in PROBES.items():
    _try(label, lambda path=path: open(path, "w").write("planted") and "written")
_try("replace_victim", lambda: open(VICTIM_PATH, "w").write("{}") and "replaced")
_try("edit_feedback", lambda: open(FEEDBACK_PATH, "a").write("edited by the attacker") and "edited")
print("HARM " + json.dumps(harm))
'''

#: Item 2: find another submission's kernel and replace its functions by stubs
THIEF = '''import glob, json, os, time
from jupyter_client import BlockingKernelClient
mine = os.path.realpath(os.path.join(os.getcwd(), "..", ".kernel.json"))
seen, hijacked = set(), []
start = time.monotonic()
while time.monotonic() - start < 45 and not hijacked:
    for pattern in ("/tmp/textrnn-worker-*/**/.kernel.json", "/tmp/**/.kernel.json", TMPDIR + "/**/.kernel.json"):
        for found in glob.glob(pattern, recursive=True):
            found = os.path.realpath(found)
            if found == mine or found in seen:
                continue
            seen.add(found)
            for where in (os.path.join(os.path.dirname(found), "work"), os.path.dirname(found)):
                try:
                    os.chdir(where)
                    client = BlockingKernelClient(connection_file=found)
                    client.load_connection_file()
                    client.start_channels()
                    client.execute_interactive(
                        "def one_hot(indices, num_classes):\\n    return None\\n"
                        "def perplexity(mean_nll_nats):\\n    return 0.0\\n", timeout=5)
                    hijacked.append(found)
                    break
                except BaseException as exc:
                    pass
    time.sleep(0.5)
print("THIEF " + json.dumps({"found": sorted(seen), "hijacked": hijacked}))
'''

#: Item 3: replace the kernel's log by a link to a file of the instructor's, crash, then print to the log
LINK_LOG = '''import os
for folder in (".", ".."):
    path = os.path.join(folder, ".kernel.log")
    try:
        os.remove(path)
    except OSError:
        pass
    try:
        os.symlink(TARGET, path)
    except OSError:
        pass
os._exit(1)
'''
WRITE_LOG = '''import os
os.write(1, b"APPENDED BY THE STUDENT\\n")
os.write(2, b"APPENDED BY THE STUDENT\\n")
'''


def _printed(out: Path, student: str) -> str:
    nb = nbformat.read(out / "executed" / f"{student}.ipynb", as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []) if o.get("output_type") == "stream")


def _line(printed: str, tag: str) -> dict:
    return json.loads(next(line for line in printed.splitlines() if line.startswith(tag + " "))[len(tag) + 1:])


def _probes() -> dict[str, str]:
    """Files an escaped student would plant in the course, the environment and the solutions."""
    return {"write_course": str(ROOT / "textrnn_lab" / ".planted-by-student"),
            "write_venv": str(Path(sys.prefix) / ".planted-by-student"),
            "write_solutions": str(SOLUTION.parent / ".planted-by-student"),
            "write_root": "/.planted-by-student"}


def attack_submissions(base: Path, out: Path) -> dict[str, Path]:
    subs = base / "attacks"
    made: dict[str, Path] = {}

    def add(name: str, nb) -> None:
        made[name] = write(nb, subs / f"{name}.ipynb")

    # earlier feedback, from a run before this one (an unreadable notebook: graded without a kernel)
    earlier = base / "earlier"
    earlier.mkdir(parents=True)
    (earlier / "earlier.ipynb").write_text("{", encoding="utf-8")
    grade("00", [earlier], out, GradeOptions())
    feedback = out / "feedback" / "earlier.md"
    assert feedback.is_file()

    escape = ESCAPE + HARM.replace("SOLUTION_PATH", repr(str(SOLUTION.resolve()))).replace(
        "PROBES", repr(_probes())).replace("VICTIM_PATH", repr(str(subs / "z_victim.ipynb"))).replace(
        "FEEDBACK_PATH", repr(str(feedback)))
    add("a_escape", insert_after(solve(light(student_nb())), "ch00_perplexity_test", code(escape)))
    thief = ESCAPE + THIEF.replace("TMPDIR", repr(os.path.realpath(os.environ.get("TMPDIR", "/tmp"))))
    add("b_thief", insert_after(light(student_nb()), "ch00_perplexity_test", code(thief)))
    # the thief's victim: honest, and slow after its definitions, so that its kernel is alive while the thief looks
    add("c_slow_victim", insert_after(solve(light(student_nb())), "ch00_perplexity_test",
                                      code("import time\ntime.sleep(25)")))
    target = base / "instructor-notes.txt"
    target.write_text("the instructor's own file\n", encoding="utf-8")
    nb = insert_after(solve(light(student_nb())), "ch00_perplexity_test",
                      code(LINK_LOG.replace("TARGET", repr(str(target)))), code(WRITE_LOG))
    add("d_link_log", nb)
    add("z_victim", solve(light(student_nb())))
    (base / "z_victim.bytes").write_bytes(made["z_victim"].read_bytes())
    return made


@pytest.fixture(scope="session")
def attack_run(tmp_path_factory):
    works, reason = _sandboxed()
    if not works:
        pytest.skip(f"no sandbox here: {reason}")
    for path in _probes().values():
        Path(path).unlink(missing_ok=True)
    options = GradeOptions(workers=2, timeout=300, cell_timeout=120, test_timeout=30, isolation="on")
    run = _shared_run(tmp_path_factory, "attacks", attack_submissions, options)
    run["base"] = str(Path(run["subs"]).parent)
    return run


# --------------------------------------------------------------------------- 1: undoing the mounts


@needs_bwrap
@pytest.mark.notebooks
def test_mount_escape_changes_nothing(attack_run):
    out, base = Path(attack_run["out"]), Path(attack_run["base"])
    result = attack_run["results"]["a_escape"]
    assert result.points == 3  # the attacker's own (correct) work is still graded
    harm = _line(_printed(out, "a_escape"), "HARM")
    assert harm["uid"] == 65534 if os.geteuid() == 0 else harm["uid"] != 0
    assert str(harm["read_solution"]).startswith("refused"), harm
    for label in (*_probes(), "replace_victim", "edit_feedback"):
        assert str(harm[label]).startswith("refused"), (label, harm[label])
    for path in _probes().values():
        assert not Path(path).exists(), path
    # the student graded after the attacker: its notebook untouched, its points its own
    assert (Path(attack_run["subs"]) / "z_victim.ipynb").read_bytes() == (base / "z_victim.bytes").read_bytes()
    assert attack_run["results"]["z_victim"].points == 3
    # the earlier feedback is as it was written, and still in the grade book
    assert "edited by the attacker" not in (out / "feedback" / "earlier.md").read_text(encoding="utf-8")
    rows = list(csv.DictReader(open(out / "gradebook.csv", encoding="utf-8")))
    assert {r["student"] for r in rows} >= {"earlier", "a_escape", "z_victim"}


@needs_bwrap
def test_sandboxed_process_has_no_privileges_and_cannot_unmount(tmp_path):
    """The same escape, run directly under the launcher: no capabilities, no_new_privs, not root, mounts locked."""
    from textrnn_lab.grading.sandbox import Isolation, Limits, launcher_prefix, prepare_folders

    works, reason = _sandboxed()
    if not works:
        pytest.skip(f"no sandbox here: {reason}")
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "answer.txt").write_text("42")
    isolation = Isolation(True, (str(secret),), (str(secret),))  # kept, then hidden: covered by an empty file system
    (tmp_path / "grader").mkdir()
    work = prepare_folders(tmp_path / "grader", isolation)
    probe = ESCAPE + '''import json
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
nested = libc.unshare(0x10000000 | 0x00020000)
libc.umount2(SECRET.encode(), 2)
libc.mount(None, SECRET.encode(), None, ctypes.c_ulong(32 | 4096), None)
try:
    seen = open(SECRET + "/answer.txt").read()
except OSError as exc:
    seen = f"refused: {type(exc).__name__}"
try:
    open(os.path.join(SECRET, "planted"), "w").write("x")
    planted = "written"
except OSError as exc:
    planted = f"refused: {type(exc).__name__}"
print(json.dumps({"uid": os.getuid(), "euid": os.geteuid(), "cap_eff": status["CapEff"].strip(),
                  "cap_prm": status["CapPrm"].strip(), "cap_bnd": status["CapBnd"].strip(),
                  "no_new_privs": status["NoNewPrivs"].strip(), "pid": os.getpid(), "seen": seen,
                  "planted": planted, "nested_userns": nested}))
'''.replace("SECRET", repr(str(secret)))
    command = launcher_prefix(Limits(memory_mb=None, file_mb=None), isolation) + [sys.executable, "-c", probe]
    done = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["uid"] != 0 and found["euid"] != 0
    assert int(found["cap_eff"], 16) == int(found["cap_prm"], 16) == int(found["cap_bnd"], 16) == 0
    assert found["no_new_privs"] == "1" and found["pid"] == 1
    assert found["seen"].startswith("refused") and found["planted"].startswith("refused"), found
    assert not (secret / "planted").exists() and (secret / "answer.txt").read_text() == "42"


# --------------------------------------------------------------------------- 2: another submission's kernel


@needs_bwrap
@pytest.mark.notebooks
def test_kernel_of_another_submission_cannot_be_found_or_taken_over(attack_run):
    out = Path(attack_run["out"])
    thief = _line(_printed(out, "b_thief"), "THIEF")
    assert thief["hijacked"] == [] and thief["found"] == [], thief
    victim = attack_run["results"]["c_slow_victim"]
    assert victim.points == 3, victim.exercises
    assert {e.status for e in victim.exercises} == {"passed"}


# --------------------------------------------------------------------------- 3: a link where the grader's log was


def _link_log_unharmed(out: Path, base: Path, result) -> None:
    target = base / "instructor-notes.txt"
    assert target.read_text(encoding="utf-8") == "the instructor's own file\n"
    assert not target.is_symlink()
    assert result.points == 3, result.exercises
    assert any("run 2 times" in n for n in result.notes), result.notes


@needs_bwrap
@pytest.mark.notebooks
def test_log_replaced_by_a_link_is_never_followed(attack_run):
    _link_log_unharmed(Path(attack_run["out"]), Path(attack_run["base"]), attack_run["results"]["d_link_log"])


@pytest.mark.notebooks
def test_log_replaced_by_a_link_is_never_followed_without_a_sandbox(tmp_path):
    """Without isolation the student may write the grader's folder: the log is still never reopened by name."""
    subs = tmp_path / "subs"
    target = tmp_path / "instructor-notes.txt"
    target.write_text("the instructor's own file\n", encoding="utf-8")
    nb = insert_after(solve(light(student_nb())), "ch00_perplexity_test",
                      code(LINK_LOG.replace("TARGET", repr(str(target)))), code(WRITE_LOG))
    write(nb, subs / "d_link_log.ipynb")
    run = grade("00", [subs], tmp_path / "out", GradeOptions(timeout=300, test_timeout=30, isolation="off"))
    (result,) = run.results
    _link_log_unharmed(tmp_path / "out", tmp_path, result)


# --------------------------------------------------------------------------- 10c: the grader killed


@pytest.mark.notebooks
def test_killed_grader_leaves_no_worker_feedback_or_folders(tmp_path):
    subs = tmp_path / "subs"
    for name in ("ann", "bob"):
        write(insert_after(solve(light(student_nb())), "ch00_perplexity_test", code("import time\ntime.sleep(60)")),
              subs / f"{name}.ipynb")
    out = tmp_path / "out"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    command = [sys.executable, "-m", "textrnn_lab.course.cli", "grade", "00", str(subs), "--out", str(out),
               "--workers", "2"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "TMPDIR": str(scratch)})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(scratch.glob("textrnn-worker-*/textrnn-grade-*/.kernel.json"))) < 2:
        time.sleep(0.1)  # until both kernels are starting
    time.sleep(3.0)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    for _ in range(100):
        leftovers = subprocess.run(["pgrep", "-f", str(scratch)], capture_output=True, text=True).stdout
        if not leftovers and not list(scratch.iterdir()):
            break
        time.sleep(0.2)
    assert leftovers == "", "workers, kernels or test processes outlived the killed grader"
    assert list(scratch.iterdir()) == [], "the killed grader's workers left their folders behind"
    time.sleep(2.0)
    graded = set()
    if (out / "gradebook.csv").exists():
        graded = {r["student"] for r in csv.DictReader(open(out / "gradebook.csv", encoding="utf-8"))}
    written = {p.stem for p in (out / "feedback").glob("*")} if (out / "feedback").exists() else set()
    assert written <= graded, f"feedback written for submissions not in the grade book: {written - graded}"


# --------------------------------------------------------------------------- 8: resources of a submission as a whole

#: three forked processes, each under the per-process limit, together past the submission's memory
FORK_MEMORY = '''import os, sys, time
children = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, "-c",
                 "import time; hog = b'x' * (1400 << 20); time.sleep(3)"])
    children.append(pid)
ends = [os.waitpid(pid, 0)[1] for pid in children]
print("FORKS " + str(sum(os.WIFSIGNALED(e) and os.WTERMSIG(e) == 9 for e in ends)))
'''
MANY_PROCESSES = '''import os, time
started = 0
try:
    for _ in range(300):
        pid = os.fork()
        if pid == 0:
            time.sleep(20)
            os._exit(0)
        started += 1
except OSError as exc:
    print("PROCESSES refused after", started, type(exc).__name__)
print("STARTED", started)
'''
BIG_FILES = '''written = 0
try:
    for i in range(12):
        with open(f"big-{i}.bin", "wb") as handle:
            for _ in range(25):
                handle.write(b"x" * (10 << 20))
                written += 10 << 20
except OSError as exc:
    print("DISK refused", type(exc).__name__)
print("WRITTEN", written >> 20)
'''
ONE_HUGE_FILE = 'open("huge.bin", "wb").write(b"x" * (300 << 20))\n'
STUBBORN = '''import signal, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
while True:
    time.sleep(0.1)
'''


def resource_submissions(base: Path, out: Path) -> dict[str, Path]:
    subs = base / "resources"
    made = {}
    for name, cells in (("fork_memory", [FORK_MEMORY]), ("many_processes", [MANY_PROCESSES]),
                        ("big_files", [BIG_FILES, ONE_HUGE_FILE]), ("stubborn", [STUBBORN])):
        nb = insert_after(solve(light(student_nb())), "ch00_perplexity_test", *[code(c) for c in cells])
        made[name] = write(nb, subs / f"{name}.ipynb")
    return made


@pytest.fixture(scope="session")
def resources_run(tmp_path_factory):
    from textrnn_lab.grading.sandbox import SubmissionCgroup

    probe = SubmissionCgroup(100, 10)
    writable = sorted(probe.folders)
    probe.close()
    if writable != ["memory", "pids"]:
        pytest.skip(f"cgroups are not writable here ({'; '.join(probe.unavailable)}): only per-process limits hold")
    options = GradeOptions(workers=2, timeout=90, cell_timeout=90, test_timeout=30, memory_mb=3000)
    return _shared_run(tmp_path_factory, "resources", resource_submissions, options)


@pytest.mark.notebooks
def test_forked_processes_share_the_submissions_memory(resources_run):
    result = resources_run["results"]["fork_memory"]
    printed = _printed(Path(resources_run["out"]), "fork_memory")
    killed = int(next(line for line in printed.splitlines() if line.startswith("FORKS "))[6:])
    assert killed >= 1, printed
    assert any("MB of memory" in n for n in result.notes), result.notes
    assert result.points == 3


@pytest.mark.notebooks
def test_processes_are_limited_per_submission(resources_run):
    result = resources_run["results"]["many_processes"]
    printed = _printed(Path(resources_run["out"]), "many_processes")
    started = int(next(line for line in printed.splitlines() if line.startswith("STARTED "))[8:])
    assert started < 300 and "PROCESSES refused" in printed, printed
    assert any("processes and threads" in n for n in result.notes), result.notes
    assert result.points == 3


@pytest.mark.notebooks
def test_disk_use_is_limited_per_submission(resources_run):
    result = resources_run["results"]["big_files"]
    assert any("MB in its working folder" in n for n in result.notes), result.notes
    assert any("size limit of 256 MB" in n for n in result.notes), result.notes
    assert result.points == 3
    out = Path(resources_run["out"])
    rows = [r for r in csv.DictReader(open(out / "gradebook.csv", encoding="utf-8"))
            if r["student"] == "big_files" and r["exercise"] == "TOTAL"]
    assert "MB in its working folder" in rows[0]["message"]
    assert "MB in its working folder" in (out / "feedback" / "big_files.md").read_text(encoding="utf-8")


@pytest.mark.notebooks
def test_a_cell_that_ignores_signals_is_killed_promptly(resources_run):
    result = resources_run["results"]["stubborn"]
    assert any("ran past its time limit" in n for n in result.notes), result.notes
    assert result.timings["wall_s"] < 90 + 40, result.timings  # was the time limit + about 135 s
