"""Per-space standings: a Plackett-Luce fit over all of a space's matches, with a length covariate
("style control") and bootstrap confidence intervals. Plain data in, plain data out: the caller
reads the matches (arena) and stores the result (``judges.standings``).

The model. Seat ``i`` of a match has the utility ``u_i = s[agent_i] + beta * x_i``: ``s`` is the
agent's strength (a log-worth: a difference of 1 is odds of e to 1 head to head) and ``x_i`` the
length of its answer, ``log(1 + chars)`` minus the match's mean of it, divided by the spread of
those differences over all matches. A ranking is read best first as a sequence of choices among
the agents not yet placed: P(i first among R) = exp(u_i) / sum_{j in R} exp(u_j). With two agents
this is Bradley-Terry, P(a beats b) = sigmoid(s_a - s_b + beta * (x_a - x_b)).

Ties. A tied group G chosen from R counts as one choice whose worth is the geometric mean of its
members' worths: it adds ``mean_{i in G} u_i - logsumexp_{j in R} u_j`` and then leaves R. This
is Davidson-Luce's tie term (Firth, Kosmidis & Turner, 2019) without its tie-prevalence
parameter. For two agents it is exactly the usual "a tie is half a win for each"
(0.5 log p + 0.5 log(1 - p)), and a tie in a longer ranking says its members are alike without
saying which is better.

Style control. ``beta`` is one coefficient for all agents, so a strength is what is left after
length: an agent that wins only because its answers are longer gets those wins credited to
``beta``, not to itself.

Identifiability. The likelihood does not change when every strength moves by a constant; an L2
prior ``prior / 2 * |s|^2`` (small: a normal prior of standard deviation 10 by default) pins their
mean at 0 and keeps undefeated agents finite. ``beta`` gets the same prior.

Fitting: maximum likelihood with scipy's L-BFGS-B and an analytic gradient; the matches are
grouped by their number of seats into arrays, so the likelihood is numpy over whole groups with
no Python loop over matches. Bootstrap: the matches are resampled with replacement ``rounds``
times; a match drawn k times weighs k in a refit started from the full fit, in coordinates
whitened by the full fit's Hessian (its exact Cholesky factor; its diagonal for very many
agents), where L-BFGS-B's first guess of the curvature is already about right and a refit takes
a handful of evaluations; the interval is the 2.5th to 97.5th percentile of the refits.

Rank by interval: 1 + the number of agents whose lower bound is above this agent's upper bound,
so agents whose intervals overlap share a rank.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.linalg import cholesky, solve_triangular
from scipy.optimize import minimize

from judges.errors import RatingError

DEFAULT_ROUNDS = 200
DEFAULT_PRIOR = 0.01  # L2 precision on strengths and beta: a N(0, 10^2) prior
CONFIDENCE = (2.5, 97.5)  # percentiles of the bootstrap: a 95% interval
# Up to this many agents the refits are whitened by the full Hessian ((n+1)^2 floats: 32 MB at
# 2000); beyond, by its diagonal.
DENSE_HESSIAN_MAX_AGENTS = 2000


@dataclass(frozen=True)
class AgentStanding:
    agent: Hashable
    strength: float
    lower: float
    upper: float
    rank: int
    matches: int
    win_rate: float  # pairwise wins (a tie is half a win) / pairwise comparisons


@dataclass(frozen=True)
class Standings:
    standings: list[AgentStanding]  # by rank, then strength (best first)
    length_coef: float  # beta: log-odds per standard deviation of the log-length difference
    length_lower: float
    length_upper: float
    length_scale: float  # that standard deviation, in log(1 + chars)
    matches: int
    rounds: int
    seed: int
    converged: bool  # the full fit and every bootstrap refit converged


@dataclass(frozen=True)
class _Group:
    """All matches with ``m`` seats, as (m, n) arrays: row k holds every match's k-th best seat,
    so the likelihood is a few vector operations per seat position."""

    agents: np.ndarray  # (m, n) agent indices
    x: np.ndarray  # (m, n) standardised length
    weight: np.ndarray  # (m, n) 1 / size of the seat's tie group
    starts: np.ndarray  # (m, n) 1.0 where a tie group starts (a choice is made), else 0.0
    match: np.ndarray  # (n,) index of each column in the caller's list of matches
    wins: np.ndarray  # (m, n) pairwise wins of each seat in its match, ties half


@dataclass(frozen=True)
class Encoded:
    agents: list  # index -> the caller's agent key
    groups: list[_Group]
    matches: int
    length_scale: float


def encode(matches: Iterable[Sequence[Sequence]]) -> Encoded:
    """Turn matches, each a sequence of ``(agent, rank, chars)`` seats (rank 1 = best, equal
    ranks = a tie, chars = the answer's length), into the arrays the fit works on."""
    index: dict = {}
    by_size: dict[int, list] = {}
    count = 0
    for number, seats in enumerate(matches):
        seats = list(seats)
        if len(seats) < 2:
            raise RatingError(f"match {number} has {len(seats)} seat(s); a ranking needs two")
        rows = []
        for seat in seats:
            try:
                agent, rank, chars = seat
            except (TypeError, ValueError):
                raise RatingError(
                    f"match {number}: a seat is (agent, rank, chars), not {seat!r}"
                ) from None
            if not isinstance(rank, int | np.integer) or isinstance(rank, bool) or rank < 1:
                raise RatingError(f"match {number}: rank must be an integer >= 1, not {rank!r}")
            if not isinstance(chars, int | np.integer) or isinstance(chars, bool) or chars < 0:
                raise RatingError(f"match {number}: chars must be an integer >= 0, not {chars!r}")
            rows.append((index.setdefault(agent, len(index)), int(rank), int(chars)))
        if len({r[0] for r in rows}) != len(rows):
            raise RatingError(f"match {number}: an agent appears twice")
        rows.sort(key=lambda r: r[1])
        by_size.setdefault(len(rows), []).append((number, rows))
        count += 1
    if count == 0:
        raise RatingError("no matches to fit")

    raw = []
    for _m, items in sorted(by_size.items()):
        table = np.array([rows for _, rows in items], dtype=np.int64).transpose(1, 0, 2)
        loglen = np.log1p(table[:, :, 2].astype(float))  # (m, n)
        raw.append((np.array([n for n, _ in items]), table[:, :, 0], table[:, :, 1], loglen))
    # Within-match differences of log length, scaled by their spread over all seats.
    centred = [loglen - loglen.mean(axis=0) for *_, loglen in raw]
    spread = float(np.sqrt(np.mean(np.concatenate([c.ravel() for c in centred]) ** 2)))
    scale = spread if spread > 1e-12 else 0.0
    groups = [
        _group(numbers, agents, ranks, c / scale if scale else np.zeros_like(c))
        for (numbers, agents, ranks, _), c in zip(raw, centred, strict=True)
    ]
    return Encoded(agents=list(index), groups=groups, matches=count, length_scale=scale)


def _group(numbers, agents, ranks, x) -> _Group:
    starts = np.ones(ranks.shape)
    starts[1:] = ranks[1:] != ranks[:-1]
    size = (ranks[:, None, :] == ranks[None, :, :]).sum(axis=1)
    better = (ranks[:, None, :] < ranks[None, :, :]).sum(axis=1)
    return _Group(
        agents=np.ascontiguousarray(agents),
        x=np.ascontiguousarray(x),
        weight=1.0 / size,
        starts=starts,
        match=numbers,
        wins=better + 0.5 * (size - 1),
    )


def negative_log_likelihood(theta, data: Encoded, weights=None, prior: float = DEFAULT_PRIOR):
    """The penalised negative log-likelihood and its gradient. ``theta`` is the strengths
    followed by beta; ``weights`` one weight per match (None: all 1)."""
    return _nll(theta, data, _group_weights(data, weights), prior)


def _group_weights(data: Encoded, weights) -> list | None:
    if weights is None:
        return None
    weights = np.asarray(weights, dtype=float)
    return [weights[g.match] for g in data.groups]


def _nll(theta, data: Encoded, group_weights, prior: float):
    n = len(data.agents)
    s, beta = theta[:n], theta[n]
    total, grad_s, grad_b = 0.0, np.zeros(n), 0.0
    for i, g in enumerate(data.groups):
        u, e, in_play = _utilities(g, s, beta)
        # Each choice (a tie group's start) adds the mean u of its group - log(sum in play);
        # the weights of a group add up to 1.
        ll = (g.weight * u).sum(axis=0) - (g.starts * np.log(in_play)).sum(axis=0)
        # d/du_k: its own weight, minus its chance of being chosen in every choice made while
        # it was in play.
        du = g.weight - e * _cumulative(g.starts / in_play)
        if group_weights is not None:
            ll = ll * group_weights[i]
            du *= group_weights[i]
        total += float(ll.sum())
        grad_s += np.bincount(g.agents.ravel(), du.ravel(), minlength=n)
        grad_b += float((du * g.x).sum())
    value = -total + 0.5 * prior * float(theta @ theta)
    grad = -np.append(grad_s, grad_b) + prior * theta
    return value, grad


def _utilities(g: _Group, s, beta):
    """Seat utilities shifted per match (which changes nothing but keeps exp in range), their
    exp, and for each seat the sum of exp over it and the seats after it (still in play)."""
    u = s[g.agents] + beta * g.x
    u -= u.max(axis=0)
    e = np.exp(u)
    in_play = _cumulative(e, reverse=True)
    np.maximum(in_play, 1e-300, out=in_play)
    return u, e, in_play


def _cumulative(a, reverse: bool = False):
    """Running sums over seat positions (axis 0, a handful), one vector add per position:
    several times faster than ``np.cumsum`` along a short first axis."""
    out = a.copy()
    steps = range(len(a) - 2, -1, -1) if reverse else range(1, len(a))
    for k in steps:
        out[k] += out[k + 1] if reverse else out[k - 1]
    return out


def _chances(g: _Group, s, beta) -> np.ndarray:
    """[t, k, n]: the chance that seat k is chosen at choice t (zero unless t starts a tie group
    and k is still in play then)."""
    _, e, in_play = _utilities(g, s, beta)
    m = g.agents.shape[0]
    after = np.triu(np.ones((m, m)))[:, :, None]
    return (g.starts / in_play)[:, None, :] * e[None, :, :] * after


def hessian(theta, data: Encoded, prior: float = DEFAULT_PRIOR) -> np.ndarray:
    """The exact Hessian of the (unweighted) penalised negative log-likelihood: for each choice
    with chances p over the seats in play, diag(p) - p p^T, carried to strengths and beta."""
    n = len(data.agents)
    size = n + 1
    s, beta = theta[:n], theta[n]
    flat = np.zeros(size * size)
    cross = np.zeros(n)
    beta_beta = 0.0
    for g in data.groups:
        chance = _chances(g, s, beta)
        own = chance.sum(axis=0)  # (k, n)
        pair = np.einsum("tkn,tln->kln", chance, chance)  # (k, l, n)
        a, x = g.agents, g.x
        # strengths x strengths
        flat += np.bincount((a * size + a).ravel(), own.ravel(), minlength=size * size)
        pairs = (a[:, None, :] * size + a[None, :, :]).ravel()
        flat -= np.bincount(pairs, pair.ravel(), minlength=size * size)
        # strengths x beta, and beta x beta
        cross += np.bincount(
            a.ravel(), (own * x - np.einsum("kln,ln->kn", pair, x)).ravel(), minlength=n
        )
        beta_beta += float((own * x * x).sum() - np.einsum("kn,kln,ln->", x, pair, x))
    h = flat.reshape(size, size)
    h[:n, n] += cross
    h[n, :n] += cross
    h[n, n] += beta_beta
    h[np.diag_indices(size)] += prior
    return h


def hessian_diagonal(theta, data: Encoded, prior: float = DEFAULT_PRIOR) -> np.ndarray:
    """The diagonal of ``hessian``, without building the matrix."""
    n = len(data.agents)
    s, beta = theta[:n], theta[n]
    diagonal = np.full(n + 1, prior)
    for g in data.groups:
        chance = _chances(g, s, beta)
        own = chance.sum(axis=0)
        diagonal[:n] += np.bincount(
            g.agents.ravel(), (own - (chance**2).sum(axis=0)).ravel(), minlength=n
        )
        spread = (chance * g.x[None, :, :]).sum(axis=1)  # [t, n]: sum_k p_tk x_k
        diagonal[n] += float((own * g.x * g.x).sum() - (spread**2).sum())
    return diagonal


class _Whitening:
    """Coordinates z with theta = origin + W z, where W^T H W is about the identity near the
    full fit: W = L^-T from the Cholesky factor of the Hessian H = L L^T, or, for more than
    ``DENSE_HESSIAN_MAX_AGENTS`` agents (where the matrix would not fit in memory), W =
    diag(H)^-1/2."""

    def __init__(self, theta, data: Encoded, prior: float):
        if len(data.agents) <= DENSE_HESSIAN_MAX_AGENTS:
            self.chol, self.scale = cholesky(hessian(theta, data, prior), lower=True), None
        else:
            self.chol, self.scale = None, 1.0 / np.sqrt(hessian_diagonal(theta, data, prior))

    def theta(self, origin, z):
        if self.chol is None:
            return origin + self.scale * z
        return origin + solve_triangular(self.chol, z, lower=True, trans="T")

    def gradient(self, grad):
        """The gradient in z: W^T grad."""
        if self.chol is None:
            return self.scale * grad
        return solve_triangular(self.chol, grad, lower=True)


def _cold_fit(data: Encoded, prior: float):
    """From all strengths 0: L-BFGS-B on the mean per match (so its tolerances do not depend on
    how many matches there are)."""
    n = len(data.agents)

    def mean(theta):
        value, grad = _nll(theta, data, None, prior)
        return value / data.matches, grad / data.matches

    return minimize(mean, np.zeros(n + 1), jac=True, method="L-BFGS-B", options={"maxiter": 2000})


def _whitened_fit(data: Encoded, group_weights, start, whitening: _Whitening, prior: float):
    """L-BFGS-B from ``start`` in whitened coordinates: a refit near the full fit then needs a
    handful of steps, and the tolerance reads in standard errors (1e-3 of one)."""

    def whitened(z):
        value, grad = _nll(whitening.theta(start, z), data, group_weights, prior)
        return value, whitening.gradient(grad)

    result = minimize(
        whitened,
        np.zeros(len(start)),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 1000, "gtol": 1e-3, "ftol": 1e-15},
    )
    theta = whitening.theta(start, result.x)
    # The likelihood is flat along a shift of all strengths, where only the prior curves (and
    # the diagonal whitening does not see it): the optimum along it is mean strength 0.
    theta[:-1] -= theta[:-1].mean()
    return theta, bool(result.success)


def rank_by_interval(lower, upper) -> np.ndarray:
    """1 + the number of agents whose lower bound is above this one's upper bound."""
    lower = np.sort(np.asarray(lower, dtype=float))
    upper = np.asarray(upper, dtype=float)
    return 1 + len(lower) - np.searchsorted(lower, upper, side="right")


def _without_length(data: Encoded) -> Encoded:
    groups = [replace(g, x=np.zeros_like(g.x)) for g in data.groups]
    return replace(data, groups=groups)


def fit_standings(
    matches: Iterable[Sequence[Sequence]] | Encoded,
    *,
    rounds: int = DEFAULT_ROUNDS,
    seed: int = 0,
    prior: float = DEFAULT_PRIOR,
    style_control: bool = True,
) -> Standings:
    """Fit strengths to ``matches`` (see ``encode``) with bootstrap intervals over ``rounds``
    resamples (``seed`` makes them reproducible). ``style_control=False`` fixes beta at 0."""
    if not isinstance(rounds, int) or isinstance(rounds, bool) or rounds < 1:
        raise RatingError(f"rounds must be an integer >= 1, not {rounds!r}")
    if not prior > 0:
        raise RatingError(f"the prior must be positive, not {prior!r}")
    data = matches if isinstance(matches, Encoded) else encode(matches)
    if not style_control:
        data = _without_length(data)  # beta's gradient is then prior * beta: it stays 0
    n = len(data.agents)
    cold = _cold_fit(data, prior)
    whitening = _Whitening(cold.x, data, prior)
    theta, converged = _whitened_fit(data, None, cold.x, whitening, prior)

    rng = np.random.default_rng(seed)
    samples = np.empty((rounds, n + 1))
    for r in range(rounds):
        drawn = np.bincount(rng.integers(0, data.matches, data.matches), minlength=data.matches)
        weights = _group_weights(data, drawn)
        samples[r], ok = _whitened_fit(data, weights, theta, whitening, prior)
        converged = converged and ok
    lower, upper = np.percentile(samples, CONFIDENCE, axis=0)
    ranks = rank_by_interval(lower[:n], upper[:n])
    played, win_rate = _records(data)

    order = sorted(range(n), key=lambda i: (ranks[i], -theta[i], str(data.agents[i])))
    return Standings(
        standings=[
            AgentStanding(
                agent=data.agents[i],
                strength=float(theta[i]),
                lower=float(lower[i]),
                upper=float(upper[i]),
                rank=int(ranks[i]),
                matches=int(played[i]),
                win_rate=float(win_rate[i]),
            )
            for i in order
        ],
        length_coef=float(theta[n]),
        length_lower=float(lower[n]),
        length_upper=float(upper[n]),
        length_scale=data.length_scale,
        matches=data.matches,
        rounds=rounds,
        seed=seed,
        converged=converged,
    )


def _records(data: Encoded):
    """Matches played and pairwise win rate (a tie is half a win) of every agent."""
    n = len(data.agents)
    played = np.zeros(n, dtype=np.int64)
    wins = np.zeros(n)
    for g in data.groups:
        flat = g.agents.ravel()
        played += np.bincount(flat, minlength=n)
        wins += np.bincount(flat, g.wins.ravel(), minlength=n)
    comparisons = np.zeros(n)
    for g in data.groups:
        comparisons += np.bincount(g.agents.ravel(), minlength=n) * (g.agents.shape[0] - 1)
    return played, wins / comparisons
