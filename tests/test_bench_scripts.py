"""The load benches (bench/load_api.py, ws_fanout.py, soak.py) import, and their pure helpers
judge runs the way their reports say: latencies, an event stream's order, memory growth, stuck
matches, verdicts. No server is started here; the benches themselves are run by hand
(bench/README.md)."""

from __future__ import annotations

import importlib
import sys

import pytest
from django.conf import settings

BENCH = settings.BASE_DIR / "bench"


@pytest.fixture(scope="module")
def bench():
    # The benches import their shared module as a sibling (they run as `python bench/x.py`).
    sys.path.insert(0, str(BENCH))
    try:
        yield {name: importlib.import_module(name) for name in ("load_api", "ws_fanout", "soak")}
    finally:
        sys.path.remove(str(BENCH))


def test_latency_summary_takes_exact_quantiles(bench):
    summary = bench["load_api"].latency_summary(list(range(1, 101)))
    assert summary["count"] == 100
    assert summary["p50"] == 50.5
    assert 99.0 <= summary["p99"] <= 100.0
    assert summary["max"] == 100.0
    assert bench["load_api"].latency_summary([])["count"] == 0
    assert bench["load_api"].latency_summary([7.0])["p99"] == 7.0


def test_load_api_counts_5xx_and_dropped_connections_as_failures(bench):
    load_api = bench["load_api"]
    assert [load_api.status_class(c) for c in (200, 201, 400, 429, 500, 503, None, 0)] == [
        "ok",
        "ok",
        "refused",
        "refused",
        "server",
        "server",
        "error",
        "error",
    ]
    assert load_api.verdict(server_errors=0, transport_errors=0, audit_clean=True) == []
    problems = load_api.verdict(server_errors=2, transport_errors=1, audit_clean=False)
    assert len(problems) == 3 and "2 server errors (5xx)" in problems[0]


def test_seq_tracker_finds_gaps_reordering_and_duplicates(bench):
    tracker = bench["ws_fanout"].SeqTracker(expected=6)
    for seq in (0, 1, 3, 2, 2, 5):
        tracker.observe(seq)
    assert tracker.missing == 1  # 4 never came
    assert tracker.out_of_order == 1  # 2 after 3
    assert tracker.duplicates == 1
    assert not tracker.complete
    tracker.observe(4)
    assert tracker.complete and tracker.missing == 0

    in_order = bench["ws_fanout"].SeqTracker(expected=3)
    for seq in range(3):
        in_order.observe(seq)
    totals = bench["ws_fanout"].fanout_totals([tracker, in_order])
    assert totals == {
        "expected": 9,
        "received": 9,
        "missing": 0,
        "out_of_order": 2,  # 2 after 3, and 4 after 5
        "duplicates": 1,
        "clients_with_loss": 0,
    }


def test_the_capacity_settings_module_extends_the_projects_settings(bench):
    text = bench["ws_fanout"].settings_module_text(1000)
    assert text.startswith("from arena.settings import *")
    project = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    before = dict(project)
    namespace: dict = {}
    exec(compile(text, "ws_fanout_settings.py", "exec"), namespace)
    config = namespace["CHANNEL_LAYERS"]["default"]["CONFIG"]
    assert config == {**before, "capacity": 1000}
    assert project == before  # the project's settings are left as they were


def test_a_real_events_identity_is_its_name_and_whole_payload_whatever_the_key_order(bench):
    identity = bench["ws_fanout"].real_event_identity
    one = identity("match.state", {"match": 3, "status": "settled", "payouts": {"2": 7, "10": 3}})
    same = identity("match.state", {"payouts": {"10": 3, "2": 7}, "status": "settled", "match": 3})
    assert one == same
    assert one != identity("match.state", {"match": 3, "status": "judging"})
    assert one != identity("entry.queued", {"match": 3, "status": "settled"})


def test_a_clients_real_events_are_compared_to_the_reference_in_order(bench):
    ws = bench["ws_fanout"]
    reference = ["q1", "q2", "formed", "rolling", "settled"]
    assert ws.diff_against_reference(reference, list(reference)).identical
    lost = ws.diff_against_reference(reference, ["q1", "formed", "rolling", "settled"])
    assert (lost.missing, lost.extra, lost.reordered, lost.prefix) == (1, 0, False, False)
    not_yet = ws.diff_against_reference(reference, reference[:3])
    assert (not_yet.missing, not_yet.reordered, not_yet.prefix) == (2, False, True)
    swapped = ws.diff_against_reference(reference, ["q2", "q1", "formed", "rolling", "settled"])
    assert (swapped.missing, swapped.extra, swapped.reordered) == (0, 0, True)
    doubled = ws.diff_against_reference(reference, [*reference, "settled"])
    assert (doubled.missing, doubled.extra, doubled.reordered) == (0, 1, False)
    assert not doubled.identical
    # Order is judged on what both have: a loss alone is not also a reordering.
    late_and_lost = ws.diff_against_reference(reference, ["q1", "formed", "q2", "settled"])
    assert (late_and_lost.missing, late_and_lost.reordered) == (1, True)

    swapped_first_two = ["q2", "q1", *reference[2:]]
    totals = ws.real_event_totals(reference, [reference, reference[:-1], swapped_first_two])
    assert totals == {
        "reference_events": 5,
        "clients": 3,
        "clients_differing": 2,
        "clients_missing_events": 1,
        "clients_missing_only_the_end": 1,
        "clients_with_extra_events": 0,
        "clients_reordered": 1,
        "missing": 1,
        "extra": 0,
    }


def test_lag_behind_the_reference_pairs_each_event_with_the_references_receipt_of_it(bench):
    lag_behind_ms = bench["ws_fanout"].lag_behind_ms
    reference = (["a", "b", "a", "c"], [10.0, 11.0, 12.0, 13.0])
    # "b" was lost; the second "a" pairs with the reference's second; "x" it never had.
    lags = lag_behind_ms(*reference, ["a", "a", "c", "x"], [10.02, 12.5, 13.1, 14.0])
    assert [round(lag, 3) for lag in lags] == [20.0, 500.0, 100.0]


def test_missing_numbered_events_are_told_apart_lost_in_gaps_or_not_come_at_the_end(bench):
    ws = bench["ws_fanout"]
    gap, tail = ws.SeqTracker(expected=6), ws.SeqTracker(expected=6)
    for seq in (0, 3, 4, 5):
        gap.observe(seq)
    for seq in (0, 1, 2):
        tail.observe(seq)
    assert ws.missing_split([gap, tail]) == {"in_gaps": 2, "at_end": 3}
    assert ws.missing_split([ws.SeqTracker(expected=2)]) == {"in_gaps": 0, "at_end": 2}

    same_gap = ws.SeqTracker(expected=6)
    for seq in (0, 3, 4, 5):
        same_gap.observe(seq)
    whole = ws.SeqTracker(expected=6)
    for seq in range(6):
        whole.observe(seq)
    assert ws.loss_patterns([gap, same_gap, whole]) == 1  # lost before the fan-out
    assert ws.loss_patterns([gap, same_gap, tail, whole]) == 2


def test_the_match_book_knows_which_matches_are_still_in_flight(bench):
    book = bench["ws_fanout"].MatchBook()
    book.observe("entry.queued", {"entry": 1, "agent": 1, "status": "queued"})
    for match, status in ((1, "formed"), (2, "formed"), (1, "rolling_out"), (1, "settled")):
        book.observe("match.state", {"match": match, "status": status, "space": "fanout"})
    assert book.in_flight == {2}
    book.observe("match.state", {"match": 2, "status": "failed"})
    assert book.in_flight == set()
    assert (book.count("settled"), book.count("failed")) == (1, 1)


def test_memory_growth_is_the_second_halfs_trend(bench):
    growth = bench["soak"].growth_over_second_half
    flat_after_warmup = [
        (0, 100.0),
        (30, 300.0),
        (60, 400.0),
        (90, 400.0),
        (120, 401.0),
        (150, 400.0),
    ]
    assert abs(growth(flat_after_warmup)) < 1.0
    leaking = [(t, 400.0 + t) for t in range(0, 600, 30)]  # +1 MB per second
    assert growth(leaking) > 30.0  # 270 MB on 700 over the second half
    assert growth([(0, 10.0), (30, 20.0)]) == 0.0  # too few samples to judge


def test_a_match_is_stuck_only_when_its_status_outlasts_the_limit(bench):
    soak = bench["soak"]
    assert soak.stuck_limit_s(lease_s=900, requeue_after_s=120) == 1140
    watch = soak.StatusWatch(limit_s=100)
    assert watch.update({1: "formed", 2: "judging"}, now=0) == []
    assert watch.update({1: "rolling_out", 2: "judging"}, now=90) == []
    assert watch.update({1: "rolling_out", 2: "judging"}, now=150) == [2]  # 1 moved at 90
    assert watch.update({1: "rolling_out"}, now=185) == []  # 2 ended
    assert watch.update({1: "rolling_out"}, now=195) == [1]  # 105 s since it moved


def test_the_soak_verdict_names_every_problem(bench):
    verdict = bench["soak"].verdict
    ok = verdict(
        stuck=[], settled=3, audit_clean=True, growth={"web": 1.0, "worker": 2.0}, max_growth=10
    )
    assert ok == []
    bad = verdict(
        stuck=[7], settled=0, audit_clean=False, growth={"web": 12.0, "worker": 2.0}, max_growth=10
    )
    assert len(bad) == 4 and any("web RSS grew 12.0%" in p for p in bad)
