"""A space's rules applied to answers: shaping never rejects, content limits disqualify."""

import pytest

from spaces.answer_rules import answer_violation, shape_answer
from spaces.models import Space


def space(**rules) -> Space:
    """An unsaved space with these rules (the others at their defaults)."""
    return Space(rules=rules)


def test_single_line_keeps_the_first_non_empty_line():
    capitals = space(answer_format="single_line")
    assert shape_answer(capitals, "\n  Paris  \nBecause it is the capital.") == "Paris"
    assert shape_answer(capitals, "   \n\n") == ""


def test_free_answers_keep_their_lines_and_are_cut_at_max_chars():
    short = space(answer_format="free", max_chars=10)
    assert shape_answer(short, "line one\nline two") == "line one\nl"


@pytest.mark.parametrize(
    ("rules", "text", "expected"),
    [
        ({"banned_substrings": ["Buy now"]}, "please BUY NOW!", "contains the banned text"),
        ({"banned_substrings": ["Buy now"]}, "please buy later", ""),
        ({"answer_format": "number"}, "I do not know", "the space asks for a number"),
        ({"answer_format": "number"}, "It is 42.", ""),
        ({"answer_format": "free"}, "I do not know", ""),
    ],
)
def test_content_limits(rules, text, expected):
    violation = answer_violation(space(**rules), text)
    if expected:
        assert violation.startswith(expected)
    else:
        assert violation == ""
