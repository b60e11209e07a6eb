"""Runs inside a second sandbox: executes one of the prompt's tests against the answer's names.

Started as ``python -I -S -X utf8 -c <wire.py + this file> REQUEST_FD REPLY_FD RESULT_FD`` with
the job (``{"test": ...}``) on stdin. The answer's code runs in another sandboxed process (its own
user, PID, network, IPC and mount namespaces): every name the answer defined is here a proxy
that sends a request down the pipe and gets plain data back (``wire.py``). So the verdict, one
line written to RESULT_FD (``ok`` or ``fail<TAB>where<TAB>reason<TAB>message``), is decided where
the answer cannot reach: it cannot patch this process's builtins, exit it early, write to its
descriptors, or hand it an object that compares equal to anything.

What the answer sends is hostile data, so this side decides what may be done with it: names that
would shadow builtins or the namespace's own entries are dropped; an answer's object compares,
adds or orders only against another of the answer's objects (never against the test's plain
values, where a rigged ``__eq__`` or ``__sub__`` would pass any check); and exceptions that steer
control flow (``StopIteration`` ends a ``map`` early) never come through as themselves.
"""

import builtins
import json
import os
import resource
import sys
import types

if __name__ != "__main__":  # imported to be read or linted; in the sandbox wire.py precedes this
    from judges.sandbox.wire import WireError, wire_decode, wire_dumps, wire_encode, wire_read

MESSAGE_CHARS = 300
# An answer's exception of these kinds would change the test's control flow, not fail it.
CONTROL_FLOW = frozenset({"StopIteration", "StopAsyncIteration", "GeneratorExit"})


class AnswerGone(BaseException):
    """The answer's process ended (or sent garbage) while the test was talking to it. Not an
    ``Exception``: a test's ``except Exception`` (say, around a call that should raise) must not
    take an answer that crashed for one that raised; and once it happened the test fails anyway
    (``_Link.gone``)."""


class AnswerError(Exception):
    """An exception raised by the answer that is not one of Python's built-in exceptions."""


class SandboxLimit(TypeError):
    """Something the test did that the sandbox cannot do between two processes (a callback, a
    comparison of the answer's object with a plain value...): reported as such, not blamed on
    the answer."""


class _Link:
    """The pipe pair to the answer's process. The last exception it raised into the test is
    remembered so that a test failing on it is blamed on the answer."""

    def __init__(self, request_fd, reply_fd):
        self.requests = request_fd
        self.replies = os.fdopen(reply_fd, "rb")
        self.raised = None  # the last exception the answer raised into the test
        self.raised_kind = ""  # its type's name in the answer's process
        self.gone = None  # the AnswerGone, once the answer's process failed us

    def fail(self, why):
        self.gone = self.gone or AnswerGone(why)
        raise self.gone

    def read(self):
        if self.gone is not None:
            raise self.gone
        try:
            message = wire_read(self.replies)
        except WireError as exc:
            self.fail(f"the answer's process sent a malformed message: {exc}")
        if message is None:
            self.fail("the answer's process ended")
        return message

    def ask(self, op, target, **fields):
        """Send one request; the whole reply (``ok`` already decoded)."""
        data = wire_dumps(dict(fields, op=op, target=target))
        try:
            while data:
                data = data[os.write(self.requests, data) :]
        except OSError:
            self.fail("the answer's process ended")
        message = self.read()
        if "ok" in message:
            message["ok"] = self.decode(message["ok"])
            return message
        raised = message.get("raised")
        if type(raised) is not dict:
            self.fail("the answer's process sent a malformed message")
        name, text = str(raised.get("type", "Exception"))[:100], str(raised.get("message", ""))
        kind = getattr(builtins, name, None)
        builtin = isinstance(kind, type) and issubclass(kind, Exception)
        if builtin and kind.__module__ == "builtins" and name not in CONTROL_FLOW:
            try:
                exc = kind(text)
            except Exception:  # noqa: BLE001 - e.g. UnicodeDecodeError wants five arguments
                exc = AnswerError(text)
        else:  # SystemExit must not stop this process, StopIteration not end a loop quietly
            exc = AnswerError(text)  # the type's name travels as the reason (raised_kind)
        self.raised, self.raised_kind = exc, name
        raise exc

    def decode(self, data):
        try:
            return wire_decode(data, lambda number: Remote(self, number))
        except WireError as exc:
            self.fail(f"the answer's process sent a malformed value: {exc}")

    def encode(self, value):
        def ref(obj):
            if type(obj) is Remote:
                return object.__getattribute__(obj, "_number")
            what = "a callback" if callable(obj) else f"a {type(obj).__name__}"
            raise SandboxLimit(f"{what} cannot be sent to the answer's process")

        try:
            return wire_encode(value, ref)
        except WireError as exc:
            raise SandboxLimit(str(exc)) from None


def _apply_mutations(mutated, args, kwargs):
    """Copy the answer's in-place changes of list, dict and set arguments onto the test's own."""
    for where, value in mutated if type(mutated) is list else ():
        original = args[where] if type(where) is int and 0 <= where < len(args) else None
        if type(where) is str:
            original = kwargs.get(where)
        if type(original) is not type(value):
            continue
        if type(original) is list:
            original[:] = value
        else:
            original.clear()
            original.update(value)


def _operator(name, reflected=False):
    def apply(self, other):
        if type(other) is not Remote:
            return NotImplemented  # never let the answer's object judge a plain value
        left, right = (other, self) if reflected else (self, other)
        return left._ask("operator", name=name, other=_number(right))

    return apply


def _number(remote):
    return object.__getattribute__(remote, "_number")


class Remote:
    """Something the answer defined that is not plain data: a function, a class, an instance,
    an iterator. It can be called, indexed, iterated, measured, asked for attributes and
    combined with another of the answer's objects, each a round trip to the answer's process;
    against the test's own values it is equal only to itself and has no order or arithmetic."""

    __slots__ = ("_link", "_number", "__weakref__")

    def __init__(self, link, number):
        object.__setattr__(self, "_link", link)
        object.__setattr__(self, "_number", number)

    def _reply(self, op, **fields):
        link = object.__getattribute__(self, "_link")
        return link.ask(op, _number(self), **fields)

    def _ask(self, op, **fields):
        return self._reply(op, **fields)["ok"]

    def _encode(self, value):
        return object.__getattribute__(self, "_link").encode(value)

    def __call__(self, *args, **kwargs):
        encoded_kwargs = [[key, self._encode(value)] for key, value in kwargs.items()]
        reply = self._reply("call", args=self._encode(list(args)), kwargs=encoded_kwargs)
        if "mutated" in reply:
            link = object.__getattribute__(self, "_link")
            _apply_mutations(link.decode(reply["mutated"]), args, kwargs)
        return reply["ok"]

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._ask("getattr", name=name)

    def __getitem__(self, key):
        return self._ask("getitem", key=self._encode(key))

    def __contains__(self, item):
        return self._ask("contains", item=self._encode(item)) is True

    def __len__(self):
        size = self._ask("len")
        if type(size) is not int:
            raise TypeError("len() of the answer's object is not an int")
        return size

    def __bool__(self):
        return self._ask("bool") is True

    def __iter__(self):
        iterator = self._ask("iter")
        if type(iterator) is not Remote:
            raise TypeError("the answer's object did not give an iterator")
        return _Iterator(iterator)

    def __next__(self):
        reply = self._reply("next", count=1)
        if type(reply["ok"]) is not list:
            raise AnswerGone("the answer's process sent a malformed value")
        if reply["ok"]:
            return reply["ok"][0]
        raise StopIteration

    def __instancecheck__(self, obj):
        return self._ask("isinstance", item=self._encode(obj)) is True

    def __repr__(self):
        text = self._ask("repr")
        return text if type(text) is str else "<answer object>"

    def __hash__(self):
        return id(self)

    __eq__ = _operator("eq")
    __ne__ = _operator("ne")
    __lt__, __le__ = _operator("lt"), _operator("le")
    __gt__, __ge__ = _operator("gt"), _operator("ge")
    __add__, __radd__ = _operator("add"), _operator("add", reflected=True)
    __sub__, __rsub__ = _operator("sub"), _operator("sub", reflected=True)
    __mul__, __rmul__ = _operator("mul"), _operator("mul", reflected=True)
    __truediv__ = _operator("truediv")
    __floordiv__ = _operator("floordiv")
    __mod__ = _operator("mod")
    __pow__ = _operator("pow")
    __matmul__ = _operator("matmul")
    __and__, __or__, __xor__ = _operator("and_"), _operator("or_"), _operator("xor")
    __lshift__, __rshift__ = _operator("lshift"), _operator("rshift")


class _Iterator:
    """Iterates one of the answer's iterators, pulling items in growing batches (1, 2, 4...), so
    an endless generator can be sliced and a long one costs few round trips."""

    def __init__(self, remote):
        self.remote = remote
        self.buffered = []
        self.batch = 1
        self.done = False

    def __iter__(self):
        return self

    def __next__(self):
        if not self.buffered and not self.done:
            reply = self.remote._reply("next", count=self.batch)
            if type(reply["ok"]) is not list:
                raise AnswerGone("the answer's process sent a malformed value")
            self.buffered = reply["ok"][::-1]
            self.done = reply.get("done") is True
            self.batch = min(self.batch * 2, 1024)
        if self.buffered:
            return self.buffered.pop()
        raise StopIteration


def _exports(names):
    """The answer's names a test may use: never a dunder or a non-identifier (a forged greeting
    could name ``__builtins__``); in the test's namespace never a builtin's name either (an
    answer's ``abs`` or ``all`` would rig the test's own checks; ``from solution import sum``
    still gets the answer's ``sum`` for a test that asks for it by name)."""
    usable = {
        name: value
        for name, value in names.items()
        if type(name) is str and name.isidentifier() and not name.startswith("__")
    }
    plain = {name: value for name, value in usable.items() if name not in vars(builtins)}
    return usable, plain


def _main():
    request_fd, reply_fd, result_fd = (int(arg) for arg in sys.argv[1:4])
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    job = json.loads(sys.stdin.buffer.read())
    sys.argv = ["test"]
    os.environ.clear()
    os.write(result_fd, b"started\n")  # the judge's sign that this sandbox started
    link = _Link(request_fd, reply_fd)

    def finish(code, where="", exc=None, reason=""):
        line = "ok"
        if code:
            message = ""
            if exc is not None:
                reason = reason or type(exc).__name__
                try:
                    message = str(exc)
                except Exception:  # noqa: BLE001
                    message = ""
            clean = lambda s: s.replace("\t", " ").replace("\n", " ")[:MESSAGE_CHARS]  # noqa: E731
            line = "\t".join(["fail", where, clean(reason), clean(message)])
        for stream in (sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os.write(result_fd, (line + "\n").encode("utf-8", "replace"))
        os._exit(code)

    try:
        test = compile(job.pop("test"), "<test>", "exec", dont_inherit=True)
    except BaseException as exc:  # noqa: BLE001
        finish(4, "test", exc)
    try:
        first = link.read()
    except AnswerGone as exc:
        finish(3, "answer", exc, "answer did not start")
    if first != {"started": True}:
        finish(3, "answer", AnswerError("no greeting"), "answer did not start")
    try:
        hello = link.read()
        if type(hello.get("failed")) is dict:
            failed = hello["failed"]
            error = AnswerError(str(failed.get("message", "")))
            finish(3, "answer", error, str(failed.get("type", "Exception"))[:100])
        if type(hello.get("ready")) is not dict:
            link.fail("the answer's process sent a malformed greeting")
        names = {name: link.decode(value) for name, value in hello["ready"].items()}
    except AnswerGone as exc:
        finish(3, "answer", exc, "answer exited")
    usable, plain = _exports(names)
    solution = types.ModuleType("solution")
    solution.__dict__.update(usable)
    solution.__all__ = sorted(plain)  # ``from solution import *`` brings no builtin's name
    sys.modules["solution"] = solution
    # The runner's own entries last: nothing of the answer's can replace them.
    namespace = {**plain, "__name__": "__test__", "__builtins__": builtins}
    try:
        exec(test, namespace)
    except AnswerGone:
        pass  # reported below, whatever the test made of it
    except BaseException as exc:  # noqa: BLE001 - the test's own failure, or the answer's
        if link.gone is None:
            if exc is link.raised:
                finish(1, "answer", exc, link.raised_kind)
            if isinstance(exc, SandboxLimit):
                finish(1, "test", exc, "sandbox limit")
            finish(1, "test", exc)
    if link.gone is not None:  # even where the test caught it: a crash is not an answer
        finish(1, "answer", link.gone, "answer exited")
    finish(0)


if __name__ == "__main__":
    _main()
