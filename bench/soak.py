"""A soak of the embedded mode: ``manage.py serve`` (what ``make run`` runs) with automation on,
for MINUTES, watching the web and worker processes' memory and the matches (issue #11).

1. a fresh ``ARENA_VAR_DIR`` (SQLite, embedded Redis, media of this run only); ``migrate`` and
   ``seed_demo``; then every demo agent is set, through ``agents.services.agent_update``, to
   enter its space by itself (the space its prompt was written for, the standard fee tier);
2. ``manage.py serve --no-seed`` runs daphne and the Celery workers with beat, as ``make run`` does:
   beat's ``arena.auto_enter_agents`` enters the agents every minute, ``arena.matchmake`` and
   the entries form matches, the worker plays, judges and settles them with the inference
   backend (``--backend``, default ``local``: the default model, SmolLM2-135M, as the embedded
   mode serves it);
3. every INTERVAL seconds: the resident memory (RSS) of the web process and of the worker (its
   main process, its pool and beat together), and the matches by status; a match whose status
   has not changed for longer than the reaper's limits (a step's lease, plus the re-queue delay,
   plus two reaper periods) is stuck;
4. at the end serve gets Ctrl-C (SIGINT to its process group), then ``ledger_audit`` runs.

Verdict: pass when no match got stuck, at least one match settled, the audit is clean and the
RSS of web and worker grew less than ``--max-growth`` percent over the second half of the run
(the slope of a least-squares line through those samples, times the half's length, over its
first value): the first half is warm-up (model loads, caches filling), the second must be flat.
``--adapter-cache`` sets ``ARENA_ADAPTER_CACHE_SIZE`` (default 4, under the demo's 11 agents) so
that the local backend's adapter cache evicts during the run and its bound is what is measured.

    .venv/bin/python bench/soak.py [--minutes 30] [--interval 30] [--backend local|scripted]
        [--adapter-cache 4] [--max-growth 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import time
from datetime import datetime

import psutil
from load_common import (
    PYTHON,
    ROOT,
    free_port,
    fresh_var_dir,
    http_ok,
    ledger_audit,
    log,
    manage,
    start,
    stop_embedded_redis,
    wait_until,
    worker_ready,
)

# --- knobs ---------------------------------------------------------------------------------
MINUTES = 30.0
INTERVAL_S = 30.0
MAX_GROWTH_PCT = 10.0
ADAPTER_CACHE = 4
REAPER_PERIOD_S = 60  # beat's arena.reap_stuck_matches (arena/celery.py)
# Which space each demo agent enters (seed_demo wrote their prompts for these spaces).
AUTOMATION = {
    "arithmetic": ("Calculator", "Careful", "Steady"),
    "capitals": ("Atlas", "Traveller", "Rookie"),
    "haiku": ("Poet", "Wild", "Minimalist"),
    "py-functions": ("Coder", "Hacker"),
}
AUTO_MAX_MATCHES = 100_000
AUTO_BUDGET = 1_000_000  # the ledger, not automation, is the limit: a player short of credits
# is refused an entry (logged) and the others go on


# --- pure helpers (tests/test_bench_scripts.py) ----------------------------------------------


def growth_over_second_half(series: list[tuple[float, float]]) -> float:
    """Percent growth of a (seconds, MB) series over its second half: the least-squares slope
    of those samples times the half's length, over the half's first value. Needs 3 samples in
    the half (fewer: 0.0, nothing to judge)."""
    half = series[len(series) // 2 :]
    if len(half) < 3:
        return 0.0
    times = [t for t, _ in half]
    values = [v for _, v in half]
    if times[-1] == times[0] or values[0] <= 0:
        return 0.0
    slope, _ = statistics.linear_regression(times, values)
    return round(100.0 * slope * (times[-1] - times[0]) / values[0], 2)


def stuck_limit_s(*, lease_s: int, requeue_after_s: int) -> int:
    """How long a match's status may stay the same before the reaper must have acted: a step
    may hold its lease this long, a step without one is re-queued after ``requeue_after_s``,
    and the reaper runs every minute (twice, for a sample taken just before a run)."""
    return lease_s + requeue_after_s + 2 * REAPER_PERIOD_S


class StatusWatch:
    """Since when each unfinished match has had its current status."""

    def __init__(self, limit_s: float):
        self.limit_s = limit_s
        self.since: dict[int, tuple[str, float]] = {}

    def update(self, statuses: dict[int, str], now: float) -> list[int]:
        """Record this sample's unfinished matches (id -> status); returns the stuck ones."""
        current = {}
        for match_id, status in statuses.items():
            seen = self.since.get(match_id)
            current[match_id] = seen if seen and seen[0] == status else (status, now)
        self.since = current
        return sorted(m for m, (_, t) in current.items() if now - t > self.limit_s)


def verdict(
    *, stuck: list[int], settled: int, audit_clean: bool, growth: dict[str, float], max_growth
) -> list[str]:
    problems = []
    if stuck:
        problems.append(f"stuck matches {stuck}")
    if not settled:
        problems.append("no match settled")
    if not audit_clean:
        problems.append("ledger_audit is not clean")
    for name, pct in growth.items():
        if pct >= max_growth:
            problems.append(f"{name} RSS grew {pct}% over the second half")
    return problems


# --- processes ----------------------------------------------------------------------------------


def roles(serve: psutil.Process) -> dict[str, list[psutil.Process]]:
    """serve's children by role: ``web`` (daphne) and ``worker`` (celery and all its children:
    the pool processes and the embedded beat)."""
    found: dict[str, list[psutil.Process]] = {"web": [], "worker": []}
    for child in serve.children():
        try:
            cmdline = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "daphne" in cmdline:
            found["web"].append(child)
        elif "celery" in cmdline:
            found["worker"] += [child, *child.children(recursive=True)]
    return found


def up(serve, ready: bool) -> bool:
    """``ready``, or a clear error at once when serve has exited (rather than waiting out the
    start-up timeout on a process that is gone)."""
    if serve.poll() is not None:
        raise RuntimeError(f"manage.py serve exited with {serve.returncode} while starting")
    return ready


def rss_mb(processes: list[psutil.Process]) -> float:
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            pass
    return round(total / 2**20, 1)


# --- the run ----------------------------------------------------------------------------------


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def enable_automation() -> list[str]:
    from agents.models import Agent
    from agents.services import agent_update
    from spaces.models import Space

    enabled = []
    for slug, names in AUTOMATION.items():
        space = Space.objects.filter(slug=slug).first()
        if space is None:
            continue
        tier = space.fee_tiers.filter(name="standard", retired_at__isnull=True).first()
        for agent in Agent.objects.filter(name__in=names).select_related("owner"):
            agent_update(
                agent=agent,
                by=agent.owner,
                auto_enter_space=space,
                auto_fee_tier=tier,
                auto_max_matches=AUTO_MAX_MATCHES,
                auto_budget=AUTO_BUDGET,
            )
            enabled.append(f"{agent.name}->{slug}")
    return enabled


def unfinished_matches() -> dict[int, str]:
    from arena.models import Match

    return dict(Match.objects.exclude(status__in=Match.FINAL).values_list("pk", "status"))


def matches_by_status() -> dict[str, int]:
    from django.db.models import Count

    from arena.models import Match

    rows = Match.objects.values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def run(args) -> int:
    var_dir = fresh_var_dir("h-load-soak")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "DATABASE_NAME", "REDIS_URL", "ETH_RPC_URL")
    }
    env |= {
        "ARENA_VAR_DIR": str(var_dir),
        "ARENA_INFERENCE_BACKEND": args.backend,
        "ARENA_ADAPTER_CACHE_SIZE": str(args.adapter_cache),
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "arena.settings",
    }
    log(f"==> var dir {var_dir}; migrate, seed_demo")
    manage(["migrate", "--verbosity", "0"], env)
    manage(["seed_demo"], env)
    setup_django(env)
    from django.conf import settings
    from django.db import connection

    log("==> automation on: " + ", ".join(enable_automation()))
    connection.close()
    watch = StatusWatch(
        args.stuck_after
        or stuck_limit_s(
            lease_s=settings.ARENA_STEP_LEASE_S, requeue_after_s=settings.ARENA_REQUEUE_AFTER_S
        )
    )

    port, chain_port = free_port(), free_port()
    serve_log = var_dir / "serve.log"
    serve = start(
        [
            PYTHON,
            "manage.py",
            "serve",
            "--no-seed",
            "--port",
            str(port),
            "--chain-port",
            str(chain_port),
        ],
        env,
        serve_log,
    )
    samples: list[dict] = []
    stuck: list[int] = []
    try:
        wait_until(lambda: up(serve, http_ok(f"http://127.0.0.1:{port}/")), 600, "the web server")
        wait_until(lambda: up(serve, worker_ready(serve_log)), 300, "the worker")
        log(f"==> serving on :{port}; soaking for {args.minutes} min")
        serve_process = psutil.Process(serve.pid)
        started = time.monotonic()
        end = started + args.minutes * 60
        while True:
            now = time.monotonic()
            found = roles(serve_process)
            statuses = unfinished_matches()
            connection.close()  # no connection held open between samples
            stuck = sorted(set(stuck) | set(watch.update(statuses, now)))
            sample = {
                "t_s": round(now - started),
                "web_mb": rss_mb(found["web"]),
                "worker_mb": rss_mb(found["worker"]),
                "worker_procs": len(found["worker"]),
                "unfinished": len(statuses),
                "stuck": len(stuck),
            }
            samples.append(sample)
            log("    " + json.dumps(sample))
            if serve.poll() is not None:
                raise RuntimeError(f"serve exited early:\n{serve_log.read_text()[-3000:]}")
            if now >= end:
                break
            time.sleep(min(args.interval, max(end - time.monotonic(), 0)))
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGINT)  # Ctrl-C, as a terminal sends it
            try:
                serve.wait(timeout=90)
            except Exception:  # noqa: BLE001 - still running: kill the whole group
                os.killpg(serve.pid, signal.SIGKILL)
                serve.wait(timeout=10)
        serve.log_handle.close()

    by_status = matches_by_status()
    connection.close()
    audit_clean, audit = ledger_audit(env)
    stop_embedded_redis(var_dir)
    growth = {
        "web": growth_over_second_half([(s["t_s"], s["web_mb"]) for s in samples]),
        "worker": growth_over_second_half([(s["t_s"], s["worker_mb"]) for s in samples]),
    }
    problems = verdict(
        stuck=stuck,
        settled=by_status.get("settled", 0),
        audit_clean=audit_clean,
        growth=growth,
        max_growth=args.max_growth,
    )
    result = {
        "minutes": args.minutes,
        "backend": args.backend,
        "adapter_cache": args.adapter_cache,
        "samples": samples,
        "matches": by_status,
        "stuck": stuck,
        "stuck_limit_s": watch.limit_s,
        "rss_growth_second_half_pct": growth,
        "ledger_audit_clean": audit_clean,
        "verdict": "pass" if not problems else "fail: " + "; ".join(problems),
        "logs": str(var_dir),
        "finished": datetime.now().isoformat(timespec="seconds"),
    }
    if not audit_clean:
        result["ledger_audit"] = audit
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{'t (s)':>6} {'web MB':>8} {'worker MB':>10} {'procs':>6} {'open':>5} {'stuck':>6}")
        for s in samples:
            print(
                f"{s['t_s']:>6} {s['web_mb']:>8} {s['worker_mb']:>10} {s['worker_procs']:>6} "
                f"{s['unfinished']:>5} {s['stuck']:>6}"
            )
        print(f"matches: {by_status}")
        print(f"RSS growth over the second half: {growth} (limit {args.max_growth}%)")
        print(f"stuck (status unchanged > {watch.limit_s} s): {stuck}; audit clean: {audit_clean}")
        print(f"verdict: {result['verdict']} (logs in {var_dir})")
    return 0 if not problems else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=MINUTES)
    parser.add_argument("--interval", type=float, default=INTERVAL_S, help="seconds per sample")
    parser.add_argument("--backend", default="local", choices=["local", "scripted", "openai"])
    parser.add_argument("--adapter-cache", type=int, default=ADAPTER_CACHE)
    parser.add_argument("--max-growth", type=float, default=MAX_GROWTH_PCT, help="percent")
    parser.add_argument(
        "--stuck-after", type=float, default=0, help="seconds (default: the reaper's limits)"
    )
    parser.add_argument("--json", action="store_true")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
