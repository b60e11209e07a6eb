"""The wire format between an answer's process and its test's process: one JSON document per line.

Only plain data crosses: ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, and lists,
tuples, dicts, sets and frozensets of them. Anything else the answer hands over (a function, a
class, an instance, a generator...) stays in the answer's process and crosses as a numbered
*reference* that the test side can call or query, never compare: a reference has no ``__eq__`` of
its own, so an answer cannot return an object that equals everything. The type check is on the
exact type (``type(x) is int``), so a subclass with a rigged ``__eq__`` is a reference too.

This file runs inside the sandbox as well (its source is prepended to both runners), so it uses
the standard library only and keeps every name it needs local.
"""

import base64
import json
import math

WIRE_MAX_DEPTH = 64  # nesting of containers
WIRE_MAX_LINE = 4 * 1024 * 1024  # bytes in one message; a longer one is refused


class WireError(ValueError):
    """A value that cannot cross, or a message that is not a well-formed one."""


def wire_encode(value, make_ref=None, depth=0):
    """``value`` as JSON-ready data. ``make_ref(obj) -> int`` turns a value that is not plain
    data into a reference number; without it such a value is refused."""
    if depth > WIRE_MAX_DEPTH:
        raise WireError("value nested too deeply")
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is str:
        return value
    if kind is float:
        if math.isfinite(value):
            return value
        return {"$": "float", "v": repr(value)}
    if kind is list:
        return [wire_encode(item, make_ref, depth + 1) for item in value]
    if kind is tuple or kind is set or kind is frozenset:
        items = [wire_encode(item, make_ref, depth + 1) for item in value]
        return {"$": kind.__name__, "v": items}
    if kind is dict:
        pairs = [
            [wire_encode(k, make_ref, depth + 1), wire_encode(v, make_ref, depth + 1)]
            for k, v in value.items()
        ]
        return {"$": "dict", "v": pairs}
    if kind is bytes:
        return {"$": "bytes", "v": base64.b64encode(value).decode("ascii")}
    if make_ref is None:
        raise WireError(f"a {kind.__name__} cannot be sent to the answer")
    return {"$": "ref", "v": make_ref(value)}


def wire_decode(data, make_ref=None, depth=0):
    """The value that ``data`` (from :func:`wire_encode`) stands for; references become
    ``make_ref(number)`` (refused without it)."""
    if depth > WIRE_MAX_DEPTH:
        raise WireError("value nested too deeply")
    kind = type(data)
    if data is None or kind is bool or kind is int or kind is str or kind is float:
        return data
    if kind is list:
        return [wire_decode(item, make_ref, depth + 1) for item in data]
    if kind is not dict or set(data) != {"$", "v"}:
        raise WireError("malformed value")
    tag, inner = data["$"], data["v"]
    if tag == "float" and inner in ("nan", "inf", "-inf"):
        return float(inner)
    if tag == "bytes" and type(inner) is str:
        try:
            return base64.b64decode(inner.encode("ascii"), validate=True)
        except ValueError:
            raise WireError("malformed bytes") from None
    if tag == "ref" and type(inner) is int:
        if make_ref is None:
            raise WireError("a reference where plain data was expected")
        return make_ref(inner)
    if type(inner) is not list:
        raise WireError("malformed value")
    if tag == "dict":
        out = {}
        for pair in inner:
            if type(pair) is not list or len(pair) != 2:
                raise WireError("malformed dict")
            try:
                out[wire_decode(pair[0], make_ref, depth + 1)] = wire_decode(
                    pair[1], make_ref, depth + 1
                )
            except TypeError:
                raise WireError("unhashable dict key") from None
        return out
    containers = {"tuple": tuple, "set": set, "frozenset": frozenset}
    if tag not in containers:
        raise WireError("malformed value")
    try:
        return containers[tag](wire_decode(item, make_ref, depth + 1) for item in inner)
    except TypeError:
        raise WireError("unhashable set member") from None


def wire_dumps(message) -> bytes:
    """One message as one line."""
    return json.dumps(message, ensure_ascii=True, allow_nan=False).encode("ascii") + b"\n"


def wire_read(stream):
    """The next message from a binary stream; ``None`` at end of stream. A line over
    WIRE_MAX_LINE bytes or one that is not a JSON object is refused."""
    line = stream.readline(WIRE_MAX_LINE + 1)
    if not line:
        return None
    if len(line) > WIRE_MAX_LINE or not line.endswith(b"\n"):
        raise WireError("message too long or cut off")
    try:
        message = json.loads(line, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise WireError("message is not JSON") from None
    if type(message) is not dict:
        raise WireError("message is not a JSON object")
    return message


def _no_constant(name):
    raise WireError(f"{name} is not allowed in a message")
