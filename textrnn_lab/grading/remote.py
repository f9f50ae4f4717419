"""The student's functions run in one process, the verdict is reached in another.

:func:`serve` is the student's side: a process forked for one exercise (inside
the sandbox, see :mod:`.checker`) that unpickles the student's objects, with the
course's references and the forbidden built-ins replaced by tripwires, and then
answers calls: it is sent a function's name and its arguments as plain data
(:mod:`.wire`), calls the student's function on copies of them, and answers
with the result and what the call did to its arguments (a gradient scaled, a
bias set, a random generator advanced), again as plain data. A callable among
the arguments (a loss function) is called back on the grader's side.

:func:`run_exercise_with` is the grader's side, in a process where no student
code ever runs and nothing from the student's side is unpickled: the test
code (the self-check and the hidden tests) runs there, with each of the
student's functions replaced by a :class:`RemoteFunction` that makes such a
call, so the comparisons with the references and the hidden asserts only ever
see plain tensors and numbers that the grader built itself.
"""
from __future__ import annotations

import builtins
import json
import os
import select
import signal as _signal
import time

from ..runtime.text import first_line
from . import wire
from .wire import ProtocolFailure

LINE_LIMIT = 64 * 1024 * 1024
STATUS_NAMES = {
    _signal.SIGSEGV: "SIGSEGV, a segmentation fault",
    _signal.SIGKILL: "SIGKILL, killed (often: out of memory)",
    _signal.SIGABRT: "SIGABRT, aborted",
    _signal.SIGBUS: "SIGBUS, a bus error",
    _signal.SIGFPE: "SIGFPE, an arithmetic fault",
    _signal.SIGXCPU: "SIGXCPU, the CPU time limit",
    _signal.SIGXFSZ: "SIGXFSZ, the file size limit",
}

# --------------------------------------------------------------------------- lines on file descriptors


class LineChannel:
    """JSON lines over two file descriptors, with a size cap and deadlines."""

    def __init__(self, read_fd: int, write_fd: int):
        self.read_fd, self.write_fd = read_fd, write_fd
        self._buffer = bytearray()
        self._eof = False

    def send(self, message: dict) -> None:
        data = (json.dumps(message, allow_nan=True, separators=(",", ":")) + "\n").encode("utf-8")
        view = memoryview(data)
        while view:
            written = os.write(self.write_fd, view)
            view = view[written:]

    def fill(self) -> bool:
        """Read what is there into the buffer (after a select); False at the end of the stream."""
        if self._eof:
            return False
        chunk = os.read(self.read_fd, 1 << 20)
        if not chunk:
            self._eof = True
            return False
        self._buffer += chunk
        if len(self._buffer) > LINE_LIMIT and b"\n" not in self._buffer:
            del self._buffer[:]
            self._buffer += b"{}\n"  # an endless line: replaced by a malformed message
        return True

    def buffered(self) -> bool:
        """True when a whole line is already read and waiting."""
        return b"\n" in self._buffer

    def read_exactly(self, size: int, deadline: float | None = None) -> bytes:
        """``size`` raw bytes (the pickled objects that follow a job's header)."""
        while len(self._buffer) < size:
            if self._eof:
                raise ProtocolFailure("lost", "the stream ended early")
            self._read_more(deadline)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def receive(self, deadline: float | None = None):
        """The next message (a dict), ``None`` at the end of the stream; ProtocolFailure("timeout") past
        ``deadline``; ProtocolFailure("forged") for a line that is not a JSON object."""
        while True:
            cut = self._buffer.find(b"\n")
            if cut >= 0:
                line = bytes(self._buffer[:cut])
                del self._buffer[:cut + 1]
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except ValueError:
                    value = None
                if not isinstance(value, dict):
                    raise ProtocolFailure("forged", "a message that is not a JSON object")
                return value
            if self._eof:
                if self._buffer.strip():
                    raise ProtocolFailure("forged", "a message cut short")
                return None
            if len(self._buffer) > LINE_LIMIT:
                raise ProtocolFailure("forged", "a message larger than the grader reads")
            self._read_more(deadline)

    def _read_more(self, deadline: float | None) -> None:
        """Wait until ``deadline`` for data (ProtocolFailure("timeout") past it), then read it into the buffer."""
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([self.read_fd], [], [], wait)
        if not ready:
            raise ProtocolFailure("timeout")
        chunk = os.read(self.read_fd, 1 << 20)
        if chunk:
            self._buffer += chunk
        else:
            self._eof = True


# --------------------------------------------------------------------------- the student's side


def _raised(exc: BaseException) -> dict:
    """What the student's exception says, as plain data (the grader decides what of it to quote)."""
    from textrnn_lab import checks

    try:
        text = first_line(exc)
    except BaseException:  # noqa: BLE001 - a __str__ that raises
        text = ""
    frame = None
    try:
        frame = checks._student_frame(exc)
    except BaseException:  # noqa: BLE001
        frame = None
    try:
        todo = bool(checks._is_todo(exc))
    except BaseException:  # noqa: BLE001
        todo = False
    return {"type": str(type(exc).__name__)[:100], "text": text, "lineno": getattr(frame, "lineno", None),
            "function": str(getattr(frame, "name", "") or "")[:100], "todo": todo}


def serve(job: dict, blobs: dict[str, bytes], channel: LineChannel, forbidden: list[str]) -> None:
    """Load the student's objects, then answer calls until the grader says ``end`` (see the module docstring)."""
    import cloudpickle

    from .verdicts import _STUDENT_DEPTH, install_tripwires

    calls = install_tripwires(forbidden)
    objects: dict = {}
    loaded: dict = {}
    for name in job.get("objects", []):
        _STUDENT_DEPTH[0] += 1
        try:
            value = cloudpickle.loads(blobs[name])
        except BaseException as exc:  # noqa: BLE001 - reported to the grader
            loaded[name] = {"kind": "raised", "raised": _raised(exc)}
            continue
        finally:
            _STUDENT_DEPTH[0] -= 1
        objects[name] = value
        if callable(value):
            loaded[name] = {"kind": "callable"}
        else:
            try:
                loaded[name] = {"kind": "value", "value": wire.Encoder()(value)}
            except BaseException:  # noqa: BLE001
                loaded[name] = {"kind": "value", "value": {"$opaque": True}}
    channel.send({"loaded": loaded, "forbidden": list(calls)})

    while True:
        message = channel.receive()
        if message is None or message.get("end"):
            return
        seq = message.get("seq")
        function = objects.get(message.get("call"))
        refs: list = []

        def callback(index, seq=seq):
            return _callback(channel, seq, index)

        try:
            args = [wire.decode(a, refs, callback) for a in message.get("args", [])]
            kwargs = {k: wire.decode(v, refs, callback) for k, v in message.get("kwargs", [])}
        except BaseException as exc:  # noqa: BLE001
            channel.send({"seq": seq, "raised": {"type": "RuntimeError", "text": f"bad arguments: {exc}"},
                          "forbidden": list(calls), "state": {}})
            continue
        reply: dict = {"seq": seq}
        repeat = message.get("repeat")
        _STUDENT_DEPTH[0] += 1
        try:
            if type(repeat) is int and 0 < repeat <= 1_000_000:
                import torch

                result = [function(*[a.clone() if isinstance(a, torch.Tensor) else a for a in args], **kwargs)
                          for _ in range(repeat)]
            else:
                result = function(*args, **kwargs)
            _STUDENT_DEPTH[0] -= 1
            try:
                reply["ok"] = wire.Encoder(known={id(o): k for k, o in enumerate(refs)})(result)
            except BaseException as exc:  # noqa: BLE001
                reply["raised"] = {"type": "TypeError", "text": f"the grader could not read what it returned ({exc})"}
        except BaseException as exc:  # noqa: BLE001 - the student's code raised
            _STUDENT_DEPTH[0] -= 1
            reply["raised"] = _raised(exc)
        state = {}
        for k, obj in enumerate(refs):
            try:
                value = wire.state_of(obj)
            except BaseException:  # noqa: BLE001
                value = None
            if value is not None:
                state[str(k)] = value
        reply["state"] = state
        reply["forbidden"] = list(calls)
        channel.send(reply)


def _callback(channel: LineChannel, seq, index: int):
    """A grader's callable (a loss on the outputs) called by the student's code: evaluated on the grader's
    side, answered with its value and its gradient, joined here so that autograd sees the same gradient."""
    import torch

    def call(*args, **kwargs):
        channel.send({"seq": seq, "callback": index, "args": [wire.Encoder()(a) for a in args]})
        answer = channel.receive()
        if answer is None or "value" not in answer:
            raise RuntimeError("the grader could not evaluate the loss function on these outputs")
        value = wire.decode(answer["value"])
        grad = wire.decode(answer.get("grad")) if answer.get("grad") is not None else None
        out = args[0] if args else None
        if isinstance(value, torch.Tensor) and isinstance(out, torch.Tensor) and isinstance(grad, torch.Tensor) \
                and grad.shape == out.shape and out.is_floating_point():
            link = (out * grad.to(out.dtype)).sum()
            return value.to(out.dtype) + (link - link.detach())
        return value

    return call


# --------------------------------------------------------------------------- the grader's side


class RemoteFunction:
    """The student's function as the grader's tests see it: each call runs in the student's process."""

    def __init__(self, session: "Session", name: str):
        self._session, self.__name__ = session, name

    def __call__(self, *args, **kwargs):
        return self._session.call(self.__name__, args, kwargs)

    def call_repeatedly(self, args: tuple, times: int) -> list:
        """``times`` calls in one exchange (see :func:`textrnn_lab.checks.compare.repeated_calls`)."""
        results = self._session.call(self.__name__, args, {}, repeat=int(times))
        if type(results) is not list or len(results) != int(times):
            raise ProtocolFailure("forged", "a repeated call with the wrong number of results")
        return results

    def __repr__(self) -> str:
        return f"<your function {self.__name__}>"


class Session:
    """The grader's end of one exercise's calls."""

    def __init__(self, transport, deadline: float):
        self.transport, self.deadline = transport, deadline
        self.forbidden: list[str] = []
        self._seq = 0

    def receive(self) -> dict:
        message = self.transport.receive(self.deadline)
        if message is None:
            raise ProtocolFailure("lost")
        if "died" in message:
            died = message["died"] if isinstance(message["died"], dict) else {}
            raise ProtocolFailure("timeout" if died.get("timeout") else "lost", "", died)
        return message

    def note_forbidden(self, message: dict) -> None:
        names = message.get("forbidden") or []
        if type(names) is not list:
            raise ProtocolFailure("forged", "a malformed list of calls")
        for name in names:
            if type(name) is str and name not in self.forbidden and len(self.forbidden) < 50:
                self.forbidden.append(name[:200])

    def call(self, name: str, args, kwargs, repeat: int | None = None):
        from textrnn_lab.checks import RaisedByStudent

        self._seq += 1
        seq = self._seq
        refs: list = []
        callbacks: list = []
        encode = wire.Encoder(refs=refs, callbacks=callbacks, arguments=True)
        request = {"call": name, "seq": seq, "args": [encode(a) for a in args],
                   "kwargs": [[k, encode(v)] for k, v in kwargs.items()]}
        if repeat is not None:
            request["repeat"] = repeat
        self.transport.send(request)
        while True:
            message = self.receive()
            if message.get("seq") != seq:
                raise ProtocolFailure("forged", "an answer to a call that was not made")
            if "callback" in message:
                self.transport.send(self._answer_callback(callbacks, message))
                continue
            self.note_forbidden(message)
            try:
                state = message.get("state") or {}
                if type(state) is not dict:
                    raise wire.WireError("a malformed state")
                for key, value in state.items():
                    index = int(key)
                    if not 0 <= index < len(refs):
                        raise wire.WireError("the state of an argument that was not sent")
                    wire.apply_state(refs[index], value)
                if "raised" in message:
                    raised = message["raised"]
                    if type(raised) is not dict:
                        raise wire.WireError("a malformed exception")
                    lineno = raised.get("lineno")
                    raise RaisedByStudent(str(raised.get("type", ""))[:100], str(raised.get("text", ""))[:300],
                                          lineno if type(lineno) is int else None,
                                          str(raised.get("function") or "")[:100] or None, raised.get("todo") is True)
                if "ok" not in message:
                    raise wire.WireError("an answer without a result")
                return wire.decode(message["ok"], list(refs))
            except (wire.WireError, ValueError, TypeError, RuntimeError, OverflowError) as exc:
                raise ProtocolFailure("forged", f"a malformed answer ({type(exc).__name__})") from None

    @staticmethod
    def _answer_callback(callbacks: list, message: dict) -> dict:
        import torch

        seq, index = message.get("seq"), message.get("callback")
        if type(index) is not int or not 0 <= index < len(callbacks):
            raise ProtocolFailure("forged", "a call back of nothing")
        try:
            args = [wire.decode(a) for a in message.get("args", [])][:8]
        except (wire.WireError, ValueError, TypeError) as exc:
            raise ProtocolFailure("forged", f"a malformed call back ({type(exc).__name__})") from None
        function = callbacks[index]
        try:
            out = args[0] if args else None
            if isinstance(out, torch.Tensor) and out.is_floating_point():
                leaf = out.detach().clone().requires_grad_(True)
                with torch.enable_grad():
                    value = function(leaf, *args[1:])
                grad = None
                if isinstance(value, torch.Tensor) and value.requires_grad and value.numel() == 1:
                    (grad,) = torch.autograd.grad(value, leaf, allow_unused=True)
                    grad = torch.zeros_like(leaf) if grad is None else grad
                return {"seq": seq, "value": wire.Encoder()(value.detach() if isinstance(value, torch.Tensor)
                                                            else value),
                        "grad": wire.Encoder()(grad) if grad is not None else None}
            value = function(*args)
            return {"seq": seq, "value": wire.Encoder()(value), "grad": None}
        except Exception:  # noqa: BLE001 - the student passed something the loss cannot take
            return {"seq": seq, "error": True}


def bind_objects(session: Session, job: dict, namespace: dict, quotable) -> dict | None:
    """Wait for the student's side to load its objects; bind each in ``namespace``. Returns an error result
    (the grader could not load one) or None."""
    from .verdicts import describe_exception

    message = session.receive()
    loaded = message.get("loaded")
    if type(loaded) is not dict:
        raise ProtocolFailure("forged", "no list of the loaded objects")
    session.note_forbidden(message)
    for name in job.get("objects", []):
        entry = loaded.get(name)
        if type(entry) is not dict:
            raise ProtocolFailure("forged", "an object missing from the list")
        if entry.get("kind") == "callable":
            namespace[name] = RemoteFunction(session, name)
        elif entry.get("kind") == "value":
            try:
                namespace[name] = wire.decode(entry.get("value"))
            except (wire.WireError, ValueError, TypeError) as exc:
                raise ProtocolFailure("forged", f"a malformed object ({type(exc).__name__})") from None
        else:
            from textrnn_lab.checks import RaisedByStudent

            raised = entry.get("raised") if type(entry.get("raised")) is dict else {}
            lineno = raised.get("lineno")
            exc = RaisedByStudent(str(raised.get("type", ""))[:100], str(raised.get("text", ""))[:300],
                                  lineno if type(lineno) is int else None, str(raised.get("function") or "") or None)
            return {"message": f"the grader could not load your `{name}` in its test process: "
                               f"{describe_exception(exc, quotable)}"}
    return None


def run_exercise_with(job: dict, transport, checks_module) -> dict:
    """One exercise's tests on the grader's side, the student's functions called through ``transport``."""
    from .verdicts import GraderChecks, forbidden_verdict, run_tests

    quotable = frozenset(job.get("quotable") or ())
    timeout = float(job.get("timeout", 60))
    deadline = time.monotonic() + timeout
    session = Session(transport, deadline)
    namespace: dict = {"__name__": "__textrnn_grader__", "__builtins__": builtins}
    for statement in job.get("imports", []):
        exec(compile(statement, "<grader: imports>", "exec"), namespace)  # noqa: S102 - the course's own imports
    proxy = GraderChecks(checks_module, int(job.get("seed", 0)), quotable)
    for name, value in list(namespace.items()):
        if value is checks_module:
            namespace[name] = proxy
    hidden = list(job.get("hidden", []))
    base = {"status": "error", "message": "", "hint": None, "cases": 0, "hidden_passed": 0,
            "hidden_total": len(hidden)}
    failed = bind_objects(session, job, namespace, quotable)
    if failed is not None:
        return forbidden_verdict({**base, **failed}, session.forbidden)
    result = run_tests(namespace, proxy, job.get("visible", ""), hidden, base, quotable)
    return forbidden_verdict(result, session.forbidden)


# --------------------------------------------------------------------------- transports


def _kill_group(pid: int) -> None:
    from .sandbox import kill_group

    kill_group(pid)


def _serve_in_child(job: dict, blobs: dict[str, bytes], read_fd: int, write_fd: int, forbidden: list[str],
                    folder: str) -> None:
    """The forked student's side: a session of its own, no descriptor but its two pipes. Never returns."""
    try:
        served = {"objects": list(job.get("objects", []))}
        job.clear()  # this process's copy of what the grader holds: the student's code sees only `served`
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        low, high = sorted((read_fd, write_fd))
        os.closerange(3, low)
        os.closerange(low + 1, high)
        os.closerange(high + 1, 65536)
        os.chdir(folder)
        serve(served, blobs, LineChannel(read_fd, write_fd), forbidden)
    except BaseException:  # noqa: BLE001
        pass
    finally:
        os._exit(0)


class LocalTransport:
    """The student's side in a child forked from this process (the sandboxed checker forks it for each
    exercise; tests use it directly)."""

    def __init__(self, job: dict, blobs: dict[str, bytes], forbidden: list[str]):
        import tempfile

        # the child's working folder, made (and removed by close) here: the child ends with os._exit
        self.folder = tempfile.mkdtemp(prefix="textrnn-test-")
        request_r, request_w = os.pipe()
        reply_r, reply_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            os.close(request_w)
            os.close(reply_r)
            _serve_in_child(job, blobs, request_r, reply_w, forbidden, self.folder)
        os.close(request_r)
        os.close(reply_w)
        self.pid = pid
        self.channel = LineChannel(reply_r, request_w)
        self._status = None

    def send(self, message: dict) -> None:
        try:
            self.channel.send(message)
        except OSError:
            raise ProtocolFailure("lost") from None

    def receive(self, deadline: float | None):
        return self.channel.receive(deadline)

    def end(self, wait: float = 0.0) -> dict:
        """Stop the child (after ``wait`` seconds for it to end by itself) and say how it ended."""
        limit = time.monotonic() + wait
        while self._status is None:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self._status = status
                break
            if time.monotonic() >= limit:
                _kill_group(self.pid)
                _, self._status = os.waitpid(self.pid, 0)
                break
            time.sleep(0.01)
        _kill_group(self.pid)  # anything the child left behind in its session
        status = self._status
        if os.WIFSIGNALED(status):
            return {"signal": os.WTERMSIG(status)}
        return {"exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1}

    def close(self) -> None:
        import shutil

        for fd in (self.channel.read_fd, self.channel.write_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.folder, ignore_errors=True)


def failure_result(failure: ProtocolFailure, end: dict, timeout: float) -> dict:
    """The result of an exercise whose student side broke off: timed out, died, or said something malformed."""
    base = {"hint": None, "cases": 0}
    if failure.kind == "timeout" or end.get("timeout"):
        return {**base, "status": "timeout",
                "message": f"the tests did not finish within {timeout:.0f} s (an infinite loop, or far too slow)"}
    if failure.kind == "forged":
        return {**base, "status": "error", "forged": True,
                "message": "the test process produced a malformed answer: something other than the grader "
                           "wrote to its channel"}
    number = end.get("signal")
    if type(number) is int:
        try:
            name = STATUS_NAMES.get(number) or _signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return {**base, "status": "crashed", "message": f"your code crashed the test process ({name})"}
    code = end.get("exit")
    return {**base, "status": "crashed",
            "message": f"your code ended the test process early (exit status {code if type(code) is int else '?'})"}


def run_local(job: dict, blobs: dict[str, bytes], checks_module) -> dict:
    """One exercise with the student's side forked from this process (see :class:`LocalTransport`)."""
    from .verdicts import forbidden_for

    started = time.monotonic()
    timeout = float(job.get("timeout", 60))
    transport = LocalTransport(job, blobs, forbidden_for(job.get("visible", ""), checks_module))
    try:
        try:
            result = run_exercise_with(job, transport, checks_module)
            end = transport.end()
        except ProtocolFailure as failure:
            end = transport.end(wait=1.0 if failure.kind == "lost" else 0.0)
            result = failure_result(failure, end, timeout)
    finally:
        transport.close()
    result["seconds"] = round(time.monotonic() - started, 3)
    return result


class RemoteTransport:
    """The student's side in the sandboxed checker process (a :class:`~.worker.CheckerClient`), which
    forks it and passes the lines on (:func:`relay`)."""

    def __init__(self, client):
        self.client = client
        self.gone = False

    def send(self, message: dict) -> None:
        try:
            self.client.process.stdin.write((json.dumps(message, separators=(",", ":")) + "\n").encode("utf-8"))
            self.client.process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            self.gone = True
            raise ProtocolFailure("lost") from None

    def receive(self, deadline: float | None):
        wait = 3600.0 if deadline is None else max(0.0, deadline - time.monotonic())
        answer = self.client._next(wait)
        if answer == "timeout":
            raise ProtocolFailure("timeout")
        if answer is None:
            self.gone = True
        return answer

    def end(self) -> dict:
        """Ask the checker to stop this exercise's child; how it ended (``{}`` when the checker is gone)."""
        if self.gone:
            return {}
        try:
            self.send({"end": True})
        except ProtocolFailure:
            return {}
        died: dict = {}
        while True:
            answer = self.client._next(30)
            if answer == "timeout" or answer is None:
                self.gone = True
                return died
            if isinstance(answer, dict) and "ended" in answer:
                ended = answer["ended"]
                return died or (ended if isinstance(ended, dict) else {})
            if isinstance(answer, dict) and isinstance(answer.get("died"), dict):
                died = answer["died"]


def run_remote(client, job: dict, blobs: dict[str, bytes], timeout: float) -> dict:
    """One exercise: the student's side in the sandboxed checker ``client``, the tests here."""
    from textrnn_lab import checks

    from .verdicts import forbidden_for

    started = time.monotonic()
    served = {"exercise": job.get("exercise"), "objects": list(job.get("objects", [])),
              "timeout": float(job.get("timeout", timeout)),
              "forbidden": forbidden_for(job.get("visible", ""), checks),
              "sizes": {name: len(blob) for name, blob in blobs.items()}}
    try:
        client.process.stdin.write((json.dumps(served) + "\n").encode())
        for name in served["sizes"]:
            client.process.stdin.write(blobs[name])
        client.process.stdin.flush()
    except (BrokenPipeError, OSError):
        return {"status": "lost", "message": "the grader's test process is gone"}
    transport = RemoteTransport(client)
    try:
        result = run_exercise_with(job, transport, checks)
        transport.end()
    except ProtocolFailure as failure:
        end = {**transport.end(), **failure.end}
        if transport.gone and not end:
            return {"status": "lost", "message": "the grader's test process was killed while it tested this exercise"}
        result = failure_result(failure, end, float(job.get("timeout", timeout)))
    result["seconds"] = round(time.monotonic() - started, 3)
    return result


def relay(job: dict, blobs: dict[str, bytes], upstream: LineChannel) -> None:
    """In the sandboxed checker: fork the student's side of one exercise and pass lines between it and the
    grader (``upstream``) until the grader says ``end``; then kill it and answer ``ended``. A child that dies
    is announced with ``died`` (its signal or exit status); one past its time limit is killed."""
    transport = LocalTransport(job, blobs, list(job.get("forbidden") or []))
    child = transport.channel
    deadline = time.monotonic() + float(job.get("timeout", 60)) + 5
    child_open = True
    try:
        while True:
            if upstream.buffered():
                message = upstream.receive(time.monotonic() + 30)
                if message is None or message.get("end"):
                    return
                if child_open:
                    try:
                        child.send(message)
                    except OSError:
                        pass
                continue
            if child_open and child.buffered():
                try:
                    upstream.send(child.receive(time.monotonic() + 5))
                except ProtocolFailure:
                    upstream.send({"malformed": True})  # passed on: the grader rejects it
                continue
            sources = [upstream.read_fd] + ([child.read_fd] if child_open else [])
            ready, _, _ = select.select(sources, [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                if child_open:
                    transport.end()
                    child_open = False
                    upstream.send({"died": {"timeout": True}})
                deadline = time.monotonic() + 3600
                continue
            if upstream.read_fd in ready and not upstream.fill():
                return  # the grader is gone
            if child_open and child.read_fd in ready and not child.fill():
                if child.buffered():
                    continue
                child_open = False
                upstream.send({"died": transport.end(wait=1.0)})
    finally:
        if child_open:
            transport.end()
        transport.close()
        upstream.send({"ended": {}})
