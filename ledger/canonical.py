"""Canonical JSON and its sha256: one byte string per value, so anyone can recompute a hash.

``canonical_json(value)`` is ``json.dumps`` with:

- keys sorted (by Unicode code point, Python's string order);
- no whitespace: separators ``","`` and ``":"``;
- UTF-8, non-ASCII characters written as themselves (not ``\\u`` escapes);
- integers in full, floats as Python's shortest round-trip ``repr`` (``0.1``, ``1e+16``);
- only JSON types: ``dict`` with ``str`` keys, ``list``/``tuple``, ``str``, ``int``, ``float``,
  ``bool``, ``None``. NaN and Infinity are refused (JSON has no such numbers), and so is anything
  ``json.dumps`` would turn into something else on the way (an ``int`` key becomes ``"1"``, which
  would hash a value the caller never had).

Every hash of the project is over these bytes: preference pairs' content hashes, the record
chain, training checkpoints' manifests.
By hand: ``python3 -c 'import json,sys,hashlib; v=json.load(sys.stdin);
print(hashlib.sha256(json.dumps(v,sort_keys=True,separators=(",",":"),ensure_ascii=False)
.encode()).hexdigest())'``.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

__all__ = ["CanonicalJSONError", "canonical_json", "sha256_hex"]


class CanonicalJSONError(ValueError):
    """The value has no canonical JSON form; the message names where (``$.a[2]``) and why."""


def canonical_json(value: Any) -> bytes:
    """The canonical JSON bytes of ``value``; ``CanonicalJSONError`` if it is not plain JSON."""
    try:
        _check(value, "$")
        text = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        return text.encode("utf-8")
    except RecursionError:
        raise CanonicalJSONError("the value is nested too deeply") from None
    except UnicodeEncodeError as exc:  # a lone surrogate such as "\ud800" has no UTF-8 form
        raise CanonicalJSONError(f"a string is not valid Unicode: {exc.reason}") from None


def sha256_hex(data: bytes) -> str:
    """Lower-case hex sha256 of ``data`` (64 characters)."""
    return hashlib.sha256(data).hexdigest()


def _check(value: Any, path: str) -> None:
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CanonicalJSONError(f"{path} is {value}: JSON has no NaN or Infinity")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalJSONError(
                    f"{path} has the key {key!r} ({type(key).__name__}): JSON keys are strings"
                )
            _check(item, f"{path}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
        return
    raise CanonicalJSONError(
        f"{path} is a {type(value).__name__}, not a JSON type "
        "(dict, list, str, int, float, bool, None)"
    )
