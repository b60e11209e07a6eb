"""Ledger transfers per second on PostgreSQL with concurrent clients, beside ``pgbench -N``.

Both run in the same invocation against the same server and the same freshly made database, one
after the other (so they do not compete for the CPU), with the same number of clients:

1. ledger: CLIENTS OS processes, each with its own connection, call ``ledger.services.transfer``
   between random user accounts for SECONDS (after a short warm-up), each call one transaction
   with its row locks, idempotency key, two postings and two balance updates;
   then ``audit_ledger`` checks the result;
2. ``pgbench -N`` (the "simple update" script: one UPDATE, one SELECT and one INSERT per
   transaction) with the same client count and duration.

It prints both rates and their ratio (ledger / pgbench).

    python bench/ledger_bench.py [--url postgres://postgres@127.0.0.1:5432] [--clients 8]
                                 [--seconds 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent

# --- knobs ---------------------------------------------------------------------------------
CLIENTS = 8  # concurrent clients, for both the ledger and pgbench
SECONDS = 20  # measured duration of each phase
WARMUP_SECONDS = 3  # ledger clients run this long before counting (connections, caches)
ACCOUNTS = 1_000  # user accounts the ledger transfers move between
FUNDING = 10**9  # credits granted to each account up front, so overdrafts are rare
PGBENCH_SCALE = 10  # pgbench -i -s: 1,000,000 pgbench_accounts rows
BENCH_DB = "arena_bench"


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def recreate_database(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(with_db(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(db_url: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
    # The bench never touches Redis; a URL (not connected to) avoids starting the embedded one.
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
    os.environ.setdefault("ARENA_VAR_DIR", tempfile.mkdtemp(prefix="arena-bench-"))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def create_schema_and_accounts() -> list[int]:
    from django.apps import apps
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from ledger import services as ledger

    # Tables straight from the models (like pytest --nomigrations), so the bench runs whatever
    # migrations exist or not.
    settings.MIGRATION_MODULES = {app.label: None for app in apps.get_app_configs()}
    call_command("migrate", run_syncdb=True, verbosity=0)
    User = get_user_model()
    User.objects.bulk_create([User(username=f"bench{i}") for i in range(ACCOUNTS)])
    ids = []
    for user in User.objects.filter(username__startswith="bench").order_by("pk"):
        ledger.grant(user=user, amount=FUNDING, key=f"fund:{user.pk}")
        ids.append(ledger.user_account(user).pk)
    return ids


def ledger_client(index: int, account_ids: list[int], start_at: float, results) -> None:
    from django.db import connection

    from ledger import services as ledger
    from ledger.errors import InsufficientFunds
    from ledger.models import Account

    connection.close()  # never share the parent's socket
    accounts = list(Account.objects.filter(pk__in=account_ids))
    rnd = random.Random(index)
    while time.time() < start_at:
        time.sleep(0.005)
    measure_from = start_at + WARMUP_SECONDS
    stop_at = measure_from + SECONDS
    done = refused = n = 0
    latencies: list[float] = []
    while True:
        now = time.time()
        if now >= stop_at:
            break
        debit, credit = rnd.sample(accounts, 2)
        n += 1
        t0 = time.perf_counter()
        try:
            ledger.transfer(
                debit=debit,
                credit=credit,
                amount=rnd.randint(1, 1000),
                key=f"bench:{index}:{n}",
                kind="bench",
            )
            ok = True
        except InsufficientFunds:
            ok = False
        if now >= measure_from:
            latencies.append(time.perf_counter() - t0)
            done += ok
            refused += not ok
    results.put({"client": index, "transfers": done, "refused": refused, "latencies": latencies})


def run_ledger(account_ids: list[int]) -> dict:
    from django.db import connections

    connections.close_all()  # forked children must open their own connections
    ctx = mp.get_context("fork")
    results = ctx.Queue()
    start_at = time.time() + 3
    procs = [
        ctx.Process(target=ledger_client, args=(i, account_ids, start_at, results))
        for i in range(CLIENTS)
    ]
    for proc in procs:
        proc.start()
    rows = [results.get(timeout=WARMUP_SECONDS + SECONDS + 120) for _ in procs]
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            raise RuntimeError(f"a ledger client exited with {proc.exitcode}")
    latencies = sorted(x for r in rows for x in r["latencies"])
    transfers = sum(r["transfers"] for r in rows)
    return {
        "clients": CLIENTS,
        "seconds": SECONDS,
        "transfers": transfers,
        "refused_insufficient_funds": sum(r["refused"] for r in rows),
        "tps": round(transfers / SECONDS, 1),
        "latency_ms_p50": round(1000 * latencies[len(latencies) // 2], 2),
        "latency_ms_p99": round(1000 * latencies[int(len(latencies) * 0.99)], 2),
    }


def find_pgbench() -> str:
    for candidate in (shutil.which("pgbench"), "/usr/lib/postgresql/15/bin/pgbench"):
        if candidate and Path(candidate).exists():
            return candidate
    raise SystemExit("pgbench not found: install postgresql-contrib or put it on PATH")


def run_pgbench(db_url: str) -> dict:
    pgbench = find_pgbench()
    subprocess.run(
        [pgbench, "-i", "-q", "-s", str(PGBENCH_SCALE), db_url],
        check=True,
        capture_output=True,
        text=True,
    )
    done = subprocess.run(
        [pgbench, "-N", "-c", str(CLIENTS), "-j", str(CLIENTS), "-T", str(SECONDS), db_url],
        check=True,
        capture_output=True,
        text=True,
    )
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", done.stdout)
    if not match:
        raise RuntimeError(f"cannot read pgbench's tps from:\n{done.stdout}\n{done.stderr}")
    latency = re.search(r"latency average = ([0-9.]+) ms", done.stdout)
    return {
        "clients": CLIENTS,
        "seconds": SECONDS,
        "scale": PGBENCH_SCALE,
        "tps": float(match.group(1)),
        "latency_ms_avg": float(latency.group(1)) if latency else None,
    }


def main() -> None:
    global CLIENTS, SECONDS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url",
        default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"),
        help="PostgreSQL server URL (the database part is ignored)",
    )
    parser.add_argument("--db", default=BENCH_DB, help="database to (re)create for the run")
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--seconds", type=int, default=SECONDS)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    CLIENTS, SECONDS = args.clients, args.seconds
    db_url = with_db(args.url, args.db)

    log(f"recreating database {args.db}")
    recreate_database(args.url, args.db)
    setup_django(db_url)
    log(f"creating schema and {ACCOUNTS} funded accounts")
    account_ids = create_schema_and_accounts()
    log(f"ledger: {CLIENTS} clients, {SECONDS} s")
    ledger_result = run_ledger(account_ids)

    from ledger.selectors import audit_ledger

    audit = audit_ledger()
    ledger_result["audit_ok"] = audit["ok"]
    log(f"pgbench -N: {CLIENTS} clients, {SECONDS} s")
    pgbench_result = run_pgbench(db_url)

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    report = {
        "server": f"PostgreSQL {server}",
        "cpus": os.cpu_count(),
        "ledger": ledger_result,
        "pgbench": pgbench_result,
        "ratio": round(ledger_result["tps"] / pgbench_result["tps"], 3),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"server:        {report['server']} ({report['cpus']} CPUs)")
        print(
            f"ledger:        {ledger_result['tps']:>9.1f} transfers/s  ({CLIENTS} clients, "
            f"p50 {ledger_result['latency_ms_p50']} ms, p99 {ledger_result['latency_ms_p99']} ms, "
            f"audit {'ok' if audit['ok'] else 'FAILED'})"
        )
        print(f"pgbench -N:    {pgbench_result['tps']:>9.1f} tps          ({CLIENTS} clients)")
        print(f"ratio:         {report['ratio']:.3f} (ledger / pgbench)")
    if not audit["ok"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
