"""One racer of the record-chain append race (its own OS process, its own database connection).

It appends ``--appends`` records to ``--chain``, each payload naming the racer and its count,
and writes one JSON line per append with the id of the record it got (or the error).

    python -m tests.ledger.record_chain_racer --chain race --racer 0 --appends 50 \
        --out results.jsonl --ready ready.flag --go go.flag
"""

from __future__ import annotations

import argparse
from functools import partial

from tests.ledger.conftest import Call, racer_main


def prepare(args: argparse.Namespace) -> list[Call]:
    from ledger.records import record_append  # Django is set up only inside racer_main

    return [
        (
            {"racer": args.racer, "n": n},
            partial(
                record_append, chain=args.chain, kind="race", payload={"racer": args.racer, "n": n}
            ),
        )
        for n in range(args.appends)
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chain", required=True)
    parser.add_argument("--racer", type=int, required=True)
    parser.add_argument("--appends", type=int, required=True)
    racer_main(parser, prepare)


if __name__ == "__main__":
    main()
