"""``manage.py verify_pol [--entry SEQ | --all] [--replay Q] [--json]``: check the
proof-of-learning chain (``learning.verification``). Exit status 0 only when everything
verifies; otherwise each failure is named, with its record."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from learning.proofs import CHAIN
from learning.verification import verify_pol
from ledger.models import ChainRecord


class Command(BaseCommand):
    help = "Verify proof-of-learning records: chain, pairs, files, anchors, replays."

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--entry", type=int, help="the record's seq in the chain")
        which.add_argument("--all", action="store_true", help="every record")
        parser.add_argument(
            "--replay", type=int, default=0, metavar="Q", help="re-execute Q training segments"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args, **opts):
        if opts["replay"] < 0:
            raise CommandError("--replay must be 0 or more")
        seq = opts["entry"]
        if seq is not None and not ChainRecord.objects.filter(chain=CHAIN, seq=seq).exists():
            raise CommandError(f"no proof-of-learning record {seq}")
        result = verify_pol(seq=seq, replay=opts["replay"])
        if opts["json"]:
            self.stdout.write(json.dumps(result.as_dict()))
        else:
            for problem in result.chain_problems:
                self.stdout.write(f"chain: {problem}")
            for record in result.records:
                replays = ", ".join(
                    f"steps {r['segment'][0]}..{r['segment'][1]} at {r['distance']:.3g}"
                    for r in record.replayed
                )
                state = "verified" if record.ok else "FAILED"
                self.stdout.write(
                    f"record {record.seq} (job #{record.job}): {state}"
                    + (f"; replayed {replays}" if replays else "")
                )
                for problem in record.problems:
                    self.stdout.write(f"  - {problem}")
            total = len(result.records)
            self.stdout.write(
                f"{total} record{'s' if total != 1 else ''}: "
                + ("all verified" if result.ok else "verification FAILED")
            )
        if not result.ok:
            raise SystemExit(1)
