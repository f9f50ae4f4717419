"""Choosing the device a chapter runs on.

``get_device("auto")`` picks CUDA, then Apple's MPS, then the CPU. An explicit
name that this machine cannot provide is a :class:`~textrnn_lab.errors.DeviceError`
that says what is available, never a silent fallback.
"""
from __future__ import annotations

import torch

from ..errors import DeviceError


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> list[str]:
    """Names of the devices usable here, best first, e.g. ``['cuda:0', 'cpu']``."""
    names = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    if _mps_available():
        names.append("mps")
    names.append("cpu")
    return names


def get_device(name: str | torch.device | None = "auto") -> torch.device:
    """Return a :class:`torch.device` for ``name``.

    ``"auto"`` (or ``None``) gives ``cuda`` if present, else ``mps``, else ``cpu``.
    ``"cuda"``, ``"cuda:N"``, ``"mps"`` and ``"cpu"`` are checked against this machine.
    """
    if isinstance(name, torch.device):
        name = str(name)
    if name is None or str(name).strip().lower() in ("", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    text = str(name).strip().lower()
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise DeviceError(
            f"{name!r} is not a device name.",
            hint=f"use 'auto' or one of: {', '.join(available_devices())}",
        ) from None
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = device.index or 0
        if count == 0 or index >= count:
            raise DeviceError(
                f"device {name!r} was asked for, but this machine has "
                + ("no CUDA GPU." if count == 0 else f"only {count} CUDA GPU(s)."),
                hint=f"use DEVICE='auto' (picks the best available) or one of: {', '.join(available_devices())}",
            )
        return device
    if device.type == "mps":
        if not _mps_available():
            raise DeviceError(
                "device 'mps' was asked for, but Apple's Metal backend is not available here.",
                hint=f"use DEVICE='auto' or one of: {', '.join(available_devices())}",
            )
        return device
    raise DeviceError(
        f"device type {device.type!r} is not supported by the course.",
        hint=f"use 'auto' or one of: {', '.join(available_devices())}",
    )


def describe_device(device: torch.device) -> str:
    """A one-line human description, e.g. ``'cuda:0 (NVIDIA H100, 80 GB)'`` or ``'cpu (2 threads)'``."""
    device = torch.device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        return f"cuda:{index} ({props.name}, {props.total_memory / 2**30:.0f} GiB)"
    if device.type == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({torch.get_num_threads()} threads)"
