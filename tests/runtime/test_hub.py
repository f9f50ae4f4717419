"""The hub reachability probe, and hub dataset names failing fast offline."""
from __future__ import annotations

import socket
import sys
import time
import types

import pytest

from textrnn_lab.data import load_dataset
from textrnn_lab.errors import CourseError, HubUnavailable
from textrnn_lab.runtime import hub

OFFLINE_VARS = ("TEXTRNN_LAB_ASSUME_OFFLINE", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")


@pytest.fixture(autouse=True)
def fresh_probe_cache():
    hub.reset_probe_cache()
    yield
    hub.reset_probe_cache()


@pytest.fixture()
def online_env(monkeypatch):
    """No offline variable set: the answer has to come from the probe."""
    for name in OFFLINE_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _no_network(*args, **kwargs):
    raise AssertionError("the network was touched although an offline variable is set")


@pytest.mark.parametrize("var", OFFLINE_VARS)
def test_offline_variables_answer_without_network(online_env, var):
    online_env.setattr(socket, "create_connection", _no_network)
    online_env.setenv(var, "1")
    ok, reason = hub.hub_status()
    assert ok is False and var in reason
    assert hub.hub_reachable() is False


def test_false_values_do_not_count(online_env):
    online_env.setenv("HF_HUB_OFFLINE", "0")
    assert hub.offline_by_environment() is None


def test_endpoint(online_env):
    online_env.delenv("HF_ENDPOINT", raising=False)
    assert hub.hub_endpoint() == ("huggingface.co", 443)
    online_env.setenv("HF_ENDPOINT", "http://127.0.0.1:8080/")
    assert hub.hub_endpoint() == ("127.0.0.1", 8080)
    online_env.setenv("HF_ENDPOINT", "mirror.example.org")
    assert hub.hub_endpoint() == ("mirror.example.org", 443)


def test_probe_refused_is_false_and_fast(online_env):
    online_env.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    start = time.monotonic()
    assert hub.hub_reachable(timeout=2.0) is False
    assert time.monotonic() - start < 2.5


def test_probe_never_hangs(online_env):
    def stuck(*args, **kwargs):  # e.g. a name lookup that never returns
        time.sleep(10)
        raise OSError("lookup gave up")

    online_env.setattr(socket, "create_connection", stuck)
    start = time.monotonic()
    ok, reason = hub.hub_status(timeout=0.3)
    assert ok is False and "did not answer" in reason
    assert time.monotonic() - start < 1.5


def test_probe_success_and_cache(online_env):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    try:
        online_env.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert hub.hub_reachable() is True
        calls = []
        online_env.setattr(hub, "_probe", lambda *a: calls.append(a) or (False, "x"))
        assert hub.hub_reachable() is True  # remembered
        assert calls == []
        assert hub.hub_reachable(refresh=True) is False
        assert len(calls) == 1
    finally:
        server.close()


@pytest.mark.parametrize(
    "name, alternative",
    [("ag_news", '"vader"'), ("fancyzhx/ag_news", '"vader"'), ("pushkin", '"austen"'),
     ("someone/some_corpus", '"austen"')],
)
def test_hub_datasets_offline_by_env(monkeypatch, name, alternative):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(HubUnavailable) as info:
        load_dataset(name)
    assert time.monotonic() - start < 5
    assert alternative in str(info.value)
    assert isinstance(info.value, CourseError)


@pytest.mark.parametrize("name, alternative", [("ag_news", "vader"), ("pushkin", "austen")])
def test_hub_datasets_offline_by_probe(online_env, name, alternative):
    online_env.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    start = time.monotonic()
    with pytest.raises(HubUnavailable) as info:
        load_dataset(name)
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert alternative in message and "cannot be reached" in message


def test_hub_dataset_online_path_calls_datasets(monkeypatch):
    """When the hub answers, the repository id goes to datasets.load_dataset."""
    from textrnn_lab.data import hubdata

    calls = []
    fake = types.ModuleType("datasets")
    fake.load_dataset = lambda repo, **kw: calls.append((repo, kw)) or "DATASET"
    monkeypatch.setitem(sys.modules, "datasets", fake)
    monkeypatch.setattr(hubdata, "hub_status", lambda: (True, "test"))
    assert load_dataset("ag_news", split="train") == "DATASET"
    assert load_dataset("owner/thing") == "DATASET"
    assert calls == [("fancyzhx/ag_news", {"split": "train"}), ("owner/thing", {})]

    def broken(repo, **kw):
        raise FileNotFoundError("no such dataset")

    fake.load_dataset = broken
    with pytest.raises(CourseError, match="no such dataset") as info:
        load_dataset("pushkin")
    assert '"austen"' in str(info.value)
