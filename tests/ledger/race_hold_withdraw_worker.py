"""One racer of the hold-against-withdrawal test (its own OS process and connection).

Racer 0 holds an entry fee for each user (play credits first, then withdrawable ones); racer 1
asks to withdraw from each user's withdrawable credits. Each user holds enough for one of the
two only, so they race for the same withdrawable credits.

    python -m tests.ledger.race_hold_withdraw_worker --role hold --users 3,4 --amount 120 \
        --out results.jsonl --ready ready.flag --go go.flag
"""

from __future__ import annotations

import argparse
from functools import partial

from tests.ledger.conftest import Call, racer_main


def prepare(args: argparse.Namespace) -> list[Call]:
    from django.contrib.auth import get_user_model

    from ledger import services as ledger

    user_ids = [int(u) for u in args.users.split(",")]
    users = get_user_model().objects.in_bulk(user_ids)

    def hold(user, key):
        return ledger.hold(user=user, escrow_ref=f"entry:{user.pk}", amount=args.amount, key=key)

    def withdraw(user, key):
        return ledger.withdraw_debit(user=user, amount=args.amount, key=key)

    call = hold if args.role == "hold" else withdraw
    return [
        ({"user": pk, "role": args.role}, partial(call, users[pk], f"{args.role}:{pk}"))
        for pk in user_ids
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=["hold", "withdraw"], required=True)
    parser.add_argument("--users", required=True)
    parser.add_argument("--amount", type=int, required=True)
    racer_main(parser, prepare)


if __name__ == "__main__":
    main()
