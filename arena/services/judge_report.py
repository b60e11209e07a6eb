"""A space's judge-bias report, read from the verdicts its settled matches stored.

For every judge of the panel (by its position), over every pair of answers of every match:

- ``tie_rate``: pairs the judge left undecided;
- for pairwise judges, from the probabilities of both orders: ``first_position_raw`` (how often
  the answer shown first was preferred), ``first_position_debiased`` (the same net of the
  judge's stored position prior), ``order_flip_rate`` (pairs whose two orders, read raw, chose
  different answers);
- ``length_correlation``: Spearman's rho between the length difference of a pair's answers and
  the judge's preference (does the longer answer win?);
- where the panel has a verifier (reference answers or tests): on pairs with one right and one
  wrong answer, the judge's ``accuracy`` against the verifier with a 95% Wilson interval, beside
  the "longer answer wins" baseline on the same pairs. A judge whose interval does not clear 0.5
  is ``informative: false``: its decisions carry no measured signal.

``agreement`` gives Cohen's kappa for every two judges of the panel over the pairs both judged.
The report lives in arena because it needs the answers (seats) next to the verdicts; judges may
not read arena.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from itertools import combinations
from typing import Any

from scipy.stats import binomtest, spearmanr

from arena.models import Match
from judges.kinds.pairs import order_votes, raw_order_votes, sign
from judges.models import Verdict
from spaces.models import Space

VERIFIER = "verifier"
DEFAULT_MATCH_LIMIT = 2000  # the most recent settled matches read


@dataclass(frozen=True)
class Rate:
    hits: int
    total: int

    @property
    def value(self) -> float | None:
        return self.hits / self.total if self.total else None


@dataclass(frozen=True)
class Accuracy:
    correct: int
    pairs: int
    rate: float | None
    low: float | None  # 95% Wilson interval
    high: float | None


@dataclass
class JudgeReport:
    index: int
    kind: str
    pairs: int = 0
    tie_rate: float | None = None
    first_position_raw: float | None = None
    first_position_debiased: float | None = None
    order_flip_rate: float | None = None
    length_correlation: float | None = None
    accuracy: Accuracy | None = None
    longer_wins_baseline: Accuracy | None = None
    informative: bool | None = None  # None: no verifier-labelled pairs to tell


@dataclass
class Report:
    space: str
    matches: int
    judges: list[JudgeReport]
    agreement: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def accuracy(correct: int, pairs: int) -> Accuracy:
    if not pairs:
        return Accuracy(0, 0, None, None, None)
    interval = binomtest(correct, pairs).proportion_ci(confidence_level=0.95, method="wilson")
    return Accuracy(correct, pairs, correct / pairs, float(interval.low), float(interval.high))


def cohen_kappa(first: list[int], second: list[int]) -> float | None:
    """Cohen's kappa of two raters' labels (written here: scikit-learn is not a dependency, and
    the formula is three lines)."""
    n = len(first)
    if n == 0:
        return None
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / n
    counts_a, counts_b = Counter(first), Counter(second)
    expected = sum(counts_a[k] * counts_b[k] for k in counts_a) / (n * n)
    if expected == 1:
        return 1.0 if observed == 1 else None
    return (observed - expected) / (1 - expected)


def pair_outcomes(data: dict[str, Any], answers: int) -> dict[tuple[int, int], int]:
    """The judge's preference on each pair (a, b), a < b: +1 for a, -1 for b, 0 for a tie; from
    its per-pair records when it kept them, else from its scores."""
    records = (data.get("details") or {}).get("pairs")
    if isinstance(records, list) and records:
        out = {}
        for record in records:
            a, b, winner = record.get("a"), record.get("b"), record.get("winner")
            if isinstance(a, int) and isinstance(b, int):
                key, flip = ((a, b), 1) if a < b else ((b, a), -1)
                out[key] = 0 if winner is None else (1 if winner == a else -1) * flip
        return out
    scores = data.get("scores") or []
    if len(scores) != answers:
        return {}
    return {(a, b): sign(scores[a] - scores[b]) for a, b in combinations(range(answers), 2)}


def _order_reads(
    data: dict[str, Any],
) -> Iterable[tuple[tuple[bool, bool], tuple[bool, bool] | None, bool]]:
    """Per pair a pairwise judge asked: (in each order, the answer shown first won, read raw;
    the same net of the stored prior, or None without one; the two orders chose different
    answers, read raw)."""
    details = data.get("details") or {}
    prior = (details.get("prior") or {}).get("log_odds")
    for record in details.get("pairs") or []:
        raw = raw_order_votes(record)
        if raw is None:
            continue
        # Order 1 shows a first: the first shown won when it voted for a (+1); order 2 shows b
        # first: when it voted for b (-1).
        debiased = order_votes(record, prior) if isinstance(prior, int | float) else None
        yield (
            _first_shown_won(raw),
            _first_shown_won(debiased) if debiased is not None else None,
            raw[0] != raw[1],
        )


def _first_shown_won(votes: tuple[int, int]) -> tuple[bool, bool]:
    return votes[0] == 1, votes[1] == -1


def judge_report(*, space: Space, limit: int = DEFAULT_MATCH_LIMIT) -> Report:
    matches = list(
        Match.objects.filter(space=space, status=Match.Status.SETTLED)
        .order_by("-finished_at")
        .values_list("pk", flat=True)[:limit]
    )
    texts: dict[int, list[str]] = {}
    for match_id, _index, text in (
        Match.objects.filter(pk__in=matches)
        .values_list("pk", "seats__index", "seats__text")
        .order_by("pk", "seats__index")
    ):
        texts.setdefault(match_id, []).append(text or "")
    outcomes: dict[int, dict[tuple[int, int, int], int]] = {}  # judge index -> (match, a, b) -> o
    kinds: dict[int, str] = {}
    raw: dict[int, list[bool]] = {}
    debiased: dict[int, list[bool]] = {}
    flips: dict[int, list[bool]] = {}
    for match_id, kind, data in Verdict.objects.filter(match_id__in=matches).values_list(
        "match_id", "judge_kind", "data"
    ):
        index = int(data.get("index", 0))
        kinds[index] = kind
        answers = len(texts.get(match_id, []))
        for (a, b), outcome in pair_outcomes(data, answers).items():
            outcomes.setdefault(index, {})[(match_id, a, b)] = outcome
        for first_raw, first_debiased, flipped in _order_reads(data):
            raw.setdefault(index, []).extend(first_raw)
            flips.setdefault(index, []).append(flipped)
            if first_debiased is not None:
                debiased.setdefault(index, []).extend(first_debiased)

    labels: dict[tuple[int, int, int], int] = {}  # verifier: one right, one wrong
    for index, kind in kinds.items():
        if kind == VERIFIER:
            for key, outcome in outcomes.get(index, {}).items():
                if outcome != 0:
                    labels.setdefault(key, outcome)

    def lengthsign(key: tuple[int, int, int]) -> int:
        match_id, a, b = key
        return sign(len(texts[match_id][a]) - len(texts[match_id][b]))

    reports = []
    for index in sorted(kinds):
        judged = outcomes.get(index, {})
        report = JudgeReport(index=index, kind=kinds[index], pairs=len(judged))
        if judged:
            report.tie_rate = sum(o == 0 for o in judged.values()) / len(judged)
            lengths = [lengthsign(k) for k in judged]
            rho = spearmanr(lengths, list(judged.values())).statistic
            report.length_correlation = None if math.isnan(rho) else float(rho)
        report.first_position_raw = Rate(sum(raw.get(index, [])), len(raw.get(index, []))).value
        report.first_position_debiased = Rate(
            sum(debiased.get(index, [])), len(debiased.get(index, []))
        ).value
        flip_reads = flips.get(index, [])
        report.order_flip_rate = Rate(sum(flip_reads), len(flip_reads)).value
        if kinds[index] != VERIFIER:
            labelled = [k for k in judged if k in labels]
            report.accuracy = accuracy(sum(judged[k] == labels[k] for k in labelled), len(labelled))
            report.longer_wins_baseline = accuracy(
                sum(lengthsign(k) == labels[k] for k in labelled), len(labelled)
            )
            if report.accuracy.pairs:
                report.informative = bool(report.accuracy.low > 0.5)
        reports.append(report)

    agreement = []
    for first, second in combinations(sorted(kinds), 2):
        shared = sorted(set(outcomes.get(first, {})) & set(outcomes.get(second, {})))
        kappa = cohen_kappa(
            [outcomes[first][k] for k in shared], [outcomes[second][k] for k in shared]
        )
        agreement.append({"judges": [first, second], "pairs": len(shared), "kappa": kappa})
    return Report(space=space.slug, matches=len(matches), judges=reports, agreement=agreement)


def judge_report_summary(space: Space) -> list[tuple[str, str]]:
    """The report in lines for the space's admin page (registered with spaces.hooks)."""
    report = judge_report(space=space, limit=500)
    lines = []
    for judge in report.judges:
        parts = [f"{judge.pairs} pairs", f"ties {_percent(judge.tie_rate)}"]
        if judge.first_position_raw is not None:
            parts.append(
                f"first shown wins {_percent(judge.first_position_raw)} raw, "
                f"{_percent(judge.first_position_debiased)} debiased"
            )
        if judge.accuracy and judge.accuracy.pairs:
            acc = judge.accuracy
            parts.append(
                f"accuracy vs verifier {_percent(acc.rate)} "
                f"[{_percent(acc.low)}, {_percent(acc.high)}]"
                + ("" if judge.informative else ": uninformative")
            )
        lines.append((f"judge {judge.index} ({judge.kind})", "; ".join(parts)))
    return lines


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"
