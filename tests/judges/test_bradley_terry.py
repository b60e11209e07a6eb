"""The standings fit (judges.bradley_terry): Plackett-Luce with ties, a length covariate and
bootstrap intervals, on synthetic matches whose true strengths are known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import approx_fprime, check_grad
from scipy.stats import spearmanr

from judges import bradley_terry
from judges.bradley_terry import (
    encode,
    fit_standings,
    hessian,
    hessian_diagonal,
    negative_log_likelihood,
    rank_by_interval,
)
from judges.errors import RatingError


def simulate(strengths, n_matches, *, seed=0, sizes=(2, 3, 4), chars=None, length_effect=0.0):
    """Matches drawn from the model itself: each seat's utility is its agent's strength plus
    ``length_effect`` times its standardised log length plus Gumbel noise; the ranking sorts the
    utilities. ``chars(rng, agent)`` draws an answer length (default: 50..2000, for anyone)."""
    rng = np.random.default_rng(seed)
    strengths = np.asarray(strengths, dtype=float)
    chars = chars or (lambda rng, agent: int(rng.integers(50, 2000)))
    matches = []
    for _ in range(n_matches):
        m = int(rng.choice(sizes))
        agents = rng.choice(len(strengths), m, replace=False)
        lengths = np.array([chars(rng, int(a)) for a in agents])
        loglen = np.log1p(lengths)
        utility = strengths[agents] + length_effect * (loglen - loglen.mean()) + rng.gumbel(size=m)
        ranks = np.empty(m, dtype=int)
        ranks[np.argsort(-utility)] = np.arange(1, m + 1)
        seats = zip(agents, ranks, lengths, strict=True)
        matches.append([(int(a), int(r), int(c)) for a, r, c in seats])
    return matches


def by_agent(result):
    return {row.agent: row for row in result.standings}


def test_it_recovers_known_strengths_with_intervals_that_cover_them():
    truth = np.linspace(-2, 2, 16)
    result = fit_standings(simulate(truth, 4000, seed=0), rounds=100, seed=3)
    rows = by_agent(result)
    fitted = np.array([rows[i].strength for i in range(len(truth))])
    assert spearmanr(fitted, truth).statistic > 0.97
    # Strengths are defined up to a constant; the prior centres them, so compare centred.
    centred = truth - truth.mean()
    assert np.abs(fitted - centred).max() < 0.35
    covered = [rows[i].lower <= centred[i] <= rows[i].upper for i in range(len(truth))]
    assert sum(covered) >= 13  # a 95% interval: about 15 of 16, allow for chance
    assert all(row.lower <= row.strength <= row.upper for row in result.standings)
    assert result.converged and result.matches == 4000 and result.rounds == 100
    # No length effect in these matches: beta's interval holds 0.
    assert result.length_lower < 0 < result.length_upper


def test_the_best_agent_comes_first_and_the_order_follows_rank_then_strength():
    truth = [3.0, 0.0, 0.0, -3.0]
    result = fit_standings(simulate(truth, 1500, seed=2), rounds=50)
    order = [row.agent for row in result.standings]
    assert order[0] == 0 and order[-1] == 3
    keys = [(row.rank, -row.strength) for row in result.standings]
    assert keys == sorted(keys)
    # Agents 1 and 2 are equally strong: their intervals overlap, so they share a rank.
    rows = by_agent(result)
    assert rows[1].rank == rows[2].rank == 2 and rows[0].rank == 1 and rows[3].rank == 4


def test_the_length_covariate_absorbs_a_pure_length_effect():
    """All agents are equally strong, but the judge likes long answers and agent 0 writes
    three times longer ones. Without style control it looks best; with it, its edge goes to
    the length coefficient."""

    def chars(rng, agent):
        base = int(rng.integers(100, 1000))
        return 3 * base if agent == 0 else base

    matches = simulate(np.zeros(6), 3000, seed=4, chars=chars, length_effect=1.5)
    naive = by_agent(fit_standings(matches, rounds=40, style_control=False))
    styled = fit_standings(matches, rounds=40)
    rows = by_agent(styled)

    others = [naive[i].strength for i in range(1, 6)]
    assert naive[0].lower > max(naive[i].upper for i in range(1, 6))  # a clear, false lead
    assert naive[0].win_rate > 0.6
    assert styled.length_lower > 0  # the judge's taste for length is found...
    assert abs(rows[0].strength - np.mean([rows[i].strength for i in range(1, 6)])) < 0.2
    assert rows[0].rank == 1 and all(rows[i].rank == 1 for i in range(1, 6))  # ...and no lead
    assert rows[0].strength < naive[0].strength - 0.5 and max(others) < naive[0].strength
    assert styled.length_scale > 0


def test_a_two_agent_tie_is_half_a_win_for_each():
    tie = encode([[("a", 1, 100), ("b", 1, 300)]])
    a_wins = encode([[("a", 1, 100), ("b", 2, 300)]])
    b_wins = encode([[("a", 2, 100), ("b", 1, 300)]])
    theta = np.array([0.7, -0.4, 0.3])
    value, grad = negative_log_likelihood(theta, tie)
    (va, ga), (vb, gb) = (negative_log_likelihood(theta, d) for d in (a_wins, b_wins))
    assert value == pytest.approx((va + vb) / 2)
    assert grad == pytest.approx((ga + gb) / 2)


def test_ties_say_the_tied_agents_are_alike_and_count_half_in_the_win_rate():
    # a and b always tie for first, ahead of c; d and e tie among themselves.
    matches = [[("a", 1, 100), ("b", 1, 100), ("c", 3, 100)]] * 30
    matches += [[("d", 1, 100), ("e", 1, 100)]] * 30
    result = fit_standings(matches, rounds=30)
    rows = by_agent(result)
    assert rows["a"].strength == pytest.approx(rows["b"].strength, abs=1e-6)
    assert rows["a"].strength > rows["c"].strength + 2
    assert rows["d"].strength == pytest.approx(rows["e"].strength, abs=1e-6)
    assert rows["a"].win_rate == pytest.approx(0.75)  # beats c, half of the tie with b
    assert rows["c"].win_rate == 0 and rows["d"].win_rate == pytest.approx(0.5)
    assert rows["a"].matches == 30


def test_intervals_shrink_with_more_matches():
    truth = np.linspace(-1, 1, 8)
    widths = []
    for n in (300, 3000):
        result = fit_standings(simulate(truth, n, seed=5), rounds=60, seed=1)
        widths.append(np.mean([row.upper - row.lower for row in result.standings]))
    assert widths[1] < 0.5 * widths[0]  # about 1/sqrt(10) expected


def test_rank_is_one_plus_the_agents_whose_interval_lies_wholly_above():
    lower = [2.0, 0.5, 0.0, -3.0]
    upper = [3.0, 2.5, 1.0, -1.0]
    assert rank_by_interval(lower, upper).tolist() == [1, 1, 2, 4]
    assert rank_by_interval([0.0, 0.0], [1.0, 1.0]).tolist() == [1, 1]
    # The rule holds for a fit's own intervals.
    result = fit_standings(simulate(np.linspace(-2, 2, 10), 800, seed=6), rounds=40)
    for row in result.standings:
        above = sum(other.lower > row.upper for other in result.standings)
        assert row.rank == 1 + above


def test_the_same_seed_gives_the_same_intervals():
    matches = simulate(np.linspace(-1, 1, 5), 300, seed=7)
    one, two = (fit_standings(matches, rounds=20, seed=9) for _ in range(2))
    assert one == two
    other = fit_standings(matches, rounds=20, seed=10)
    assert [r.lower for r in other.standings] != [r.lower for r in one.standings]


def test_the_gradient_and_hessian_are_exact():
    data = encode(simulate(np.linspace(-1, 1, 6), 200, seed=8))
    # A few ties too, at the top and the bottom of longer rankings.
    data_ties = encode(
        [[(0, 1, 10), (1, 1, 500), (2, 3, 40)], [(3, 1, 80), (4, 2, 20), (5, 2, 900), (0, 4, 5)]]
        * 5
    )
    rng = np.random.default_rng(0)
    for d in (data, data_ties):
        theta = rng.normal(0, 0.5, len(d.agents) + 1)
        weights = rng.integers(0, 3, d.matches).astype(float)
        assert (
            check_grad(
                lambda t, d=d, w=weights: negative_log_likelihood(t, d, w)[0],
                lambda t, d=d, w=weights: negative_log_likelihood(t, d, w)[1],
                theta,
            )
            < 1e-4
        )
        numeric = np.array(
            [
                approx_fprime(theta, lambda t, i=i, d=d: negative_log_likelihood(t, d)[1][i], 1e-6)
                for i in range(len(theta))
            ]
        )
        assert np.abs(hessian(theta, d) - numeric).max() < 1e-3
        assert hessian_diagonal(theta, d) == pytest.approx(np.diag(hessian(theta, d)))


def test_many_agents_are_whitened_by_the_diagonal_with_the_same_result(monkeypatch):
    matches = simulate(np.linspace(-1.5, 1.5, 12), 1500, seed=11, length_effect=0.5)
    dense = fit_standings(matches, rounds=30, seed=2)
    monkeypatch.setattr(bradley_terry, "DENSE_HESSIAN_MAX_AGENTS", 0)
    diagonal = fit_standings(matches, rounds=30, seed=2)
    assert diagonal.converged
    for one, two in zip(dense.standings, diagonal.standings, strict=True):
        assert one.agent == two.agent and one.rank == two.rank
        for field in ("strength", "lower", "upper"):
            assert getattr(one, field) == pytest.approx(getattr(two, field), abs=2e-3)
    assert diagonal.length_coef == pytest.approx(dense.length_coef, abs=2e-3)


@pytest.mark.parametrize(
    ("matches", "message"),
    [
        ([], "no matches"),
        ([[("a", 1, 10)]], "a ranking needs two"),
        ([[("a", 1, 10), ("a", 2, 10)]], "appears twice"),
        ([[("a", 0, 10), ("b", 1, 10)]], "rank must be an integer >= 1"),
        ([[("a", 1, -1), ("b", 2, 10)]], "chars must be an integer >= 0"),
        ([[("a", 1), ("b", 2, 10)]], "a seat is (agent, rank, chars)"),
    ],
)
def test_bad_matches_get_a_clear_error(matches, message):
    with pytest.raises(RatingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        fit_standings(matches, rounds=5)


def test_bad_rounds_and_prior_get_a_clear_error():
    matches = [[("a", 1, 10), ("b", 2, 10)]]
    with pytest.raises(RatingError, match="rounds"):
        fit_standings(matches, rounds=0)
    with pytest.raises(RatingError, match="prior"):
        fit_standings(matches, rounds=5, prior=0)
