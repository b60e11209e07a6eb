"""Runs inside a second sandbox: executes one of the prompt's tests against the answer's names.

Started as ``python -I -S -X utf8 -c <wire.py + this file> REQUEST_FD REPLY_FD RESULT_FD`` with
the job (``{"test": ...}``) on stdin. The answer's code runs in another sandboxed process (its own
user, PID, network, IPC and mount namespaces): every name the answer defined is here a proxy
that sends a request down the pipe and gets plain data back (``wire.py``). So the verdict, one
line written to RESULT_FD (``ok`` or ``fail<TAB>where<TAB>reason<TAB>message``), is decided where
the answer cannot reach: it cannot patch this process's builtins, exit it early, write to its
descriptors, or hand it an object that compares equal to anything.
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


class AnswerGone(BaseException):
    """The answer's process ended (or sent garbage) while the test was talking to it. Not an
    ``Exception``: a test's ``except Exception`` (say, around a call that should raise) must not
    take an answer that crashed for one that raised; and once it happened the test fails anyway
    (``_Link.gone``)."""


class AnswerError(Exception):
    """An exception raised by the answer that is not one of Python's built-in exceptions."""


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
        try:
            data = wire_dumps(dict(fields, op=op, target=target))
        except (ValueError, TypeError) as exc:
            raise TypeError(f"cannot send that to the answer: {exc}") from None
        try:
            while data:
                data = data[os.write(self.requests, data) :]
        except OSError:
            self.fail("the answer's process ended")
        message = self.read()
        if "ok" in message:
            return self.decode(message["ok"])
        raised = message.get("raised")
        if type(raised) is not dict:
            self.fail("the answer's process sent a malformed message")
        name, text = str(raised.get("type", "Exception")), str(raised.get("message", ""))
        kind = getattr(builtins, name, None)
        if isinstance(kind, type) and issubclass(kind, Exception) and kind.__module__ == "builtins":
            try:
                exc = kind(text)
            except Exception:  # noqa: BLE001 - e.g. UnicodeDecodeError wants five arguments
                exc = AnswerError(f"{name}: {text}")
        else:  # SystemExit and friends must not stop this process; the answer's own classes
            exc = AnswerError(f"{name}: {text}")
        self.raised, self.raised_kind = exc, name[:100]
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
            raise WireError(f"a {type(obj).__name__} cannot be sent to the answer")

        return wire_encode(value, ref)


class Remote:
    """Something the answer defined that is not plain data: a function, a class, an instance.
    It can be called, indexed, iterated, measured and asked for attributes, each a round trip
    to the answer's process; it is equal only to itself."""

    __slots__ = ("_link", "_number")

    def __init__(self, link, number):
        object.__setattr__(self, "_link", link)
        object.__setattr__(self, "_number", number)

    def _ask(self, op, **fields):
        link = object.__getattribute__(self, "_link")
        return link.ask(op, object.__getattribute__(self, "_number"), **fields)

    def _encode(self, value):
        try:
            return object.__getattribute__(self, "_link").encode(value)
        except WireError as exc:
            raise TypeError(str(exc)) from None

    def __call__(self, *args, **kwargs):
        kwargs = [[key, self._encode(value)] for key, value in kwargs.items()]
        return self._ask("call", args=self._encode(list(args)), kwargs=kwargs)

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
        items = self._ask("iter")
        if type(items) is not list:
            raise TypeError("the answer's object did not iterate")
        return iter(items)

    def __repr__(self):
        text = self._ask("repr")
        return text if type(text) is str else "<answer object>"


def _main():
    request_fd, reply_fd, result_fd = (int(arg) for arg in sys.argv[1:4])
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    job = json.loads(sys.stdin.buffer.read())
    sys.argv = ["test"]
    os.environ.clear()
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
        hello = link.read()
    except AnswerGone as exc:
        finish(3, "answer", exc, "answer exited")
    if type(hello.get("failed")) is dict:
        failed = hello["failed"]
        finish(3, "answer", AnswerError(str(failed.get("message", ""))), str(failed.get("type")))
    try:
        if type(hello.get("ready")) is not dict:
            raise AnswerGone("the answer's process sent a malformed greeting")
        names = {str(name): link.decode(value) for name, value in hello["ready"].items()}
    except AnswerGone as exc:
        finish(3, "answer", exc, "answer exited")
    solution = types.ModuleType("solution")
    solution.__dict__.update(names)
    sys.modules["solution"] = solution  # so a test may also say ``from solution import f``
    # A name that would shadow a builtin stays the builtin in the test's namespace: an answer
    # defining ``abs``, ``isinstance`` or ``sorted`` would otherwise rig the test's own checks.
    # (A test that means the answer's ``sum`` says ``from solution import sum``.)
    plain = {name: value for name, value in names.items() if name not in vars(builtins)}
    namespace = {"__name__": "__test__", "__builtins__": builtins, **plain}
    try:
        exec(test, namespace)
    except AnswerGone:
        pass  # reported below, whatever the test made of it
    except BaseException as exc:  # noqa: BLE001 - the test's own failure, or the answer's
        if link.gone is None:
            if exc is link.raised:
                finish(1, "answer", exc, link.raised_kind)
            finish(1, "test", exc)
    if link.gone is not None:  # even where the test caught it: a crash is not an answer
        finish(1, "answer", link.gone, "answer exited")
    finish(0)


if __name__ == "__main__":
    _main()
