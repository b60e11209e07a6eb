"""Runs inside the sandbox: executes an answer's code, then serves its names to the test's process.

Started as ``python -I -S -X utf8 -c <wire.py + this file> REQUEST_FD REPLY_FD`` with the job
(``{"code": ...}``) on stdin. It runs the code in a fresh namespace (``__name__`` is
``"solution"``, so a ``__main__`` block does not run), then answers one request per line until its
request pipe closes. Nothing here is trusted by the judge: the answer's code runs in this very
process and may rewrite any of it. That is why the verdict is made in the test's process, which
only ever receives plain data from here (``wire.py``).
"""

import builtins
import json
import os
import resource
import sys

if __name__ != "__main__":  # imported to be read or linted; in the sandbox wire.py precedes this
    from judges.sandbox.wire import WireError, wire_decode, wire_dumps, wire_encode, wire_read

MESSAGE_CHARS = 300
ITER_ITEMS = 100_000  # a reference iterated by the test gives at most this many items
EXPORT_CHARS = 64 * 1024  # a global bigger than this as plain data crosses as a reference


def _describe(exc):
    try:
        message = str(exc)[:MESSAGE_CHARS]
    except BaseException:  # noqa: BLE001 - a hostile __str__
        message = ""
    return {"type": type(exc).__name__[:100], "message": message}


def _serve(namespace, requests, reply):
    objects = []

    def make_ref(obj):
        objects.append(obj)
        return len(objects) - 1

    def lookup(number):
        if not 0 <= number < len(objects):
            raise WireError("unknown reference")
        return objects[number]

    def decode(data):
        return wire_decode(data, lookup)

    exported = {}
    for name, value in namespace.items():
        if name.startswith("__") and name.endswith("__"):
            continue
        if type(value) is type(sys):  # modules the answer imported: the test has its own
            continue
        encoded = wire_encode(value, make_ref)
        if len(json.dumps(encoded)) > EXPORT_CHARS:
            # A big table (precomputed primes, say) crosses as a reference: the greeting stays
            # small, and a test that uses it still can (len, in, indexing, iteration).
            encoded = {"$": "ref", "v": make_ref(value)}
        exported[name] = encoded
    reply({"ready": exported})
    while True:
        request = wire_read(requests)
        if request is None:
            return
        try:
            target = lookup(request["target"])
            op = request["op"]
            if op == "call":
                kwargs = {key: decode(value) for key, value in request["kwargs"]}
                result = target(*decode(request["args"]), **kwargs)
            elif op == "getattr":
                result = getattr(target, request["name"])
            elif op == "getitem":
                result = target[decode(request["key"])]
            elif op == "contains":
                result = decode(request["item"]) in target
            elif op == "len":
                result = len(target)
            elif op == "bool":
                result = bool(target)
            elif op == "iter":
                result = []
                for item in target:
                    if len(result) >= ITER_ITEMS:
                        raise ValueError(f"more than {ITER_ITEMS} items")
                    result.append(item)
            elif op == "repr":
                result = repr(target)[:MESSAGE_CHARS]
            else:
                raise WireError(f"unknown request {op!r}")
            message = {"ok": wire_encode(result, make_ref)}
        except BaseException as exc:  # noqa: BLE001 - SystemExit included: it is the answer's
            message = {"raised": _describe(exc)}
        reply(message)


def _main():
    requests = os.fdopen(int(sys.argv[1]), "rb")
    reply_fd = int(sys.argv[2])
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
        data = wire_dumps(message)
        while data:
            data = data[_write(reply_fd, data) :]

    namespace = {"__name__": "solution", "__builtins__": builtins}
    try:
        code = compile(job.pop("code"), "<answer>", "exec", dont_inherit=True)
        exec(code, namespace)
    except BaseException as exc:  # noqa: BLE001 - whatever stopped the answer is the verdict
        reply({"failed": _describe(exc)})
        return
    _serve(namespace, requests, reply)


if __name__ == "__main__":
    _main()
