"""Helpers for writing checks: short descriptions of values and comparisons that
raise :class:`~textrnn_lab.checks.CheckFailed` with a brief, specific message.

A message describes what the student's code returned by its type, shape and
numbers only: never a string it returned, the ``repr`` of one of its objects or
the name of a class it made up (any of which could carry the text of a file the
student's code read while it was graded).
"""
from __future__ import annotations

import builtins
import numbers
import sys
from math import isclose as _isclose
from math import isnan as _isnan

import numpy as np
import torch

from . import CheckFailed

_as_subclass = torch._C.TensorBase.as_subclass  # the C method: a subclass cannot override it
_isclose_t = torch.isclose
_nonzero = torch.nonzero


def plain(value):
    """``value`` itself when it is not a tensor; a tensor as a plain, detached ``torch.Tensor``.

    A tensor subclass (``nn.Parameter`` and its subclasses included) may override
    ``__torch_function__``, ``tolist`` or ``detach`` and so answer anything to ``==``,
    ``isclose`` or ``shape``; its plain view shares its storage and answers with the
    values it really holds. Comparisons must only ever look at plain views.
    """
    if not isinstance(value, torch.Tensor):
        return value
    if type(value) is not torch.Tensor:
        with torch._C.DisableTorchFunctionSubclass():
            value = _as_subclass(value, torch.Tensor)
    with torch._C.DisableTorchFunctionSubclass():
        return torch._C.TensorBase.detach(value)


def repeated_calls(func, args: tuple, times: int) -> list:
    """``[func(*args) for _ in range(times)]``, each call with its own copy of the tensors among ``args``
    (a random generator among them is shared, so the calls draw one after the other). A grader that runs
    the student's function in another process makes the calls in one exchange (``call_repeatedly``)."""
    repeat = getattr(type(func), "call_repeatedly", None)
    if repeat is not None:
        return list(repeat(func, args, times))
    return [func(*[a.clone() if isinstance(a, torch.Tensor) else a for a in args]) for _ in range(times)]


def type_name(value) -> str:
    """The name of ``value``'s type when it is a type of Python, torch or numpy; else a neutral phrase."""
    kind = type(value)
    module = getattr(kind, "__module__", "")
    name = getattr(kind, "__qualname__", "")
    if module == "builtins" and getattr(builtins, name, None) is kind:
        return name
    if kind is type(None):
        return "NoneType"
    root = module.split(".")[0] if isinstance(module, str) else ""
    if root in ("torch", "numpy") and isinstance(name, str) and "." not in name:
        home = sys.modules.get(module)
        if home is not None and getattr(home, name, None) is kind:
            return name
    return "an object of a class defined in your code"


def brief(value, limit: int = 60) -> str:
    """A short description of ``value`` for a failure message: numbers and shapes, never text from the value."""
    if isinstance(value, torch.Tensor):
        value = plain(value)
        flat = value.cpu().reshape(-1)
        shown = ", ".join(_number(v) for v in flat[:8].tolist())
        more = ", ..." if flat.numel() > 8 else ""
        return f"tensor of shape {tuple(value.shape)} [{shown}{more}]"
    if value is None:
        return "None"
    if type(value) in (bool, np.bool_):
        return repr(bool(value))
    numpy_number = isinstance(value, (np.integer, np.floating)) and type(value).__module__ == "numpy"
    if type(value) in (int, float) or numpy_number:
        return _number(float(value)) if isinstance(value, (float, np.floating)) else str(int(value))
    if type(value) in (list, tuple):
        if all(type(v) in (int, float, bool) for v in value[:8]):
            text = repr(type(value)(value[:8]))
            return text if len(text) <= limit else text[: limit - 3] + "..."
        return f"of {len(value)} item(s)"
    if type(value) in (str, bytes, bytearray, dict, set, frozenset):
        return f"of length {len(value)}"
    return ""


def _number(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def expect_callable(obj, what: str) -> None:
    """Fail unless ``obj`` can be called (e.g. the student passed ``None``)."""
    if not callable(obj):
        raise CheckFailed(f"expected the function {what}, got {type_name(obj)} {brief(obj)}".rstrip() + ".",
                          kind="type")


def expect_tensor(got, expected: torch.Tensor, *, context: str, rtol: float = 0.0, atol: float = 0.0) -> None:
    """Fail unless ``got`` is a tensor with ``expected``'s shape, dtype and values (within tolerances)."""
    if not isinstance(got, torch.Tensor):
        raise CheckFailed(f"{context}: expected a torch.Tensor, got {type_name(got)}.", kind="type")
    got = plain(got)  # any subclass, nn.Parameter's included: compare a plain view
    if tuple(got.shape) != tuple(expected.shape):
        raise CheckFailed(f"{context}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}.", kind="shape")
    if got.dtype != expected.dtype:
        raise CheckFailed(f"{context}: expected dtype {expected.dtype}, got {got.dtype}.", kind="dtype")
    got_cpu = got.detach().cpu()
    if expected.is_floating_point() or expected.is_complex():
        close = _isclose_t(got_cpu, expected, rtol=rtol, atol=atol, equal_nan=True)
    else:
        close = torch.eq(got_cpu, expected)
    if not bool(close.all()):
        bad = _nonzero(~close)[0].tolist()
        index = tuple(int(i) for i in bad)
        raise CheckFailed(
            f"{context}: at index {index if len(index) != 1 else index[0]} expected "
            f"{_number(expected[index].item())}, got {_number(got_cpu[index].item())}.",
            kind="values",
        )


def as_float(value, *, context: str) -> float:
    """``value`` as a Python float (numbers, numpy scalars, one-element tensors); fail otherwise."""
    if isinstance(value, bool):
        raise CheckFailed(f"{context}: expected a float, got bool {value}.", kind="type")
    if isinstance(value, torch.Tensor):
        value = plain(value)
        if value.numel() != 1:
            raise CheckFailed(f"{context}: expected a float, got a tensor of shape {tuple(value.shape)}.", kind="type")
        return float(value.item())
    if isinstance(value, (numbers.Real, np.floating, np.integer)):
        return float(value)
    raise CheckFailed(f"{context}: expected a float, got {type_name(value)} {brief(value)}".rstrip() + ".", kind="type")


def expect_close(got: float, expected: float, *, context: str, rel: float = 1e-6, abs_tol: float = 0.0) -> None:
    """Fail unless two floats agree within ``rel`` (relative) or ``abs_tol``."""
    if _isnan(expected) and _isnan(got):
        return
    if not _isclose(got, expected, rel_tol=rel, abs_tol=abs_tol):
        raise CheckFailed(f"{context}: expected {_number(expected)}, got {_number(got)}.", kind="values")
