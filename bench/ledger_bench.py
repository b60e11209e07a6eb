"""Ledger transfers and settlements per second on PostgreSQL with concurrent clients.

All phases run in the same invocation against the same server and the same freshly made
database, one after the other (so they do not compete for the CPU), with the same number of
clients, taking turns ROUNDS times (so a change in the machine's other load meets them all):

1. transfers: CLIENTS OS processes, each with its own connection, call
   ``ledger.services.transfer`` between random user accounts for SECONDS (after a short
   warm-up), each call one transaction with its row locks, idempotency key, two postings and
   two balance updates;
2. settlements paying users only: CLIENTS processes call ``ledger.services.settle`` on funded
   escrows of their own (made up front), each paying three random users;
3. settlements paying the platform: the same, but every settlement's first payout is a rake to
   the one platform revenue account (spread over ``--shards`` shard rows, issue #11), as every
   match's settlement does;
   then ``audit_ledger`` checks the result;
4. ``pgbench -N`` (the "simple update" script: one UPDATE, one SELECT and one INSERT per
   transaction) with the same client count and duration.

It prints the rates and two ratios: transfers / pgbench, and settlements paying the platform /
settlements paying only users (1.0: the shared account costs nothing; with one shard row every
settlement queues on its lock).

    python bench/ledger_bench.py [--url postgres://postgres@127.0.0.1:5432] [--clients 8]
                                 [--seconds 30] [--rounds 3] [--shards 16] [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import re
import secrets
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
SECONDS = 30  # measured duration of each phase, over all rounds
ROUNDS = 3  # the phases take turns this many times, so a change in the machine's load meets all
WARMUP_SECONDS = 3  # ledger clients run this long before counting (connections, caches)
ACCOUNTS = 1_000  # user accounts the ledger transfers move between
FUNDING = 10**9  # credits granted to each account up front, so overdrafts are rare
PGBENCH_SCALE = 10  # pgbench -i -s: 1,000,000 pgbench_accounts rows
BENCH_DB = "arena_bench"
POTS_PER_CLIENT = 1_500  # funded escrows made for each client of each settlement round
POT = 300  # credits in each escrow
RAKE = 9  # the first payout of each settlement: the platform's rake, or a user's share
SETTLE_PHASES = ("users", "platform")


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
    # Production settings: DEBUG would record every query, pgbench has no such cost. The secret
    # key DEBUG=false requires is this process's own, thrown away with it.
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(48))
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
        # Withdrawable credits (a deposit), which transfers between withdrawable accounts move;
        # a grant would fund the play account, and every transfer would be refused.
        ledger.deposit_credit(user=user, amount=FUNDING, key=f"fund:{user.pk}")
        ledger.play_account(user)  # settlements may pay either account
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


def fund_pots(phase: str, round_no: int) -> list[list[str]]:
    """POTS_PER_CLIENT escrows of POT withdrawable credits for each client, written in bulk (a
    deposit per escrow, as ``transfer`` would write it): making them one by one would take
    longer than the phase. The audit at the end checks them like any other transfer."""
    from django.db.models import F

    from ledger import services as ledger
    from ledger.models import Account, AccountKind, Posting, Transfer

    deposits = ledger.system_account(AccountKind.CHAIN_DEPOSITS)
    refs = [
        [f"bench:{phase}:{round_no}:{c}:{n}" for n in range(POTS_PER_CLIENT)]
        for c in range(CLIENTS)
    ]
    flat = [ref for client in refs for ref in client]
    for start in range(0, len(flat), 2_000):
        chunk = flat[start : start + 2_000]
        pots = Account.objects.bulk_create(
            [Account(kind=AccountKind.ESCROW, ref=ref, balance=POT) for ref in chunk]
        )
        funds = Transfer.objects.bulk_create(
            [
                Transfer(
                    key=f"fund:{pot.ref}",
                    debit_id=deposits.pk,
                    credit_id=pot.pk,
                    amount=POT,
                    kind="deposit",
                    fingerprint=ledger._fingerprint(
                        debit_id=deposits.pk, credit_id=pot.pk, amount=POT, kind="deposit"
                    ),
                )
                for pot in pots
            ]
        )
        Posting.objects.bulk_create(
            [
                posting
                for fund in funds
                for posting in (
                    Posting(transfer=fund, account_id=fund.debit_id, amount=-POT),
                    Posting(transfer=fund, account_id=fund.credit_id, amount=POT),
                )
            ]
        )
        Account.objects.filter(pk=deposits.pk).update(balance=F("balance") - POT * len(chunk))
    return refs


def settle_client(
    index: int, phase: str, refs: list[str], account_ids: list[int], start_at: float, results
) -> None:
    from django.db import connection

    from ledger import services as ledger
    from ledger.models import Account, AccountKind

    connection.close()  # never share the parent's socket
    users = list(Account.objects.filter(pk__in=account_ids))
    platform = ledger.system_account(AccountKind.PLATFORM_REVENUE)
    rnd = random.Random(1000 + index)
    while time.time() < start_at:
        time.sleep(0.005)
    measure_from = start_at + WARMUP_SECONDS
    stop_at = measure_from + SECONDS
    done = 0
    latencies: list[float] = []
    pots = iter(refs)
    exhausted = False
    while True:
        now = time.time()
        if now >= stop_at:
            break
        ref = next(pots, None)
        if ref is None:
            exhausted = True
            break
        first, a, b = rnd.sample(users, 3)
        share = rnd.randint(1, POT - RAKE - 1)
        payouts = [(platform if phase == "platform" else first, RAKE)]
        payouts += [(a, share), (b, POT - RAKE - share)]
        t0 = time.perf_counter()
        ledger.settle(escrow_ref=ref, payouts=payouts, key=f"settle:{ref}")
        if now >= measure_from:
            latencies.append(time.perf_counter() - t0)
            done += 1
    results.put(
        {"client": index, "settlements": done, "latencies": latencies, "exhausted": exhausted}
    )


def run_settlements(phase: str, account_ids: list[int], round_no: int) -> list[dict]:
    refs = fund_pots(phase, round_no)
    return run_clients(
        settle_client, lambda i: (i, phase, refs[i], account_ids), "a settlement client"
    )


def settle_summary(phase: str, rows: list[dict], seconds: int) -> dict:
    latencies = sorted(x for r in rows for x in r["latencies"])
    settlements = sum(r["settlements"] for r in rows)
    return {
        "pays": "the platform and two users" if phase == "platform" else "three users",
        "clients": CLIENTS,
        "seconds": seconds,
        "settlements": settlements,
        "per_second": round(settlements / seconds, 1),
        "latency_ms_p50": round(1000 * latencies[len(latencies) // 2], 2),
        "latency_ms_p99": round(1000 * latencies[int(len(latencies) * 0.99)], 2),
        # A client that ran out of funded escrows stopped early: raise POTS_PER_CLIENT.
        "clients_out_of_pots": sum(r["exhausted"] for r in rows),
    }


def run_clients(target, args_of, name: str) -> list[dict]:
    """Run CLIENTS forked processes of ``target(*args_of(i), start_at, results)``, released
    together, and return the row each put on ``results``."""
    from django.db import connections

    connections.close_all()  # forked children must open their own connections
    ctx = mp.get_context("fork")
    results = ctx.Queue()
    start_at = time.time() + 3
    procs = [
        ctx.Process(target=target, args=(*args_of(i), start_at, results)) for i in range(CLIENTS)
    ]
    for proc in procs:
        proc.start()
    rows = [results.get(timeout=WARMUP_SECONDS + SECONDS + 120) for _ in procs]
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            raise RuntimeError(f"{name} exited with {proc.exitcode}")
    return rows


def run_ledger(account_ids: list[int]) -> list[dict]:
    return run_clients(ledger_client, lambda i: (i, account_ids), "a ledger client")


def transfer_summary(rows: list[dict], seconds: int) -> dict:
    latencies = sorted(x for r in rows for x in r["latencies"])
    transfers = sum(r["transfers"] for r in rows)
    return {
        "clients": CLIENTS,
        "seconds": seconds,
        "transfers": transfers,
        "refused_insufficient_funds": sum(r["refused"] for r in rows),
        "tps": round(transfers / seconds, 1),
        "latency_ms_p50": round(1000 * latencies[len(latencies) // 2], 2),
        "latency_ms_p99": round(1000 * latencies[int(len(latencies) * 0.99)], 2),
    }


def find_pgbench() -> str:
    for candidate in (shutil.which("pgbench"), "/usr/lib/postgresql/15/bin/pgbench"):
        if candidate and Path(candidate).exists():
            return candidate
    raise SystemExit("pgbench not found: install postgresql-contrib or put it on PATH")


def init_pgbench(db_url: str) -> None:
    subprocess.run(
        [find_pgbench(), "-i", "-q", "-s", str(PGBENCH_SCALE), db_url],
        check=True,
        capture_output=True,
        text=True,
    )


def run_pgbench(db_url: str) -> dict:
    pgbench = find_pgbench()
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
    global CLIENTS, SECONDS, ROUNDS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url",
        default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432"),
        help="PostgreSQL server URL (the database part is ignored)",
    )
    parser.add_argument("--db", default=BENCH_DB, help="database to (re)create for the run")
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--seconds", type=int, default=SECONDS, help="per phase, all rounds")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument(
        "--shards",
        type=int,
        default=None,
        help="shard rows per hot system account (default: the ledger's setting; 1 = one row)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    CLIENTS, ROUNDS = args.clients, args.rounds
    SECONDS = max(1, args.seconds // ROUNDS)  # each client's measured window, one round
    total_seconds = SECONDS * ROUNDS
    db_url = with_db(args.url, args.db)

    log(f"recreating database {args.db}")
    recreate_database(args.url, args.db)
    setup_django(db_url)
    log(f"creating schema and {ACCOUNTS} funded accounts")
    account_ids = create_schema_and_accounts()
    from django.conf import settings

    from ledger import services as ledger
    from ledger.selectors import audit_ledger

    if args.shards is not None:  # read by the ledger at each call; the forked clients inherit it
        settings.ARENA_LEDGER_SHARDS = args.shards
    init_pgbench(db_url)
    transfer_rows: list[dict] = []
    pgbench_rows: list[dict] = []
    settle_rows: dict[str, list[dict]] = {phase: [] for phase in SETTLE_PHASES}
    for round_no in range(ROUNDS):
        log(f"round {round_no + 1}/{ROUNDS}: {CLIENTS} clients, {SECONDS} s per phase")
        log("  ledger transfers")
        transfer_rows += run_ledger(account_ids)
        log("  pgbench -N")
        pgbench_rows.append(run_pgbench(db_url))
        for phase in SETTLE_PHASES:
            log(f"  settlements paying {phase}")
            settle_rows[phase] += run_settlements(phase, account_ids, round_no)
    ledger_result = transfer_summary(transfer_rows, total_seconds)
    pgbench_result = {
        "clients": CLIENTS,
        "seconds": total_seconds,
        "scale": PGBENCH_SCALE,
        "tps": round(sum(r["tps"] for r in pgbench_rows) / len(pgbench_rows), 1),
        "tps_by_round": [r["tps"] for r in pgbench_rows],
    }
    settle_results = {
        phase: settle_summary(phase, rows, total_seconds) for phase, rows in settle_rows.items()
    }
    log("auditing the ledger")
    audit = audit_ledger()
    ledger_result["audit_ok"] = audit["ok"]

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    report = {
        "server": f"PostgreSQL {server}",
        "cpus": os.cpu_count(),
        "rounds": ROUNDS,
        "ledger": ledger_result,
        "pgbench": pgbench_result,
        "ratio": round(ledger_result["tps"] / pgbench_result["tps"], 3),
        "shards": ledger.shard_count(),
        "settlements": settle_results,
        "settle_ratio": round(
            settle_results["platform"]["per_second"] / settle_results["users"]["per_second"], 3
        ),
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
        for phase, row in settle_results.items():
            print(
                f"settle {phase + ':':<9}{row['per_second']:>9.1f} settlements/s "
                f"(paying {row['pays']}, p50 {row['latency_ms_p50']} ms, "
                f"p99 {row['latency_ms_p99']} ms)"
            )
        print(
            f"settle ratio:  {report['settle_ratio']:.3f} (platform / users only, "
            f"{report['shards']} platform shards)"
        )
    if not audit["ok"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
