"""Finding the number in an answer, for the numeric verifier.

Rule: the answer's number is the *last* number in it ("... so the total is 42." -> 42), because
models reason first and conclude last. Understood forms: 42, -3, +7, 3.14, .5, 1,234,567.89
(comma thousands), 6.02e23, simple fractions 3/4 (and -1/2), and the Unicode minus sign. A sign
counts only when it is not glued to a preceding word or number ("5-3" is 5 and 3, not -3).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

NUMBER_RE = re.compile(
    r"""
    (?P<sign>(?<![\w)\]}])[-+\u2212])?
    (?P<body>
        \d{1,3}(?:,\d{3})+(?!\d)(?!,\d)(?:\.\d+)?   # 1,234,567.89
      | \d+(?:\.\d+)?                               # 42, 3.14
      | \.\d+                                       # .5
    )
    (?P<exp>[eE][-+]?\d{1,6})?
    (?:[ \t]*/[ \t]*(?P<den>\d+)(?![\d.,]\d))?       # a fraction n/d
    """,
    re.VERBOSE,
)

# Numbers beyond this many decimal orders of magnitude are refused: exact arithmetic on them
# would cost memory and time, and no task needs them.
MAX_EXPONENT = 1000


class NotANumber(ValueError):
    pass


def _to_fraction(sign: str | None, body: str, exp: str | None, den: str | None) -> Fraction:
    try:
        number = Decimal(body.replace(",", "") + (exp or ""))
    except InvalidOperation:  # pragma: no cover - the pattern only admits valid literals
        raise NotANumber(f"{body!r} is not a number") from None
    if number and abs(number.adjusted()) > MAX_EXPONENT:
        raise NotANumber(f"{body}{exp or ''} is out of range")
    value = Fraction(number)
    if den is not None:
        if int(den) == 0:
            raise NotANumber(f"{body}/{den} divides by zero")
        value /= int(den)
    return -value if sign in ("-", "\u2212") else value


def last_number(text: str) -> Fraction | None:
    """The last number in ``text``, exactly, or None when there is none. Raises NotANumber when
    the last number-like thing cannot be used (out of range, a division by zero)."""
    last = None
    for last in NUMBER_RE.finditer(text):  # noqa: B007 - we want the final match
        pass
    if last is None:
        return None
    return _to_fraction(last["sign"], last["body"], last["exp"], last["den"])


def parse_reference(text: str) -> Fraction | None:
    """A reference answer as a number: the whole text when it is one (so "-0.5e3" and "1/3"
    work), else its last number."""
    stripped = text.strip().replace("\u2212", "-")
    try:
        number = Decimal(stripped.replace(",", ""))
        if number.is_finite() and (not number or abs(number.adjusted()) <= MAX_EXPONENT):
            return Fraction(number)
    except InvalidOperation:
        pass
    return last_number(text)


def fraction_text(value: Fraction) -> str:
    """A short exact text for a number in verdict details: "42", "-0.5", or "1/3"."""
    if value.denominator == 1:
        return str(value.numerator)
    # Terminating decimals print as decimals; others as n/d.
    den = value.denominator
    while den % 2 == 0:
        den //= 2
    while den % 5 == 0:
        den //= 5
    if den == 1:
        return str(Decimal(value.numerator) / Decimal(value.denominator))
    return f"{value.numerator}/{value.denominator}"
