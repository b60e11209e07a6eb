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


BIG_INT_BITS = 13_000  # beyond ~3,900 digits an int crosses as hex (decimal is quadratic)

# Standard-library value types that cross as values (rebuilt on the other side by the standard
# library's own constructors, so nothing of the answer's comes with them), by qualified name so
# that this file imports nothing it does not need.
VALUE_TYPES = {
    "fractions.Fraction": "fraction",
    "decimal.Decimal": "decimal",
    "datetime.date": "date",
    "datetime.datetime": "datetime",
    "datetime.time": "time",
    "datetime.timedelta": "timedelta",
}


def _plain_base(value):
    """For an instance of a subclass of a plain type (a namedtuple, a Counter, an int with a
    rigged ``__eq__``), its data as the plain base type, read with the base type's own methods
    so that no override of the subclass runs on the receiving side; else None."""
    if isinstance(value, bool):
        return None
    for base, convert in (
        (int, int.__int__),
        (float, float.__float__),
        (str, str.__str__),
        (bytes, lambda v: bytes.__getitem__(v, slice(None))),
        (tuple, lambda v: tuple(tuple.__iter__(v))),
        (list, lambda v: list(list.__iter__(v))),
        (dict, lambda v: dict(dict.items(v))),
        (frozenset, lambda v: frozenset(frozenset.__iter__(v))),
        (set, lambda v: set(set.__iter__(v))),
    ):
        if isinstance(value, base):
            return convert(value)
    return None


def wire_encode(value, make_ref=None, depth=0):
    """``value`` as JSON-ready data. ``make_ref(obj) -> int`` turns a value that is not plain
    data into a reference number; without it such a value is refused."""
    if depth > WIRE_MAX_DEPTH:
        raise WireError("value nested too deeply")
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        if value.bit_length() > BIG_INT_BITS:
            return {"$": "int", "v": format(value, "x")}
        return value
    if kind is float:
        if math.isfinite(value):
            return value
        return {"$": "float", "v": repr(value)}
    if kind is complex:
        return {"$": "complex", "v": [wire_encode(value.real), wire_encode(value.imag)]}
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
    tag = VALUE_TYPES.get(f"{kind.__module__}.{kind.__qualname__}")
    if tag == "fraction":
        parts = (int(value.numerator), int(value.denominator))
        return {"$": tag, "v": [wire_encode(part) for part in parts]}
    if tag == "timedelta":
        return {"$": tag, "v": [value.days, value.seconds, value.microseconds]}
    if tag is not None:
        return {"$": tag, "v": str(value) if tag == "decimal" else value.isoformat()}
    base = _plain_base(value)
    if base is not None:
        return wire_encode(base, make_ref, depth)
    if make_ref is None:
        raise WireError(f"a {kind.__name__} cannot be sent to the answer")
    return {"$": "ref", "v": make_ref(value)}


def _value_type(tag, inner):
    """A standard-library value rebuilt from its wire form (the receiving side's own classes)."""
    if tag in ("fraction", "timedelta"):
        size = 2 + (tag == "timedelta")
        if type(inner) is not list or len(inner) != size:
            raise WireError(f"malformed {tag}")
        parts = [wire_decode(part) for part in inner]
        if any(type(part) is not int for part in parts):
            raise WireError(f"malformed {tag}")
        if tag == "fraction":
            import fractions

            return fractions.Fraction(*parts)
        import datetime

        return datetime.timedelta(days=parts[0], seconds=parts[1], microseconds=parts[2])
    if type(inner) is not str or len(inner) > 10_000:
        raise WireError(f"malformed {tag}")
    if tag == "decimal":
        import decimal

        return decimal.Decimal(inner)
    import datetime

    kind = {"date": datetime.date, "datetime": datetime.datetime, "time": datetime.time}[tag]
    return kind.fromisoformat(inner)


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
    if tag == "int" and type(inner) is str and len(inner) <= WIRE_MAX_LINE:
        try:
            return int(inner, 16)
        except ValueError:
            raise WireError("malformed int") from None
    if tag == "complex" and type(inner) is list and len(inner) == 2:
        real, imag = (wire_decode(part) for part in inner)
        if type(real) is not float or type(imag) is not float:
            raise WireError("malformed complex")
        return complex(real, imag)
    if tag in ("fraction", "decimal", "date", "datetime", "time", "timedelta"):
        try:
            return _value_type(tag, inner)
        except WireError:
            raise
        except (ValueError, TypeError, ArithmeticError, KeyError, ZeroDivisionError):
            raise WireError(f"malformed {tag}") from None
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
