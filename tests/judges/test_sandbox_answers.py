"""What an honest answer and an honest test can do across the two sandboxes: values of the
standard library's usual types, the answer's own classes and iterators, in-place changes; and
what the sandbox says when a test asks for something it cannot do."""

from __future__ import annotations

import pytest

from judges.kinds.code_tests import run_tests
from judges.sandbox import bwrap
from tests.conftest import SERVICE_SKIP

pytestmark = pytest.mark.skipif(
    bwrap.bwrap_path() is None, reason=f"{SERVICE_SKIP} bubblewrap (apt-get install bubblewrap)"
)

CODE = """
import collections, dataclasses, datetime, decimal, fractions, itertools

def factorial(n):
    out = 1
    for i in range(2, n + 1):
        out *= i
    return out

def count_words(text):
    return collections.Counter(text.split())

Point = collections.namedtuple("Point", "x y")

def midpoint(a, b):
    return Point((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)

@dataclasses.dataclass
class Money:
    cents: int
    def __add__(self, other):
        return Money(self.cents + other.cents)

def ratio(a, b):
    return fractions.Fraction(a, b)

def price(text):
    return decimal.Decimal(text)

def tomorrow(day):
    return day + datetime.timedelta(days=1)

def naturals():
    n = 0
    while True:
        yield n
        n += 1

def sort_in_place(items):
    items.sort()

def tally(counts, word):
    counts[word] = counts.get(word, 0) + 1

ring = []
ring.append(ring)  # a cycle: crosses as a reference
"""

TESTS = {
    "big ints": "assert factorial(2000) % 10**499 == 0 and 10**5735 < factorial(2000) < 10**5736",
    "Counter as a dict": "assert count_words('a a b') == {'a': 2, 'b': 1}",
    "namedtuple as a tuple": "assert midpoint((0, 0), (2, 4)) == (1.0, 2.0)",
    "dataclasses compared": "assert Money(5) + Money(7) == Money(12)",
    "isinstance of the answer's class": "assert isinstance(Money(1), Money)",
    "Fraction": "from fractions import Fraction\nassert ratio(2, 4) == Fraction(1, 2)",
    "Decimal": "from decimal import Decimal\nassert price('1.10') == Decimal('1.10')",
    "datetime": (
        "import datetime\nassert tomorrow(datetime.date(2024, 2, 28)) == datetime.date(2024, 2, 29)"
    ),
    "next on a generator": "g = naturals()\nnext(g)\nassert next(g) == 1",
    "slice of an endless generator": (
        "import itertools\nassert list(itertools.islice(naturals(), 5)) == [0, 1, 2, 3, 4]"
    ),
    "in-place list change": "xs = [3, 1, 2]\nsort_in_place(xs)\nassert xs == [1, 2, 3]",
    "in-place dict change": "d = {}\ntally(d, 'a')\ntally(d, 'a')\nassert d == {'a': 2}",
    "a cyclic global": "assert len(ring) == 1",
}


@pytest.mark.parametrize("name", sorted(TESTS))
def test_an_honest_test_of_an_honest_answer_passes(name):
    (result,) = run_tests(CODE, [TESTS[name]], timeout_s=5)
    assert result.passed, result


def test_the_same_tests_fail_a_wrong_answer():
    wrong = CODE.replace("out *= i", "out += i").replace("items.sort()", "items.reverse()")
    wrong = wrong.replace("self.cents + other.cents", "self.cents")
    tests = [TESTS["big ints"], TESTS["in-place list change"], TESTS["dataclasses compared"]]
    assert [r.passed for r in run_tests(wrong, tests, timeout_s=5)] == [False] * 3


@pytest.mark.parametrize(
    "test",
    [
        "assert sorted([3, 1], key=lambda x: x) == [1, 3]\napply(lambda x: x + 1, 1)",
        "assert Money(5) < 7",
    ],
)
def test_what_the_sandbox_cannot_do_is_named_and_not_blamed_on_the_answer(test):
    code = CODE + "\ndef apply(f, x):\n    return f(x)\n"
    (result,) = run_tests(code, [test], timeout_s=5)
    assert not result.passed
    assert result.where == "test"
    assert result.reason in ("sandbox limit", "TypeError")
