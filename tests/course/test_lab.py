"""JupyterLab as make lab starts it: a fixed address, no pop-up, quiet start, the notebooks' kernel name."""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from textrnn_lab.course import lab

ROOT = Path(__file__).resolve().parents[2]


def test_the_command_has_a_fixed_local_address_and_token(monkeypatch, tmp_path):
    monkeypatch.delenv("TEXTRNN_LAB_PORT", raising=False)
    monkeypatch.delenv("TEXTRNN_LAB_TOKEN", raising=False)
    command = lab.lab_command(tmp_path)
    assert f"--ServerApp.port={lab.PORT}" in command and "--ServerApp.port_retries=0" in command
    assert f"--IdentityProvider.token={lab.TOKEN}" in command and "--ServerApp.ip=127.0.0.1" in command
    assert f"--ServerApp.root_dir={tmp_path.resolve()}" in command
    assert lab.lab_url() == "http://127.0.0.1:8888/lab?token=textrnn-lab"
    monkeypatch.setenv("TEXTRNN_LAB_PORT", "9001")
    assert "--ServerApp.port=9001" in lab.lab_command(tmp_path)


def test_settings_switch_the_news_pop_up_off_and_keep_other_settings(tmp_path):
    path = lab.overrides_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"},
                                "@jupyterlab/apputils-extension:notification": {"doNotDisturbMode": True}}))
    lab.write_overrides(tmp_path)
    settings = json.loads(path.read_text())
    notification = settings["@jupyterlab/apputils-extension:notification"]
    assert notification == {"doNotDisturbMode": True, "fetchNews": "false", "checkForUpdates": False}
    assert settings["@jupyterlab/apputils-extension:themes"] == {"theme": "JupyterLab Dark"}
    assert settings["@jupyterlab/notebook-extension:tracker"]["windowingMode"] == "none"


def test_the_lab_configuration_turns_nbgrader_noise_off(tmp_path):
    folder = lab.write_config(tmp_path)
    server = json.loads((folder / "jupyter_server_config.json").read_text())["ServerApp"]
    assert set(server["jpserver_extensions"]) == set(lab.NBGRADER_SERVER_EXTENSIONS)
    assert not any(server["jpserver_extensions"].values())
    env = lab.lab_env({"MPLBACKEND": "Agg", "JUPYTER_CONFIG_PATH": "/elsewhere"}, prefix=tmp_path)
    assert env["JUPYTER_CONFIG_PATH"].split(":")[0] == str(folder) and "MPLBACKEND" not in env


@pytest.mark.parametrize("folder", ["solutions", "chapters"])
def test_every_notebook_carries_the_kernel_name_the_setup_installs(folder):
    # saving in JupyterLab rewrites the kernelspec with the installed kernel's display name
    for path in sorted((ROOT / folder).glob("[0-9][0-9]_*.ipynb")):
        spec = nbformat.read(path, as_version=4).metadata.get("kernelspec", {})
        assert spec.get("name") == lab.KERNEL_NAME, path.name
        assert spec.get("display_name") == lab.KERNEL_DISPLAY_NAME, path.name
    makefile = (ROOT / "Makefile").read_text()
    assert f'--name {lab.KERNEL_NAME} --display-name "{lab.KERNEL_DISPLAY_NAME}"' in makefile


def test_make_lab_runs_this_module():
    makefile = (ROOT / "Makefile").read_text()
    assert "python -m textrnn_lab.course.lab" in makefile.split("\nlab:", 1)[1].split("\n\n", 1)[0]
