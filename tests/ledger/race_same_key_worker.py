"""One racer of the same-key test (its own OS process, its own database connection).

For each round it sends one transfer whose debit account holds exactly enough for ONE of them,
under that round's key, the same content as every other racer, and writes what it got back.

    python -m tests.ledger.race_same_key_worker --debits 3,4,5 --credit 6 --amount 100 \
        --out results.jsonl --ready ready.flag --go go.flag
"""

from __future__ import annotations

import argparse
from functools import partial

from tests.ledger.conftest import Call, racer_main


def prepare(args: argparse.Namespace) -> list[Call]:
    from ledger import services as ledger
    from ledger.models import Account

    debit_ids = [int(d) for d in args.debits.split(",")]
    accounts = Account.objects.in_bulk([*debit_ids, args.credit])

    def send(debit_id: int, key: str):
        return ledger.transfer(
            # Fresh objects each call: transfer updates the caller's balances in place.
            debit=Account.objects.get(pk=accounts[debit_id].pk),
            credit=Account.objects.get(pk=args.credit),
            amount=args.amount,
            key=key,
            kind="gift",
        )

    return [
        ({"key": f"race:{round_no}"}, partial(send, debit_id, f"race:{round_no}"))
        for round_no, debit_id in enumerate(debit_ids)
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--debits", required=True)  # one debit account id per round
    parser.add_argument("--credit", type=int, required=True)
    parser.add_argument("--amount", type=int, required=True)
    racer_main(parser, prepare)


if __name__ == "__main__":
    main()
