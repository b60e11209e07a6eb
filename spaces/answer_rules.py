"""A space's rules applied to one answer.

Two kinds of rule act on answers after the model has written them:

* shaping, which never rejects: ``single_line`` keeps the first non-empty line (models often add
  an explanation after the answer), and ``max_chars`` cuts the rest;
* content limits, which disqualify: an answer containing one of ``banned_substrings`` (compared
  case-insensitively), or a ``number`` answer with no number in it. A disqualified answer is
  still stored and shown, but ranks after every qualified answer (see ``arena.services.matches``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spaces.models import Space

_DIGIT = re.compile(r"\d")


def shape_answer(space: Space, text: str) -> str:
    """The answer as the space keeps it: first line only for single_line, at most max_chars."""
    if space.rule("answer_format") == "single_line":
        text = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return text[: space.rule("max_chars")]


def answer_violation(space: Space, text: str) -> str:
    """Why ``text`` breaks the space's content limits, or "" when it keeps them."""
    folded = text.casefold()
    for banned in space.rule("banned_substrings"):
        if banned.casefold() in folded:
            return f"contains the banned text {banned!r}"
    if space.rule("answer_format") == "number" and not _DIGIT.search(text):
        return "the space asks for a number and the answer has none"
    return ""
