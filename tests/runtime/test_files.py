"""The one atomic writer: whole files or none, nothing left behind."""
from __future__ import annotations

import os

import pytest

from textrnn_lab.runtime.files import atomic_write, atomic_write_with


def test_atomic_write_writes_bytes_and_text(tmp_path):
    target = tmp_path / "deep" / "file.txt"
    assert atomic_write(target, "héllo\n") == target
    assert target.read_bytes() == "héllo\n".encode("utf-8")
    atomic_write(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.txt"]


def test_a_failed_write_keeps_the_previous_file_and_no_temporary(tmp_path):
    target = tmp_path / "book.csv"
    atomic_write(target, "old")

    def half_then_fail(tmp):
        tmp.write_text("half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write_with(target, half_then_fail)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.csv"]


def test_the_data_reach_the_disk_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    atomic_write(tmp_path / "x", "data")
    assert events == ["fsync", "replace"]
