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

from spaces.validation import DEFAULT_RULES

_DIGIT = re.compile(r"\d")


def _rule(rules: dict, name: str):
    return rules.get(name, DEFAULT_RULES[name])


def shape_answer(rules: dict, text: str) -> str:
    """The answer as the space keeps it: first line only for single_line, at most max_chars."""
    if _rule(rules, "answer_format") == "single_line":
        text = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return text[: _rule(rules, "max_chars")]


def answer_violation(rules: dict, text: str) -> str:
    """Why ``text`` breaks the space's content limits, or "" when it keeps them."""
    folded = text.casefold()
    for banned in _rule(rules, "banned_substrings"):
        if banned.casefold() in folded:
            return f"contains the banned text {banned!r}"
    if _rule(rules, "answer_format") == "number" and not _DIGIT.search(text):
        return "the space asks for a number and the answer has none"
    return ""
