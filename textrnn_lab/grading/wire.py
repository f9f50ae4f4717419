"""Plain data between the grader and the process that runs the student's functions.

The grader never unpickles anything that comes from the student's side: a call
(:mod:`.checker`) sends its arguments and gets its answer back as one JSON line
each, in which a tensor is ``{"$tensor": {"dtype", "shape", "data"}}`` with
``data`` the base64 of its little-endian bytes, read back with
``numpy.frombuffer``. Only these kinds exist; anything else the student's code
returns arrives as an :class:`Opaque` placeholder (its type is not named, see
:func:`textrnn_lab.checks.compare.type_name`):

=============================  =================================================
``None``, bool, int, float,    themselves (JSON); a float that is not finite as
str                            ``{"$float": "nan"}``
tuple, list, dict (str keys)   ``{"$tuple": [...]}``, ``{"$list": [...]}``, ``{"$dict": [[k, v], ...]}``
numpy scalar                   ``{"$np": [dtype, value]}``
tensor                         ``{"$tensor": ...}``, a plain ``torch.Tensor`` on the CPU
                               (any subclass is read through a plain view first);
                               arguments also carry ``requires_grad``, ``grad``
                               and ``param`` (an ``nn.Parameter``)
``torch.Generator``            ``{"$generator": state}``
``nn.RNN``/``LSTM``/``GRU``    ``{"$rnn": {"cell", sizes, "params"}}``
an iterator / a generator      ``{"$iter": [...]}`` / ``{"$gen": [...]}`` (arguments only)
a callable of the grader's     ``{"$callable": k}``: the student's side calls back
the same object twice          ``{"$ref": k}`` (arguments, and a result that is an argument)
=============================  =================================================

:class:`Encoder` and :func:`decode` are used on both sides; each side decodes
with its own ``refs`` (the objects it sent or received) and ``callback``.
"""
from __future__ import annotations

import base64
import math
import types

import numpy as np
import torch
from torch import nn

MAX_ELEMENTS = 50_000_000
_DTYPES = {
    "float16": torch.float16, "float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16,
    "int8": torch.int8, "int16": torch.int16, "int32": torch.int32, "int64": torch.int64, "uint8": torch.uint8,
    "bool": torch.bool, "complex64": torch.complex64, "complex128": torch.complex128,
}
_NAMES = {v: k for k, v in _DTYPES.items()}
_NP_SCALARS = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32",
               "float64", "bool"}
_CELLS = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}


class ProtocolFailure(BaseException):
    """The student's side broke the protocol: it died, went silent, or said something malformed.

    A BaseException, so that neither the checks nor the hidden tests take it for the student's error.
    """

    def __init__(self, kind: str, detail: str = "", end: dict | None = None):
        super().__init__(detail or kind)
        self.kind = kind  # "timeout", "lost" (the process is gone) or "forged" (a malformed message)
        self.detail = detail
        self.end = end or {}  # how the student's process ended, when the checker said so


class WireError(ValueError):
    """A message that is not what the protocol allows."""


class Opaque:
    """Stands for a value of the student's that is none of the plain kinds."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<an object of a class defined in your code>"


class Callback:
    """A callable of the grader's passed as an argument (a loss function): called back across the pipe."""

    __slots__ = ("function",)

    def __init__(self, function):
        self.function = function


def plain_tensor(value: torch.Tensor) -> torch.Tensor:
    """A plain, detached CPU tensor holding ``value``'s values, whatever its class claims."""
    with torch._C.DisableTorchFunctionSubclass():
        if type(value) is not torch.Tensor:
            value = torch._C.TensorBase.as_subclass(value, torch.Tensor)
        value = torch._C.TensorBase.detach(value)
        if value.device.type != "cpu":
            value = torch._C.TensorBase.cpu(value)
        return value


def _tensor_data(value: torch.Tensor) -> dict:
    t = plain_tensor(value)
    if t.dtype not in _NAMES:
        raise WireError(f"a tensor of dtype {t.dtype} cannot be sent")
    name = _NAMES[t.dtype]
    raw = t.float() if t.dtype == torch.bfloat16 else t
    array = np.ascontiguousarray(raw.contiguous().numpy())
    array = array.astype(array.dtype.newbyteorder("<"), copy=False)
    return {"dtype": name, "shape": list(t.shape), "data": base64.b64encode(array.tobytes()).decode("ascii")}


def _tensor_from(data) -> torch.Tensor:
    if not isinstance(data, dict):
        raise WireError("a tensor without its header")
    name, shape, payload = data.get("dtype"), data.get("shape"), data.get("data")
    if name not in _DTYPES or not isinstance(shape, list) or not isinstance(payload, str):
        raise WireError("a malformed tensor")
    if len(shape) > 16 or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s for s in shape):
        raise WireError("a tensor with a malformed shape")
    count = math.prod(shape)
    if count > MAX_ELEMENTS:
        raise WireError(f"a tensor of {count} elements is larger than the grader reads")
    dtype = _DTYPES[name]
    np_dtype = np.dtype("float32" if dtype == torch.bfloat16 else name).newbyteorder("<")
    raw = base64.b64decode(payload.encode("ascii"), validate=True)
    if len(raw) != count * np_dtype.itemsize:
        raise WireError("a tensor whose data does not match its shape")
    array = np.frombuffer(raw, dtype=np_dtype).astype(np_dtype.newbyteorder("="), copy=True).reshape(shape)
    tensor = torch.from_numpy(array)
    return tensor.to(torch.bfloat16) if dtype == torch.bfloat16 else tensor


class Encoder:
    """Turns values into plain data. With ``refs`` (a list), each tensor, generator and module is
    recorded once and sent again as ``{"$ref": k}``; ``known`` maps ``id(obj)`` to an index of
    objects the other side already holds (a result that is an argument)."""

    def __init__(self, refs: list | None = None, known: dict | None = None, callbacks: list | None = None,
                 arguments: bool = False):
        self.refs = refs
        self.known = known or {}
        self.callbacks = callbacks
        self.arguments = arguments
        self._seen: dict[int, int] = {}

    def __call__(self, value, depth: int = 0):
        if depth > 20:
            raise WireError("a value nested too deeply")
        if id(value) in self.known and not isinstance(value, (bool, int, float, str, type(None))):
            return {"$ref": self.known[id(value)]}
        if value is None or type(value) in (bool, str):
            return value
        if type(value) is int:
            return value if abs(value) < 2**63 else {"$float": repr(float(value))}
        if type(value) is float:
            return value if math.isfinite(value) else {"$float": repr(value)}
        if isinstance(value, np.generic) and type(value).__module__ == "numpy" and value.dtype.name in _NP_SCALARS:
            item = value.item()
            return {"$np": [value.dtype.name, item if not isinstance(item, float) or math.isfinite(item)
                            else repr(item)]}
        if type(value) in (tuple, list):
            key = "$tuple" if type(value) is tuple else "$list"
            return {key: [self(v, depth + 1) for v in value[:100_000]]}
        if type(value) is dict:
            return {"$dict": [[k, self(v, depth + 1)] for k, v in list(value.items())[:100_000] if type(k) is str]}
        if isinstance(value, torch.Tensor):
            return self._object(value, lambda: self._tensor(value, depth))
        if isinstance(value, torch.Generator):
            return self._object(value, lambda: {"$generator": _tensor_data(value.get_state())})
        if isinstance(value, nn.RNNBase) and type(value) in _CELLS.values():
            return self._object(value, lambda: self._rnn(value, depth))
        if self.arguments:
            if isinstance(value, types.GeneratorType):
                return {"$gen": [self(v, depth + 1) for v in value]}
            if type(value).__name__.endswith("iterator") and type(value).__module__ == "builtins":
                return {"$iter": [self(v, depth + 1) for v in value]}
            if callable(value) and self.callbacks is not None:
                self.callbacks.append(value)
                return {"$callable": len(self.callbacks) - 1}
            raise WireError(f"the grader cannot send a {type(value).__name__}")
        return {"$opaque": True}

    def _object(self, value, make):
        if self.refs is None:
            return make()
        if id(value) in self._seen:
            return {"$ref": self._seen[id(value)]}
        encoded = make()
        self.refs.append(value)
        self._seen[id(value)] = len(self.refs) - 1
        encoded["$id"] = len(self.refs) - 1
        return encoded

    def _tensor(self, value: torch.Tensor, depth: int) -> dict:
        data = _tensor_data(value)
        if self.arguments:
            data["requires_grad"] = bool(torch._C.TensorBase.requires_grad.__get__(value))
            data["param"] = isinstance(value, nn.Parameter)
            grad = torch._C.TensorBase.grad.__get__(value)
            data["grad"] = _tensor_data(grad) if isinstance(grad, torch.Tensor) else None
        return {"$tensor": data}

    def _rnn(self, rnn: nn.RNNBase, depth: int) -> dict:
        params = {}
        for name, p in rnn.named_parameters():
            params[name] = self._state(p)
        return {"$rnn": {"cell": type(rnn).__name__, "input_size": rnn.input_size, "hidden_size": rnn.hidden_size,
                         "num_layers": rnn.num_layers, "bidirectional": rnn.bidirectional,
                         "batch_first": rnn.batch_first, "bias": rnn.bias, "params": params}}

    @staticmethod
    def _state(t: torch.Tensor) -> dict:
        grad = t.grad if isinstance(t.grad, torch.Tensor) else None
        return {"data": _tensor_data(t), "requires_grad": bool(t.requires_grad),
                "grad": _tensor_data(grad) if grad is not None else None}


def state_of(obj) -> dict | None:
    """What a call may have changed in an argument: a tensor's values and gradient, a module's
    parameters, a generator's state."""
    if isinstance(obj, torch.Tensor):
        grad = torch._C.TensorBase.grad.__get__(obj)
        return {"data": _tensor_data(obj), "requires_grad": bool(torch._C.TensorBase.requires_grad.__get__(obj)),
                "grad": _tensor_data(grad) if isinstance(grad, torch.Tensor) else None}
    if isinstance(obj, torch.Generator):
        return {"generator": _tensor_data(obj.get_state())}
    if isinstance(obj, nn.Module):
        params = {}
        for name, p in list(obj.named_parameters())[:10_000]:
            if isinstance(p, torch.Tensor):
                params[name] = state_of(p)
        return {"params": params}
    return None


def decode(data, refs: list | None = None, callback=None, depth: int = 0):
    """Plain data back into values. Tensors, generators and modules are new objects (and are added to
    ``refs`` under their ``$id``); ``{"$ref": k}`` is ``refs[k]``; ``{"$callable": k}`` is
    ``callback(k)``. Raises :class:`WireError` on anything malformed."""
    if depth > 24:
        raise WireError("a value nested too deeply")
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is list:
        raise WireError("a bare list")
    if type(data) is not dict:
        raise WireError("a malformed value")
    if "$ref" in data:
        k = data["$ref"]
        if refs is None or type(k) is not int or not 0 <= k < len(refs):
            raise WireError("a reference to nothing")
        return refs[k]
    if "$float" in data:
        text = data["$float"]
        if text not in ("nan", "inf", "-inf") and not isinstance(text, str):
            raise WireError("a malformed float")
        try:
            return float(text)
        except (TypeError, ValueError) as exc:
            raise WireError("a malformed float") from exc
    if "$np" in data:
        pair = data["$np"]
        if type(pair) is not list or len(pair) != 2 or pair[0] not in _NP_SCALARS:
            raise WireError("a malformed numpy scalar")
        value = pair[1]
        if isinstance(value, str) and value in ("nan", "inf", "-inf"):
            value = float(value)
        if type(value) not in (bool, int, float):
            raise WireError("a malformed numpy scalar")
        return np.dtype(pair[0]).type(value)
    for key, kind in (("$tuple", tuple), ("$list", list)):
        if key in data:
            items = data[key]
            if type(items) is not list:
                raise WireError("a malformed sequence")
            return kind(decode(v, refs, callback, depth + 1) for v in items)
    if "$dict" in data:
        pairs = data["$dict"]
        if type(pairs) is not list or not all(type(p) is list and len(p) == 2 and type(p[0]) is str for p in pairs):
            raise WireError("a malformed dict")
        return {k: decode(v, refs, callback, depth + 1) for k, v in pairs}
    if "$opaque" in data:
        return Opaque()
    if "$tensor" in data:
        info = data["$tensor"]
        tensor = _tensor_from(info)
        if type(info.get("grad")) is dict:
            grad = _tensor_from(info["grad"])
            if grad.shape == tensor.shape and tensor.is_floating_point():
                tensor.grad = grad.to(tensor.dtype)
        if info.get("param") is True:
            tensor = nn.Parameter(tensor, requires_grad=bool(info.get("requires_grad")) and tensor.is_floating_point())
            if type(info.get("grad")) is dict:
                grad = _tensor_from(info["grad"])
                if grad.shape == tensor.shape:
                    tensor.grad = grad.to(tensor.dtype)
        elif info.get("requires_grad") is True and tensor.is_floating_point():
            tensor.requires_grad_(True)
        return _register(tensor, data, refs)
    if "$generator" in data:
        generator = torch.Generator()
        generator.set_state(_tensor_from(data["$generator"]))
        return _register(generator, data, refs)
    if "$rnn" in data:
        info = data["$rnn"]
        if type(info) is not dict or info.get("cell") not in _CELLS:
            raise WireError("a malformed module")
        sizes = {k: info.get(k) for k in ("input_size", "hidden_size", "num_layers")}
        if not all(type(v) is int and 0 < v < 100_000 for v in sizes.values()):
            raise WireError("a malformed module")
        rnn = _CELLS[info["cell"]](**sizes, bidirectional=bool(info.get("bidirectional")),
                                   batch_first=bool(info.get("batch_first")), bias=bool(info.get("bias", True)))
        apply_state(rnn, {"params": info.get("params") or {}})
        return _register(rnn, data, refs)
    if "$iter" in data or "$gen" in data:
        items = data.get("$iter", data.get("$gen"))
        if type(items) is not list:
            raise WireError("a malformed iterator")
        values = [decode(v, refs, callback, depth + 1) for v in items]
        return iter(values) if "$iter" in data else (v for v in values)
    if "$callable" in data:
        if callback is None or type(data["$callable"]) is not int:
            raise WireError("a callable where none may be")
        return callback(data["$callable"])
    raise WireError("a value of an unknown kind")


def _register(value, data: dict, refs):
    if refs is not None and "$id" in data:
        if data["$id"] != len(refs):
            raise WireError("objects out of order")
        refs.append(value)
    return value


def apply_state(obj, state) -> None:
    """Make ``obj`` hold what the other side's copy holds after the call (see :func:`state_of`)."""
    if type(state) is not dict:
        raise WireError("a malformed state")
    if isinstance(obj, torch.Generator):
        if "generator" in state:
            obj.set_state(_tensor_from(state["generator"]))
        return
    if isinstance(obj, torch.Tensor):
        data = _tensor_from(state.get("data"))
        with torch.no_grad():
            if data.shape == obj.shape and data.dtype == obj.dtype:
                obj.copy_(data)
            else:
                obj.data = data
        wants = state.get("requires_grad") is True and obj.is_floating_point()
        if obj.is_leaf and obj.requires_grad != wants:
            obj.requires_grad_(wants)
        grad = state.get("grad")
        if grad is None:
            if obj.is_leaf:
                obj.grad = None
        elif obj.is_floating_point():
            value = _tensor_from(grad)
            if value.shape == obj.shape:
                obj.grad = value.to(obj.dtype)
        return
    if isinstance(obj, nn.Module):
        params = state.get("params")
        if type(params) is not dict:
            raise WireError("a malformed module state")
        own = dict(obj.named_parameters())
        for name, value in params.items():
            if name in own:
                apply_state(own[name], value)
        return
