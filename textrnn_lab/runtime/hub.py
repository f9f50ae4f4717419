"""Can a model or dataset hub be reached from here? One quick, bounded answer.

Everything in the course that might fetch from the Hugging Face hub asks
:func:`hub_reachable` first, so that on an offline machine a hub name fails at
once with a clear :class:`~textrnn_lab.errors.HubUnavailable` instead of
hanging in retries.

The answer is ``False`` without touching the network when any of these
environment variables is set to a true value (``1``, ``true``, ``yes``, ``on``):
``HF_HUB_OFFLINE``, ``HF_DATASETS_OFFLINE``, ``TRANSFORMERS_OFFLINE`` and the
course's own ``TEXTRNN_LAB_ASSUME_OFFLINE``. Otherwise one TCP connection to the
hub's host (``HF_ENDPOINT`` if set, else ``https://huggingface.co``) is tried,
name lookup included, and abandoned after ``timeout`` seconds. The network
answer is remembered for a minute, so a notebook that asks twice waits once.
"""
from __future__ import annotations

import os
import socket
import threading
import time
from urllib.parse import urlsplit

OFFLINE_ENV_VARS = (
    "TEXTRNN_LAB_ASSUME_OFFLINE",
    "HF_HUB_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "TRANSFORMERS_OFFLINE",
)
DEFAULT_ENDPOINT = "https://huggingface.co"
CACHE_SECONDS = 60.0

_TRUE = {"1", "true", "yes", "on"}
_cache: dict[tuple[str, int], tuple[float, bool, str]] = {}
_lock = threading.Lock()


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def offline_by_environment() -> str | None:
    """The name of the first offline environment variable that is set, or ``None``."""
    for name in OFFLINE_ENV_VARS:
        if _env_true(name):
            return name
    return None


def hub_endpoint() -> tuple[str, int]:
    """``(host, port)`` of the hub that would be used (``HF_ENDPOINT`` or huggingface.co:443)."""
    url = os.environ.get("HF_ENDPOINT", "").strip() or DEFAULT_ENDPOINT
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    host = parts.hostname or "huggingface.co"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 80 if parts.scheme == "http" else 443
    return host, port


def _probe(host: str, port: int, timeout: float) -> tuple[bool, str]:
    """Try one TCP connection in a daemon thread; never wait more than ``timeout``.

    ``socket.create_connection`` bounds the connect but not the name lookup, so
    the whole attempt runs in a thread that is simply abandoned when late.
    """
    result: list[tuple[bool, str]] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append((True, f"{host}:{port} answered"))
        except Exception as exc:  # noqa: BLE001 - a probe thread must never die noisily
            result.append((False, f"{host}:{port} could not be reached ({exc.__class__.__name__}: {exc})"))

    worker = threading.Thread(target=attempt, name="textrnn-lab-hub-probe", daemon=True)
    worker.start()
    worker.join(timeout)
    if result:
        return result[0]
    return False, f"{host}:{port} did not answer within {timeout:g} s"


def hub_status(timeout: float = 2.0, *, refresh: bool = False) -> tuple[bool, str]:
    """``(reachable, reason)``: like :func:`hub_reachable`, with a sentence saying why."""
    env = offline_by_environment()
    if env:
        return False, f"{env}={os.environ.get(env)} is set (offline mode)"
    host, port = hub_endpoint()
    key = (host, port)
    now = time.monotonic()
    with _lock:
        cached = _cache.get(key)
    if cached and not refresh and now - cached[0] < CACHE_SECONDS:
        return cached[1], cached[2]
    ok, reason = _probe(host, port, float(timeout))
    with _lock:
        _cache[key] = (time.monotonic(), ok, reason)
    return ok, reason


def hub_reachable(timeout: float = 2.0, *, refresh: bool = False) -> bool:
    """True when the Hugging Face hub may be reachable; answers within ``timeout`` seconds.

    ``refresh=True`` ignores the remembered answer of an earlier probe.
    """
    return hub_status(timeout, refresh=refresh)[0]


def reset_probe_cache() -> None:
    """Forget remembered probe answers (tests, or after the network came back)."""
    with _lock:
        _cache.clear()
