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
