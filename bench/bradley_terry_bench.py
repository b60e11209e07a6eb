"""Benchmark: the standings fit (``judges.bradley_terry``) against a plain per-round scipy fit.

Synthetic matches with known truth: ``--agents`` agents with strengths drawn from N(0, 1), each
match 2 to 4 of them (``--min-seats``/``--max-seats``), answer lengths log-normal and either
unrelated to anything or longer for stronger agents (``--lengths strength``), outcomes drawn from
the model itself (utility = strength + ``--length-effect`` * standardised log length + Gumbel
noise; seats whose utilities are within ``--tie-margin`` of the next tie).

1. **ours**: ``fit_standings`` as the server runs it (encoding included): a vectorised
   likelihood, the full fit, then ``--rounds`` bootstrap refits warm-started from it in
   coordinates whitened by its Hessian.
2. **baseline**: the same model and optimiser (scipy's L-BFGS-B with an analytic gradient) as a
   plain implementation would write it: a Python loop over matches in the likelihood, and every
   bootstrap round a fresh fit from zero on a resampled list of matches. It is timed on the
   full fit plus ``--baseline-rounds`` rounds and extrapolated linearly to ``--rounds`` (every
   round does the same work on the same number of matches). Its full fit is compared with ours.

Recovery: Spearman's rho between fitted and true strengths, how many agents' 95% intervals hold
their true (centred) strength, and the length coefficient against the true one.

    python bench/bradley_terry_bench.py [--matches 100000] [--agents 200] [--rounds 200]
        [--baseline-rounds 3] [--lengths random|strength] [--length-effect 0] [--tie-margin 0]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from judges.bradley_terry import DEFAULT_PRIOR, fit_standings  # noqa: E402


def synthesize(args, rng):
    """Matches as lists of (agent, rank, chars) seats, the true strengths, and the standardised
    length of every seat (as the fit computes it) for the baseline."""
    strengths = rng.normal(0.0, 1.0, args.agents)
    sizes = rng.integers(args.min_seats, args.max_seats + 1, args.matches)
    blocks = []
    for m in np.unique(sizes):
        where = np.flatnonzero(sizes == m)
        seats = rng.integers(args.agents, size=(len(where), m))
        while True:  # redraw the matches that seat an agent twice
            ordered = np.sort(seats, axis=1)
            twice = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
            if not twice.any():
                break
            seats[twice] = rng.integers(args.agents, size=(int(twice.sum()), m))
        loglen = 6.0 + 0.5 * rng.normal(size=seats.shape)
        if args.lengths == "strength":
            loglen += 0.5 * strengths[seats]
        chars = np.maximum(np.rint(np.expm1(loglen)), 1).astype(np.int64)
        blocks.append((where, seats, chars))
    # The covariate as the fit defines it: log(1 + chars) minus the match's mean, over its spread.
    centred = [np.log1p(c) - np.log1p(c).mean(axis=1, keepdims=True) for _, _, c in blocks]
    spread = float(np.sqrt(np.mean(np.concatenate([c.ravel() for c in centred]) ** 2)))
    matches: list = [None] * args.matches
    xs: list = [None] * args.matches
    for (where, seats, chars), c in zip(blocks, centred, strict=True):
        x = c / spread
        utility = strengths[seats] + args.length_effect * x + rng.gumbel(size=seats.shape)
        order = np.argsort(-utility, axis=1)
        ranked = np.take_along_axis(utility, order, axis=1)
        # Competition ranks (1, 1, 3): a seat within the margin of the one above ties with it.
        new_group = np.ones(ranked.shape, dtype=bool)
        new_group[:, 1:] = (ranked[:, :-1] - ranked[:, 1:]) >= args.tie_margin
        position = np.arange(1, seats.shape[1] + 1)
        group_rank = np.maximum.accumulate(np.where(new_group, position, 0), axis=1)
        ranks = np.empty_like(group_rank)
        np.put_along_axis(ranks, order, group_rank, axis=1)
        for i, a, r, ch, xx in zip(
            where.tolist(), seats.tolist(), ranks.tolist(), chars.tolist(), x.tolist(), strict=True
        ):
            matches[i] = list(zip(a, r, ch, strict=True))
            xs[i] = xx
    return matches, xs, strengths


# --- the baseline: the same model, a Python loop per match, a cold fit every round ----------------


def loop_prepare(matches, xs):
    """Each match as its agents and lengths, best first, and its tie groups as (first, end,
    1 / size) position ranges."""
    prepared = []
    for seats, xx in zip(matches, xs, strict=True):
        ordered = sorted(zip(seats, xx, strict=True), key=lambda seat: seat[0][1])
        ranks = [seat[1] for seat, _ in ordered]
        groups, k = [], 0
        while k < len(ranks):
            j = k + 1
            while j < len(ranks) and ranks[j] == ranks[k]:
                j += 1
            groups.append((k, j, 1.0 / (j - k)))
            k = j
        prepared.append(([seat[0] for seat, _ in ordered], [x for _, x in ordered], groups))
    return prepared


def loop_nll(theta, prepared, n, prior):
    s = theta.tolist()
    beta = s[n]
    grad = [0.0] * (n + 1)
    total = 0.0
    exp, log = math.exp, math.log
    for agents, x, groups in prepared:
        u = [s[a] + beta * xi for a, xi in zip(agents, x, strict=True)]
        top = max(u)
        e = [exp(v - top) for v in u]
        in_play = e[:]
        for k in range(len(e) - 2, -1, -1):
            in_play[k] += in_play[k + 1]
        chances = 0.0
        for first, end, weight in groups:
            total += weight * sum(u[first:end]) - log(in_play[first]) - top
            chances += 1.0 / in_play[first]
            for i in range(first, end):
                du = weight - e[i] * chances
                grad[agents[i]] -= du
                grad[n] -= du * x[i]
    count = len(prepared)
    value = (-total + 0.5 * prior * float(theta @ theta)) / count
    gradient = (np.array(grad) + prior * theta) / count
    return value, gradient


def loop_fit(prepared, n, prior):
    result = minimize(
        loop_nll,
        np.zeros(n + 1),
        args=(prepared, n, prior),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 2000},
    )
    return result.x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--matches", type=int, default=100_000)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--min-seats", type=int, default=2)
    parser.add_argument("--max-seats", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument(
        "--baseline-rounds", type=int, default=3, help="bootstrap rounds of the baseline to time"
    )
    parser.add_argument("--lengths", choices=["random", "strength"], default="random")
    parser.add_argument("--length-effect", type=float, default=0.0)
    parser.add_argument("--tie-margin", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not 2 <= args.min_seats <= args.max_seats <= args.agents:
        parser.error("need 2 <= --min-seats <= --max-seats <= --agents")
    if args.rounds < 1 or args.baseline_rounds < 0 or args.matches < 1:
        parser.error("need --rounds >= 1, --baseline-rounds >= 0 and --matches >= 1")

    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    matches, xs, truth = synthesize(args, rng)
    synth_s = time.perf_counter() - started

    started = time.perf_counter()
    fitted = fit_standings(matches, rounds=args.rounds, seed=args.seed)
    ours_s = time.perf_counter() - started

    rows = {row.agent: row for row in fitted.standings}
    agents = sorted(rows)
    strength = np.array([rows[a].strength for a in agents])
    lower = np.array([rows[a].lower for a in agents])
    upper = np.array([rows[a].upper for a in agents])
    centred = truth[agents] - truth[agents].mean()

    # The baseline, on the same matches: its full fit, then resampled rounds from zero.
    n = args.agents
    started = time.perf_counter()
    prepared = loop_prepare(matches, xs)
    baseline_full = loop_fit(prepared, n, DEFAULT_PRIOR)
    baseline_full_s = time.perf_counter() - started
    round_times = []
    for _ in range(args.baseline_rounds):
        started = time.perf_counter()
        drawn = rng.integers(0, len(prepared), len(prepared))
        loop_fit([prepared[i] for i in drawn], n, DEFAULT_PRIOR)
        round_times.append(time.perf_counter() - started)
    # Without timed rounds, the full fit stands for one: the same cold fit on as many matches.
    per_round = float(np.mean(round_times)) if round_times else baseline_full_s
    baseline_s = baseline_full_s + args.rounds * per_round
    agreement = float(np.abs(baseline_full[agents] - strength).max())

    print(
        json.dumps(
            {
                "bench": "bradley_terry",
                "matches": args.matches,
                "agents": args.agents,
                "seats": [args.min_seats, args.max_seats],
                "rounds": args.rounds,
                "lengths": args.lengths,
                "length_effect": args.length_effect,
                "tie_margin": args.tie_margin,
                "seconds": round(ours_s, 2),
                "seconds_per_round": round(ours_s / args.rounds, 4),
                "baseline": {
                    "full_fit_s": round(baseline_full_s, 2),
                    "rounds_timed": args.baseline_rounds,
                    "seconds_per_round": round(per_round, 2),
                    "round_s_min_max": [round(min(round_times), 2), round(max(round_times), 2)]
                    if round_times
                    else None,
                    "extrapolated_s": round(baseline_s, 1),
                    "how": "Python-loop likelihood, analytic gradient, L-BFGS-B from zero each "
                    "round on a resampled list; full fit + rounds_timed rounds timed, "
                    "extrapolated linearly to rounds",
                },
                "speedup": round(baseline_s / ours_s, 1),
                "baseline_max_abs_diff": round(agreement, 5),
                "recovery": {
                    "spearman": round(float(spearmanr(strength, truth[agents]).statistic), 4),
                    "coverage": round(float(np.mean((lower <= centred) & (centred <= upper))), 3),
                    "mean_interval_width": round(float(np.mean(upper - lower)), 4),
                    "rmse": round(float(np.sqrt(np.mean((strength - centred) ** 2))), 4),
                    "length_coef": round(fitted.length_coef, 4),
                    "length_interval": [
                        round(fitted.length_lower, 4),
                        round(fitted.length_upper, 4),
                    ],
                },
                "converged": fitted.converged,
                "synthesis_s": round(synth_s, 2),
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "numpy": np.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
