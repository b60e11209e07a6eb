"""The Merkle root of an export, built streaming, equals the level-by-level definition; the
margin and agreement read from stored verdicts."""

from __future__ import annotations

import hashlib
from fractions import Fraction

import pytest

from preferences import scoring
from preferences.provenance import EMPTY_ROOT, MerkleRoot, canonical_json, merkle_root
from tests.preferences.helpers import merkle


def leaves(n: int) -> list[str]:
    return [hashlib.sha256(str(i).encode()).hexdigest() for i in range(n)]


@pytest.mark.parametrize("n", [*range(0, 18), 31, 32, 33, 100])
def test_the_streamed_merkle_root_equals_the_level_by_level_tree(n):
    streamed = MerkleRoot()
    for leaf in leaves(n):
        streamed.add(leaf)
    assert streamed.count == n
    assert streamed.hexdigest() == merkle_root(leaves(n)) == merkle(leaves(n))


def test_the_merkle_tree_promotes_an_odd_leaf_and_hashes_raw_digests():
    a, b, c = leaves(3)
    node = hashlib.sha256(bytes.fromhex(a) + bytes.fromhex(b)).digest()
    assert merkle_root([a]) == a
    assert merkle_root([a, b, c]) == hashlib.sha256(node + bytes.fromhex(c)).hexdigest()
    assert merkle_root([]) == EMPTY_ROOT
    # Not Bitcoin's rule (the odd leaf paired with itself): [a, b, c] and [a, b, c, c] differ.
    assert merkle_root([a, b, c]) != merkle_root([a, b, c, c])


def test_a_leaf_must_be_a_sha256_digest():
    with pytest.raises(ValueError):
        MerkleRoot().add("abcd")


def test_canonical_json_sorts_keys_without_whitespace_in_utf8():
    assert canonical_json({"b": 1, "a": ["é", {"d": 2, "c": None}]}) == (
        '{"a":["é",{"c":null,"d":2}],"b":1}'.encode()
    )


def verdict(kind, points, max_points, weight=None, pairs=None, index=0):
    config = {"kind": kind} | ({"weight": weight} if weight else {})
    details = {"pairs": pairs} if pairs is not None else {}
    data = {"index": index, "config": config, "points": points, "max_points": max_points}
    return (index + 1, kind, data | {"details": details})


def test_margin_is_the_weighted_normalised_total_difference_over_the_total_weight():
    judges = scoring.judge_scores(
        [
            verdict("verifier", [1.0, 0.0, 1.0], 1.0, weight=2),
            verdict("verifier", [3.0, 1.0, 2.0], 4.0, index=1),  # tests: passed of 4
        ],
        3,
    )
    assert scoring.totals(judges, 3) == [Fraction(11, 4), Fraction(1, 4), Fraction(5, 2)]
    first = scoring.compare(judges, 0, 1)
    assert first.margin == Fraction(10, 4) / 3
    assert (first.agreed, first.votes) == (2, 2)
    close = scoring.compare(judges, 0, 2)
    assert close.margin == Fraction(1, 4) / 3
    assert (close.agreed, close.votes) == (1, 2)  # the weight-2 verifier tied them
    assert close.deciding_kinds == ["verifier"]


def test_a_pairwise_record_without_probabilities_counts_one_vote():
    blank = {"a": 0, "b": 1, "winner": 0, "by": "blank"}
    judges = scoring.judge_scores([verdict("pairwise-llm", [1.0, 0.0], 1.0, pairs=[blank])], 2)
    result = scoring.compare(judges, 0, 1)
    assert (result.agreed, result.votes) == (1, 1)


def test_orders_that_disagree_count_one_vote_of_two():
    # Position bias: both orders prefer whatever is shown as A.
    biased = {"a": 0, "b": 1, "winner": None, "p_ab": [0.7, 0.3], "p_ba": [0.7, 0.3]}
    judges = scoring.judge_scores(
        [
            verdict("verifier", [1.0, 0.0], 1.0),
            verdict("pairwise-llm", [0.5, 0.5], 1.0, pairs=[biased], index=1),
        ],
        2,
    )
    result = scoring.compare(judges, 0, 1)
    assert (result.agreed, result.votes) == (2, 3)
    assert result.margin == Fraction(1, 2)


def test_a_verdict_of_another_shape_is_refused():
    with pytest.raises(scoring.VerdictShapeError):
        scoring.judge_scores([verdict("verifier", [1.0], 1.0)], 2)
    with pytest.raises(scoring.VerdictShapeError):
        scoring.judge_scores([verdict("verifier", [1.0, "x"], 1.0)], 2)
