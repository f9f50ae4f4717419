"""Helpers for writing checks: short descriptions of values and comparisons that
raise :class:`~textrnn_lab.checks.CheckFailed` with a brief, specific message."""
from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from . import CheckFailed


def brief(value, limit: int = 60) -> str:
    """A short description of ``value`` for a failure message."""
    if isinstance(value, torch.Tensor):
        flat = value.detach().cpu().reshape(-1)
        shown = ", ".join(_number(v) for v in flat[:8].tolist())
        more = ", ..." if flat.numel() > 8 else ""
        return f"tensor of shape {tuple(value.shape)} [{shown}{more}]"
    if isinstance(value, float):
        return _number(value)
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _number(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def expect_callable(obj, what: str) -> None:
    """Fail unless ``obj`` can be called (e.g. the student passed ``None``)."""
    if not callable(obj):
        raise CheckFailed(f"expected the function {what}, got {type(obj).__name__} {brief(obj)}.")


def expect_tensor(got, expected: torch.Tensor, *, context: str, rtol: float = 0.0, atol: float = 0.0) -> None:
    """Fail unless ``got`` is a tensor with ``expected``'s shape, dtype and values (within tolerances)."""
    if not isinstance(got, torch.Tensor):
        raise CheckFailed(f"{context}: expected a torch.Tensor, got {type(got).__name__}.")
    if type(got) is not torch.Tensor and not isinstance(got, torch.nn.Parameter):
        # a subclass may override __torch_function__ (and so ==, isclose, shape): compare a plain view
        with torch._C.DisableTorchFunctionSubclass():
            got = got.as_subclass(torch.Tensor)
    if tuple(got.shape) != tuple(expected.shape):
        raise CheckFailed(f"{context}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}.")
    if got.dtype != expected.dtype:
        raise CheckFailed(f"{context}: expected dtype {expected.dtype}, got {got.dtype}.")
    got_cpu = got.detach().cpu()
    if expected.is_floating_point() or expected.is_complex():
        close = torch.isclose(got_cpu, expected, rtol=rtol, atol=atol, equal_nan=True)
    else:
        close = got_cpu == expected
    if not bool(close.all()):
        bad = torch.nonzero(~close)[0].tolist()
        index = tuple(int(i) for i in bad)
        raise CheckFailed(
            f"{context}: at index {index if len(index) != 1 else index[0]} expected "
            f"{_number(expected[index].item())}, got {_number(got_cpu[index].item())}."
        )


def as_float(value, *, context: str) -> float:
    """``value`` as a Python float (numbers, numpy scalars, one-element tensors); fail otherwise."""
    if isinstance(value, bool):
        raise CheckFailed(f"{context}: expected a float, got bool {value}.")
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise CheckFailed(f"{context}: expected a float, got a tensor of shape {tuple(value.shape)}.")
        return float(value.item())
    if isinstance(value, (numbers.Real, np.floating, np.integer)):
        return float(value)
    raise CheckFailed(f"{context}: expected a float, got {type(value).__name__} {brief(value)}.")


def expect_close(got: float, expected: float, *, context: str, rel: float = 1e-6, abs_tol: float = 0.0) -> None:
    """Fail unless two floats agree within ``rel`` (relative) or ``abs_tol``."""
    if math.isnan(expected) and math.isnan(got):
        return
    if not math.isclose(got, expected, rel_tol=rel, abs_tol=abs_tol):
        raise CheckFailed(f"{context}: expected {_number(expected)}, got {_number(got)}.")
