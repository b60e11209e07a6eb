"""One client of the PostgreSQL concurrency test (run as its own OS process, own connection).

Every key ``k<n>`` of a shared pool stands for one fixed operation (drawn from ``Random(n)``), so
any worker may race any other on the same key with the same content. About a third of the calls
retry a key this worker used before. Each call's outcome is written as one JSON line
(tests/ledger/conftest.py).

    python -m tests.ledger.concurrency_worker --users 1,2,3 --ops 250 --seed 7 --pool 900 \
        --out results.jsonl --ready ready.flag --go go.flag
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from functools import partial

from tests.ledger.conftest import Call, racer_main

ESCROWS = ["pool:a", "pool:b", "pool:c"]


def operation(n: int, user_ids: list[int]) -> dict:
    """The one operation that key ``k<n>`` stands for."""
    rnd = random.Random(n)
    kind = rnd.choices(["transfer", "hold", "release", "grant"], weights=[6, 2, 2, 1])[0]
    a, b = rnd.sample(user_ids, 2)
    return {
        "kind": kind,
        "a": a,
        "b": b,
        "escrow": rnd.choice(ESCROWS),
        "amount": rnd.randint(1, 60),
    }


def apply(op: dict, key: str, users: dict):
    from ledger import services as ledger

    if op["kind"] == "transfer":
        return ledger.transfer(
            debit=ledger.user_account(users[op["a"]]),
            credit=ledger.user_account(users[op["b"]]),
            amount=op["amount"],
            key=key,
            kind="gift",
        )
    if op["kind"] == "hold":
        return ledger.hold(
            user=users[op["a"]], escrow_ref=op["escrow"], amount=op["amount"], key=key
        )
    if op["kind"] == "release":
        return ledger.release(
            user=users[op["a"]], escrow_ref=op["escrow"], amount=op["amount"], key=key
        )
    return ledger.grant(user=users[op["a"]], amount=op["amount"], key=key)


def prepare(args: argparse.Namespace) -> Iterator[Call]:
    from django.contrib.auth import get_user_model

    user_ids = [int(u) for u in args.users.split(",")]
    return calls(args, user_ids, get_user_model().objects.in_bulk(user_ids))


def calls(args: argparse.Namespace, user_ids: list[int], users: dict) -> Iterator[Call]:
    """``args.ops`` keys of the pool, about a third of them retries of keys used before."""
    rnd = random.Random(args.seed)
    used: list[int] = []
    for _ in range(args.ops):
        retry = bool(used) and rnd.random() < 0.35
        n = rnd.choice(used) if retry else rnd.randrange(args.pool)
        used.append(n)
        key = f"k{n}"
        yield (
            {"key": key, "n": n, "retry": retry},
            partial(apply, operation(n, user_ids), key, users),
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", required=True)
    parser.add_argument("--ops", type=int, default=250)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--pool", type=int, required=True)
    racer_main(parser, prepare)


if __name__ == "__main__":
    main()
