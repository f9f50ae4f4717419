"""The `textrnn-lab` command line: one clear line for every mistake, never a traceback."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from textrnn_lab.course.cli import main


def run_cli(*args, env=None, timeout=300):
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "textrnn_lab.course.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def test_help_lists_the_commands():
    proc = run_cli("--help")
    assert proc.returncode == 0
    for command in ("doctor", "list", "run", "release", "train-charlm", "generate", "grade", "finetune", "classify",
                    "challenge"):
        assert command in proc.stdout  # every chapter's command is registered, not only defined


@pytest.mark.parametrize("args", [["bogus"], ["run", "--device"], ["run", "--seed", "x"], ["release", "--nope"]])
def test_wrong_arguments_print_usage_not_a_traceback(args):
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert "usage:" in proc.stderr and "Traceback" not in proc.stderr


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_doctor_is_ready_offline():
    proc = run_cli("doctor", env={"HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("doctor: READY")
    for word in ("torch", "austen", "vader", "mnist", "MiniLM"):
        assert word.lower() in proc.stdout.lower()


def test_doctor_fails_with_a_missing_data_file(tmp_path):
    proc = run_cli("doctor", env={"HF_HUB_OFFLINE": "1", "TEXTRNN_LAB_DATA": str(tmp_path)})
    assert proc.returncode == 1
    assert "NOT READY" in proc.stdout and "make data" in proc.stdout


def test_doctor_with_a_device_that_is_not_there():
    proc = run_cli("doctor", "--device", "cuda:7", env={"HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 1
    assert "cuda:7" in proc.stdout


def test_list_shows_every_chapter():
    proc = run_cli("list")
    assert proc.returncode == 0
    assert "00_setup_and_tour" in proc.stdout


def test_unknown_chapter_is_a_clear_error_listing_the_known_ones():
    proc = run_cli("run", "42", "--smoke")
    assert proc.returncode == 1
    assert proc.stderr.startswith("error:") and "00" in proc.stderr and "Traceback" not in proc.stderr


def test_run_with_a_missing_device_is_a_clear_error():
    proc = run_cli("run", "00", "--smoke", "--device", "cuda:3")
    assert proc.returncode == 1
    assert "cuda:3" in proc.stderr and "auto" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.notebooks
def test_run_writes_notebook_metrics_and_summary(tmp_path):
    proc = run_cli("run", "00", "--smoke", "--device", "cpu", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "00_setup_and_tour.ipynb").is_file()
    summary = json.loads((tmp_path / "summary.json").read_text())
    text = (tmp_path / "summary.md").read_text()
    assert "00_setup_and_tour" in text and "cpu" in text
    assert summary
