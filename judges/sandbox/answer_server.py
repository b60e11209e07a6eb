"""Runs inside the sandbox: executes an answer's code, then serves its names to the test's process.

Started as ``python -I -S -X utf8 -c <wire.py + this file> REQUEST_FD REPLY_FD`` with the job
(``{"code": ...}``) on stdin. It runs the code in a fresh namespace (``__name__`` is
``"solution"``, so a ``__main__`` block does not run), then answers one request per line until its
request pipe closes. Nothing here is trusted by the judge: the answer's code runs in this very
process and may rewrite any of it. That is why the verdict is made in the test's process, which
only ever receives plain data from here (``wire.py``) and decides for itself what it may do with
it (``test_runner.py``).
"""

import builtins
import json
import operator
import os
import resource
import sys

if __name__ != "__main__":  # imported to be read or linted; in the sandbox wire.py precedes this
    from judges.sandbox.wire import WireError, wire_decode, wire_dumps, wire_encode, wire_read

MESSAGE_CHARS = 300
EXPORT_CHARS = 64 * 1024  # a global bigger than this as plain data crosses as a reference
NEXT_MAX = 1024  # items pulled from an iterator per request
# Operators the test may apply between two of the answer's objects (test_runner decides when).
OPERATORS = frozenset(
    "add sub mul truediv floordiv mod pow matmul and_ or_ xor lshift rshift "
    "eq ne lt le gt ge".split()
)
MUTABLE = (list, dict, set)


def _describe(exc):
    try:
        message = str(exc)[:MESSAGE_CHARS]
    except BaseException:  # noqa: BLE001 - a hostile __str__
        message = ""
    return {"type": type(exc).__name__[:100], "message": message}


class _Objects:
    """The answer's objects the test holds references to, by number."""

    def __init__(self):
        self.items = []

    def ref(self, obj):
        self.items.append(obj)
        return len(self.items) - 1

    def get(self, number):
        if type(number) is not int or not 0 <= number < len(self.items):
            raise WireError("unknown reference")
        return self.items[number]

    def encode(self, value):
        """Plain data where it can be, a reference where it cannot (a cycle, a deep nest)."""
        try:
            return wire_encode(value, self.ref)
        except (WireError, RecursionError, ValueError):
            return {"$": "ref", "v": self.ref(value)}

    def decode(self, data):
        return wire_decode(data, self.get)


def _call(objects, target, request):
    args = objects.decode(request["args"])
    kwargs = {key: objects.decode(value) for key, value in request["kwargs"]}
    if type(args) is not list:
        raise WireError("malformed arguments")
    # Arguments the function may change in place go back with the reply, so the test sees the
    # change on its own objects (they were copies on the way here).
    watched = [(i, a) for i, a in enumerate(args) if type(a) in MUTABLE]
    watched += [(k, a) for k, a in kwargs.items() if type(a) in MUTABLE]
    before = [json.dumps(objects.encode(a)) for _, a in watched]
    result = target(*args, **kwargs)
    mutated = []
    for (where, value), old in zip(watched, before, strict=True):
        now = objects.encode(value)
        if json.dumps(now) != old:
            mutated.append([where, now])
    return result, mutated


def _handle(objects, request):
    """The reply to one request: ``{"ok": value}`` (plus ``mutated`` or ``done``) or
    ``{"raised": {"type", "message"}}``."""
    extra = {}
    try:
        target = objects.get(request["target"])
        op = request["op"]
        if op == "call":
            result, mutated = _call(objects, target, request)
            if mutated:
                extra["mutated"] = mutated
        elif op == "getattr":
            result = getattr(target, request["name"])
        elif op == "getitem":
            result = target[objects.decode(request["key"])]
        elif op == "contains":
            result = objects.decode(request["item"]) in target
        elif op == "len":
            result = len(target)
        elif op == "bool":
            result = bool(target)
        elif op == "isinstance":
            result = isinstance(objects.decode(request["item"]), target)
        elif op == "iter":
            result = {"$": "ref", "v": objects.ref(iter(target))}
            return {"ok": result}
        elif op == "next":
            count = request["count"]
            if type(count) is not int or not 1 <= count <= NEXT_MAX:
                raise WireError("malformed count")
            result = []
            try:
                while len(result) < count:
                    result.append(next(target))
            except StopIteration:
                extra["done"] = True
        elif op == "operator" and request["name"] in OPERATORS:
            result = getattr(operator, request["name"])(target, objects.get(request["other"]))
        elif op == "repr":
            result = repr(target)[:MESSAGE_CHARS]
        else:
            raise WireError(f"unknown request {op!r}")
        return {"ok": objects.encode(result), **extra}
    except BaseException as exc:  # noqa: BLE001 - SystemExit included: it is the answer's
        return {"raised": _describe(exc)}


def _greeting(objects, namespace):
    exported = {}
    for name, value in namespace.items():
        if name.startswith("__") and name.endswith("__"):
            continue
        if type(value) is type(sys):  # modules the answer imported: the test has its own
            continue
        encoded = objects.encode(value)
        if len(json.dumps(encoded)) > EXPORT_CHARS:
            # A big table (precomputed primes, say) crosses as a reference: the greeting stays
            # small, and a test that uses it still can (len, in, indexing, iteration).
            encoded = {"$": "ref", "v": objects.ref(value)}
        exported[name] = encoded
    return {"ready": exported}


def _main():
    requests = os.fdopen(int(sys.argv[1]), "rb")
    reply_fd = int(sys.argv[2])
    # Before any answer code: so the test's runner can tell a sandbox that never started (the
    # judge's fault: the match is refunded) from an answer that exits early (the answer's).
    os.write(reply_fd, wire_dumps({"started": True}))
    # Not one more process or thread from here on (the uid outside the sandbox is unprivileged,
    # so the limit holds); the answer cannot raise a hard limit again.
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    job = json.loads(sys.stdin.buffer.read())
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # the answer's input() sees end of file
    os.close(null)
    sys.argv = ["solution"]
    os.environ.clear()  # the interpreter may have set LC_CTYPE while coercing the C locale
    _write = os.write

    def reply(message):
        try:
            data = wire_dumps(message)
        except BaseException as exc:  # noqa: BLE001 - say so instead of dying mid-protocol
            data = wire_dumps({"raised": _describe(exc)})
        while data:
            data = data[_write(reply_fd, data) :]

    namespace = {"__name__": "solution", "__builtins__": builtins}
    try:
        code = compile(job.pop("code"), "<answer>", "exec", dont_inherit=True)
        exec(code, namespace)
    except BaseException as exc:  # noqa: BLE001 - whatever stopped the answer is the verdict
        reply({"failed": _describe(exc)})
        return
    objects = _Objects()
    reply(_greeting(objects, namespace))
    while True:
        request = wire_read(requests)
        if request is None:
            return
        reply(_handle(objects, request))


if __name__ == "__main__":
    _main()
