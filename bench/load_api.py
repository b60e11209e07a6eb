"""What the web tier holds: 50 concurrent players on the REST API while a real worker plays the
matches they form (issue #11, "Load the server holds").

One run, against 127.0.0.1 only:

1. a fresh database (PostgreSQL ``arena_load``, or with ``--sqlite`` the embedded SQLite) and
   Redis (``--redis-url``, db 13 by default; with ``--sqlite`` the embedded one), migrated;
2. through the project's services: a creator, an open space ``load`` (verifier-judged, 2 agents
   a match, a 10-credit tier), and PLAYERS players, each with an API token, a grant of credits
   and one agent on the default base model;
3. the real processes, as ``manage.py serve`` starts them: daphne (the ASGI app) and one Celery
   worker with beat, the inference backend ``scripted`` (every match is rolled out, judged and
   settled for real, only the model's text is scripted);
4. locust, headless, as a library: PLAYERS users for SECONDS after they have all spawned, each
   entering its agent, leaving the queue or reading the match it landed in, reading the
   leaderboard, the space's recent matches and a match, and its own entries;
5. after a drain (in-flight matches end), ``ledger_audit``.

It prints requests per second, p50/p99 latency (all requests and per endpoint), failures, the
count of 5xx answers and the audit, and exits 1 on any 5xx or an unclean audit.

    .venv/bin/python bench/load_api.py [--players 50] [--seconds 60] [--sqlite] [--json]

The server runs with ``DEBUG=false`` (as in production) and the entry rate limit raised: this
measures the server's capacity, not the limiter (``ARENA_RATE_ENTRY_PER_MIN``, 60 by default,
would answer 429 to a player entering more than once a second).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

from load_common import (
    ROOT,
    daphne_cmd,
    free_port,
    fresh_var_dir,
    http_ok,
    latency_summary,
    ledger_audit,
    log,
    manage,
    recreate_postgres_database,
    run_phase,
    start,
    stop,
    stop_embedded_redis,
    wait_until,
    worker_cmd,
    worker_ready,
)

# --- knobs ---------------------------------------------------------------------------------
PLAYERS = 50
SECONDS = 60
SPAWN_RATE = 10  # users started per second
DRAIN_SECONDS = 90  # after the load: how long in-flight matches may take to end
SPACE = "load"
TIER = "standard"
FEE = 10
GRANT = 100_000  # credits per player: nobody runs short in a run
PG_URL = "postgres://postgres@127.0.0.1:5432"
PG_DB = "arena_load"
REDIS_URL = "redis://127.0.0.1:6379/13"
# Task weights of a player: entering/leaving, and the reads.
WEIGHTS = {"enter_or_leave": 3, "leaderboard": 3, "space_matches": 2, "own_entries": 1}


# --- pure helpers (tests/test_bench_scripts.py) ----------------------------------------------


def status_class(code: int | None) -> str:
    """How a response counts: ``server`` (5xx, the run fails), ``refused`` (a 4xx the flow
    expects: the entry was matched before the leave came), ``ok``, or ``error`` (no response:
    connection refused or reset, also a failure)."""
    if not code:
        return "error"
    if code >= 500:
        return "server"
    if code >= 400:
        return "refused"
    return "ok"


def verdict(*, server_errors: int, transport_errors: int, audit_clean: bool) -> list[str]:
    """Why the run fails (empty: it passes)."""
    problems = []
    if server_errors:
        problems.append(f"{server_errors} server errors (5xx)")
    if transport_errors:
        problems.append(f"{transport_errors} requests without a response")
    if not audit_clean:
        problems.append("ledger_audit is not clean")
    return problems


# --- phase: setup (a child process with Django) ------------------------------------------------


def setup_phase(players: int) -> dict:
    """Creator, space, players with tokens, credits and agents, through the services. Runs in
    a child process (``--phase setup``) configured by the environment the run gives it."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from load_fixtures import bench_player, open_bench_space
    from rest_framework.authtoken.models import Token

    open_bench_space(slug=SPACE, title="Load", creator_name="load-creator", tier=TIER, fee=FEE)
    rows = []
    for index in range(players):
        user, agent = bench_player(prefix="load", index=index, grant=GRANT)
        token, _ = Token.objects.get_or_create(user=user)
        rows.append({"username": user.username, "token": token.key, "agent": agent.pk})
    return {"space": SPACE, "tier": TIER, "players": rows}


def report_phase() -> dict:
    """Matches and entries by status (a child process with Django, like setup)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db.models import Count

    from arena.models import Entry, Match

    def by_status(model) -> dict[str, int]:
        rows = model.objects.values("status").annotate(n=Count("id"))
        return {row["status"]: row["n"] for row in rows}

    matches = by_status(Match)
    in_flight = sum(n for status, n in matches.items() if status not in Match.FINAL)
    return {"matches": matches, "entries": by_status(Entry), "in_flight": in_flight}


# --- phase: locust (a child process: locust's gevent patches the whole interpreter) ----------


def locust_phase(*, host: str, players: list[dict], users: int, seconds: float) -> dict:
    # Imported here, not at the top: importing locust monkey-patches the interpreter for
    # gevent, which only this phase's process may have (the tests import this module).
    import gevent
    from locust import HttpUser, between, task
    from locust.env import Environment

    seats = itertools.cycle(players)
    codes: Counter[str] = Counter()
    latencies: dict[str, list[float]] = {}
    measuring = {"on": False}

    class Player(HttpUser):
        wait_time = between(0.5, 1.5)

        def on_start(self) -> None:
            self.me = next(seats)
            self.client.headers["Authorization"] = f"Token {self.me['token']}"
            self.entry_id: int | None = None

        @task(WEIGHTS["enter_or_leave"])
        def enter_or_leave(self) -> None:
            if self.entry_id is None:
                body = {
                    "agent": self.me["agent"],
                    "space": SPACE,
                    "fee_tier": TIER,
                    "key": f"load:{uuid.uuid4().hex}",
                }
                with self.client.post(
                    "/api/v1/entries/", json=body, name="enter", catch_response=True
                ) as response:
                    if response.status_code == 400:
                        response.success()  # e.g. still waiting from a lost earlier answer
                        return
                    if response.status_code == 201:
                        entry = response.json()
                        if entry["status"] == "queued":
                            self.entry_id = entry["id"]
                        elif entry["match"]:
                            self.client.get(
                                f"/api/v1/matches/{entry['match']}/", name="match detail"
                            )
            else:
                entry_id, self.entry_id = self.entry_id, None
                with self.client.post(
                    f"/api/v1/entries/{entry_id}/leave/", name="leave", catch_response=True
                ) as response:
                    if response.status_code == 400:
                        response.success()  # matched since it was queued: it cannot leave

        @task(WEIGHTS["leaderboard"])
        def leaderboard(self) -> None:
            self.client.get(f"/api/v1/spaces/{SPACE}/leaderboard/", name="leaderboard")

        @task(WEIGHTS["space_matches"])
        def space_matches(self) -> None:
            response = self.client.get(f"/api/v1/spaces/{SPACE}/matches/", name="space matches")
            if response.status_code == 200 and response.json():
                match = response.json()[0]
                self.client.get(f"/api/v1/matches/{match['id']}/", name="match detail")

        @task(WEIGHTS["own_entries"])
        def own_entries(self) -> None:
            self.client.get("/api/v1/entries/", name="own entries")

    environment = Environment(user_classes=[Player], host=host)

    def on_request(name, response_time, response=None, exception=None, **_kw) -> None:
        if not measuring["on"]:
            return
        code = getattr(response, "status_code", None) if response is not None else None
        codes[status_class(code)] += 1
        if code:
            codes[str(code)] += 1
        latencies.setdefault(name, []).append(response_time)

    environment.events.request.add_listener(on_request)
    runner = environment.create_local_runner()
    runner.start(users, spawn_rate=SPAWN_RATE)
    deadline = time.monotonic() + users / SPAWN_RATE + 30
    while runner.user_count < users and time.monotonic() < deadline:
        gevent.sleep(0.2)
    environment.stats.reset_all()
    measuring["on"] = True
    started = time.monotonic()
    gevent.sleep(seconds)
    measuring["on"] = False
    elapsed = time.monotonic() - started
    runner.quit()

    every = [ms for values in latencies.values() for ms in values]
    endpoints = {
        name: {**latency_summary(values), "rps": round(len(values) / elapsed, 1)}
        for name, values in sorted(latencies.items())
    }
    return {
        "users": runner.user_count or users,
        "seconds": round(elapsed, 1),
        "requests": len(every),
        "rps": round(len(every) / elapsed, 1),
        "latency_ms": latency_summary(every),
        "endpoints": endpoints,
        "codes": dict(codes),
        "failures": environment.stats.total.num_failures,
    }


# --- the run (this process: no Django, no gevent) --------------------------------------------


def prepare_services(args, var_dir: Path) -> dict[str, str]:
    """The environment of every child: this run's database, Redis and var dir."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "DATABASE_NAME", "REDIS_URL", "ETH_RPC_URL")
    }
    env |= {
        "ARENA_VAR_DIR": str(var_dir),
        "ARENA_INFERENCE_BACKEND": "scripted",
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "arena.settings",
        "DEBUG": "true" if args.debug else "false",
        "SECRET_KEY": secrets.token_hex(32),
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "ARENA_RATE_ENTRY_PER_MIN": "100000",
        "LOG_LEVEL": "WARNING",
    }
    if not args.sqlite:
        env["DATABASE_URL"] = recreate_postgres_database(args.pg_url, args.pg_db)
    if args.redis_url:
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()  # this bench's own db: stale tasks out
        env["REDIS_URL"] = args.redis_url
    return env


def run(args) -> int:
    var_dir = fresh_var_dir("h-load-api")
    env = prepare_services(args, var_dir)
    log(f"==> var dir {var_dir}; database {env.get('DATABASE_URL', 'embedded SQLite')}")
    manage(["migrate", "--verbosity", "0"], env)
    started = time.monotonic()
    setup = run_phase(Path(__file__), ["--phase", "setup", "--players", str(args.players)], env)
    log(f"==> {len(setup['players'])} players ready in {time.monotonic() - started:.0f} s")

    port = free_port()
    web_log, worker_log = var_dir / "web.log", var_dir / "worker.log"
    web = start(daphne_cmd(port), env, web_log)
    worker = start(worker_cmd(var_dir / "celerybeat-schedule"), env, worker_log)
    host = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_ok(f"{host}/api/v1/spaces/{SPACE}/leaderboard/"), 120, "web")
        wait_until(lambda: worker_ready(worker_log), 180, "the worker")
        players_file = var_dir / "players.json"
        players_file.write_text(json.dumps(setup["players"]))
        log(f"==> {args.players} users for {args.seconds} s against {host}")
        load = run_phase(
            Path(__file__),
            [
                "--phase",
                "locust",
                "--host",
                host,
                "--players-file",
                str(players_file),
                "--players",
                str(args.players),
                "--seconds",
                str(args.seconds),
            ],
            env,
            timeout=args.seconds + 600,
        )
        log(f"==> draining: in-flight matches may take {args.drain} s")
        drained_by = time.monotonic() + args.drain
        state = run_phase(Path(__file__), ["--phase", "report"], env)
        while state["in_flight"] and time.monotonic() < drained_by:
            time.sleep(5)
            state = run_phase(Path(__file__), ["--phase", "report"], env)
    finally:
        stop(worker)
        stop(web)
    audit_clean, audit = ledger_audit(env)
    stop_embedded_redis(var_dir)  # started by the first manage.py of the run (no-op with a URL)
    server_errors = load["codes"].get("server", 0)
    transport_errors = load["codes"].get("error", 0)
    problems = verdict(
        server_errors=server_errors, transport_errors=transport_errors, audit_clean=audit_clean
    )
    result = {
        "database": "sqlite" if args.sqlite else "postgresql",
        "load": load,
        "after_drain": state,
        "server_errors": server_errors,
        "ledger_audit_clean": audit_clean,
        "verdict": "pass" if not problems else "fail: " + "; ".join(problems),
        "logs": str(var_dir),
    }
    if not audit_clean:
        result["ledger_audit"] = audit
    print_result(result, as_json=args.json)
    return 0 if not problems else 1


def print_result(result: dict, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
        return
    load = result["load"]
    lat = load["latency_ms"]
    print(f"database {result['database']}, {load['users']} users, {load['seconds']} s measured")
    print(
        f"all requests: {load['requests']} = {load['rps']} req/s, p50 {lat['p50']} ms, "
        f"p99 {lat['p99']} ms, max {lat['max']} ms"
    )
    print(f"{'endpoint':<16} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, row in load["endpoints"].items():
        print(f"{name:<16} {row['rps']:>7} {row['p50']:>8} {row['p99']:>8} {row['max']:>8}")
    print(f"status codes: {load['codes']}; locust failures: {load['failures']}")
    print(f"after drain: {result['after_drain']}")
    print(f"5xx: {result['server_errors']}; ledger_audit clean: {result['ledger_audit_clean']}")
    print(f"verdict: {result['verdict']} (logs in {result['logs']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--players", type=int, default=PLAYERS, help="locust users = players")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="measured duration")
    parser.add_argument("--drain", type=float, default=DRAIN_SECONDS)
    parser.add_argument("--sqlite", action="store_true", help="the embedded SQLite and Redis")
    parser.add_argument("--pg-url", default=PG_URL, help="PostgreSQL server (no database)")
    parser.add_argument("--pg-db", default=PG_DB, help="database recreated for the run")
    parser.add_argument(
        "--redis-url", default=None, help=f"default {REDIS_URL}; embedded with --sqlite"
    )
    parser.add_argument("--debug", action="store_true", help="serve with DEBUG=true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--phase", choices=["run", "setup", "locust", "report"], default="run")
    parser.add_argument("--host", help=argparse.SUPPRESS)
    parser.add_argument("--players-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase == "setup":
        print(json.dumps(setup_phase(args.players)))
        return 0
    if args.phase == "report":
        print(json.dumps(report_phase()))
        return 0
    if args.phase == "locust":
        players = json.loads(Path(args.players_file).read_text())
        result = locust_phase(
            host=args.host, players=players, users=args.players, seconds=args.seconds
        )
        print(json.dumps(result))
        return 0
    if args.redis_url is None and not args.sqlite:
        args.redis_url = REDIS_URL
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
