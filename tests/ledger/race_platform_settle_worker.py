"""One of two settlers of the hot-platform-account test (its own OS process and connection).

Both settle a match whose payouts include platform revenue. The ``holder`` settles inside a
transaction and keeps it open (its locks held) until the ``settler`` says it is done, or until
``--wait`` seconds passed; the ``settler`` starts once the holder holds its locks. With the
platform account one locked row, the settler would wait for the holder's commit, which waits
for the settler: the holder's wait would run out.

    python -m tests.ledger.race_platform_settle_worker --role holder --escrow match:1 \
        --payee 7 --key match:1:settle --flags /tmp/x --out results.jsonl --ready r --go g
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tests.ledger.conftest import Call, racer_main


def prepare(args: argparse.Namespace) -> list[Call]:
    from django.db import transaction

    from ledger import services as ledger
    from ledger.models import Account, AccountKind

    flags = Path(args.flags)
    held, done = flags / "held.flag", flags / "done.flag"
    row: dict = {"role": args.role}

    def settle():
        pot = ledger.balance(ledger.escrow_account(args.escrow))
        payouts = [
            (ledger.system_account(AccountKind.PLATFORM_REVENUE), args.rake),
            (Account.objects.get(pk=args.payee), pot - args.rake),
        ]
        return ledger.settle(escrow_ref=args.escrow, payouts=payouts, key=args.key)

    def hold_open():
        with transaction.atomic():
            made = settle()
            held.touch()
            deadline = time.monotonic() + args.wait
            while not done.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            row["saw_other_finish"] = done.exists()
        return made[0]

    def settle_beside():
        deadline = time.monotonic() + args.wait
        while not held.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
        made = settle()
        row["seconds"] = time.monotonic() - started
        done.touch()
        return made[0]

    return [(row, hold_open if args.role == "holder" else settle_beside)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=["holder", "settler"], required=True)
    parser.add_argument("--escrow", required=True)
    parser.add_argument("--payee", type=int, required=True)
    parser.add_argument("--rake", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--flags", required=True)
    parser.add_argument("--wait", type=float, default=20.0)
    racer_main(parser, prepare)


if __name__ == "__main__":
    main()
