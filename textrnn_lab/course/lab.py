"""JupyterLab the way ``make lab`` starts it: a fixed address, a quiet first screen, a stable kernel name.

``make lab`` runs ``python -m textrnn_lab.course.lab``, which

* writes the environment's lab settings overrides (:func:`write_overrides`):
  no "get notified about official Jupyter news?" pop-up over the first
  notebook, no update check, every cell of a notebook in the page;
* writes the lab's own Jupyter configuration (:func:`write_config`): nbgrader's
  extensions, which only warn at start without a course folder, stay off;
* installs the kernel under the display name the notebooks already carry
  (:data:`KERNEL_DISPLAY_NAME`), so saving a notebook leaves its metadata as it was;
* starts JupyterLab on ``chapters/`` at ``http://127.0.0.1:8888/lab?token=textrnn-lab``
  (:data:`PORT`, :data:`TOKEN`; ``TEXTRNN_LAB_PORT`` and ``TEXTRNN_LAB_TOKEN``
  change them). The server listens on this machine only (127.0.0.1), so the
  fixed token opens nothing to the network; set another one on a shared machine.

The browser test (``tests/course/test_browser.py``) starts JupyterLab with
:func:`lab_command`, exactly as this module does.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from ..runtime import paths
from ..runtime.files import atomic_write

PORT = 8888
TOKEN = "textrnn-lab"
HOST = "127.0.0.1"
#: the kernelspec display name every notebook of the course carries in its metadata
KERNEL_NAME = "python3"
KERNEL_DISPLAY_NAME = "Python 3"

#: lab settings that take precedence over the defaults (``<prefix>/share/jupyter/lab/settings/overrides.json``)
OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    # every cell stays in the page (JupyterLab 4 drops cells scrolled out of view by default): the browser's
    # find-in-page sees the whole chapter, and so does the browser test
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
}


#: the student's lab loads neither nbgrader's server extensions nor its lab extension: without an nbgrader
#: course folder they only print warnings and an error in the terminal at start (instructors keep them in a plain
#: ``jupyter lab`` of the same environment)
NBGRADER_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.assignment_list", "nbgrader.server_extensions.course_list",
    "nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.validate_assignment",
)
NBGRADER_LAB_EXTENSIONS = ("@jupyter/nbgrader",)


def config_dir(prefix: str | os.PathLike | None = None) -> Path:
    """The Jupyter configuration folder of the student's lab (first on ``JUPYTER_CONFIG_PATH`` for it only)."""
    return Path(prefix or sys.prefix) / "etc" / "textrnn-lab" / "jupyter"


def write_config(prefix: str | os.PathLike | None = None) -> Path:
    """Write the student's lab configuration (:func:`config_dir`): nbgrader's extensions off, no websocket warning."""
    folder = config_dir(prefix)
    server = {"ServerApp": {
        "jpserver_extensions": {name: False for name in NBGRADER_SERVER_EXTENSIONS},
        # no websocket pings on a lab that only this machine reaches: with tornado 6.5, jupyter_server's ping
        # settings (in ms) read as seconds make tornado warn at every start that the timeout exceeds the interval
        "tornado_settings": {"ws_ping_interval": 0},
    }}
    page = {"disabledExtensions": {name: True for name in NBGRADER_LAB_EXTENSIONS}}
    (folder / "labconfig").mkdir(parents=True, exist_ok=True)
    atomic_write(folder / "jupyter_server_config.json", (json.dumps(server, indent=2) + "\n").encode("utf-8"))
    atomic_write(folder / "labconfig" / "page_config.json", (json.dumps(page, indent=2) + "\n").encode("utf-8"))
    return folder


def lab_env(base: dict | None = None, prefix: str | os.PathLike | None = None) -> dict:
    """The environment JupyterLab (and so its kernels) runs in: the lab's configuration first, inline figures."""
    env = dict(os.environ if base is None else base)
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
        p for p in (str(config_dir(prefix)), env.get("JUPYTER_CONFIG_PATH", "")) if p)
    env.pop("MPLBACKEND", None)  # a headless backend set for scripts would hide every figure
    return env


def overrides_path(prefix: str | os.PathLike | None = None) -> Path:
    """Where JupyterLab reads its settings overrides for the environment at ``prefix`` (default: this one)."""
    return Path(prefix or sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"


def write_overrides(prefix: str | os.PathLike | None = None) -> Path:
    """Merge :data:`OVERRIDES` into the environment's overrides file (other settings there are kept)."""
    path = overrides_path(prefix)
    current: dict = {}
    if path.is_file():
        try:
            current = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            current = {}
        if not isinstance(current, dict):
            current = {}
    for plugin, settings in OVERRIDES.items():
        merged = dict(current.get(plugin) or {})
        merged.update(settings)
        current[plugin] = merged
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, (json.dumps(current, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return path


def kernel_spec_path(prefix: str | os.PathLike | None = None) -> Path:
    return Path(prefix or sys.prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME / "kernel.json"


def ensure_kernel(prefix: str | os.PathLike | None = None) -> Path:
    """Install this environment's kernel as :data:`KERNEL_NAME` / :data:`KERNEL_DISPLAY_NAME` unless it already is."""
    path = kernel_spec_path(prefix)
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        spec = {}
    if spec.get("display_name") != KERNEL_DISPLAY_NAME or not spec.get("argv"):
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--prefix", str(prefix or sys.prefix),
                        "--name", KERNEL_NAME, "--display-name", KERNEL_DISPLAY_NAME],
                       check=True, stdout=subprocess.DEVNULL)
    return path


def trust(notebook_dir: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None) -> int:
    """Sign the chapters as trusted (Jupyter's notary), so opening one logs no "not trusted" warning.

    The student notebooks are written by ``textrnn-lab release`` from this repository, outputs cleared;
    trusting them lets a student's own saved outputs (HTML verdicts, tables) show when reopened.
    Returns how many notebooks were signed.
    """
    import nbformat
    from nbformat.sign import NotebookNotary

    if data_dir:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
    notary = NotebookNotary(data_dir=str(data_dir)) if data_dir else NotebookNotary()
    signed = 0
    for path in sorted(Path(notebook_dir or paths.chapters_dir()).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if not notary.check_signature(nb):
            notary.sign(nb)
        signed += 1
    return signed


def lab_command(notebook_dir: str | os.PathLike | None = None, port: int | None = None, token: str | None = None,
                open_browser: bool = True, extra: Sequence[str] = ()) -> list[str]:
    """The command line that starts JupyterLab on ``notebook_dir`` (default ``chapters/``)."""
    port = int(port if port is not None else os.environ.get("TEXTRNN_LAB_PORT", PORT))
    token = token if token is not None else os.environ.get("TEXTRNN_LAB_TOKEN", TOKEN)
    command = [
        sys.executable, "-m", "jupyterlab",
        f"--ServerApp.root_dir={Path(notebook_dir or paths.chapters_dir()).resolve()}",
        f"--ServerApp.ip={HOST}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",  # a fixed address: fail rather than move to another port
        f"--IdentityProvider.token={token}",
        f"--ServerApp.open_browser={open_browser}",
        "--ServerApp.log_level=WARN",  # the address is printed once by main(); the rest is noise to a student
        "--LabApp.log_level=WARN",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and CI run as root; JupyterLab refuses it otherwise
    return command + list(extra)


def lab_url(port: int | None = None, token: str | None = None, path: str = "lab") -> str:
    port = int(port if port is not None else os.environ.get("TEXTRNN_LAB_PORT", PORT))
    token = token if token is not None else os.environ.get("TEXTRNN_LAB_TOKEN", TOKEN)
    return f"http://{HOST}:{port}/{path.lstrip('/')}?token={token}"


def prepare(prefix: str | os.PathLike | None = None) -> None:
    """Settings overrides and the kernel, as :func:`main` leaves them (``make setup`` calls this)."""
    write_overrides(prefix)
    write_config(prefix)
    ensure_kernel(prefix)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--prepare"]:
        prepare()
        return 0
    prepare()
    trust()
    print(f"JupyterLab on {paths.chapters_dir()}: {lab_url()}", flush=True)
    command = lab_command(extra=args)
    if os.name == "posix":
        # JupyterLab takes this process's place, so Ctrl-C reaches it alone (no traceback from a parent)
        os.execve(command[0], command, lab_env())
    return subprocess.call(command, env=lab_env())  # pragma: no cover - Windows


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
