"""``python manage.py ledger_audit [--json]``: recompute every balance and check the invariants.

Exit status 0 only when every check holds, 1 otherwise.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from ledger.selectors import audit_ledger


class Command(BaseCommand):
    help = "Recompute every ledger balance from the postings and check the invariants."

    def add_arguments(self, parser):
        parser.add_argument(
            "--json", action="store_true", help="print one JSON document on stdout and nothing else"
        )

    def handle(self, *args, **options):
        report = audit_ledger()
        if options["json"]:
            self.stdout.write(json.dumps(report, sort_keys=True))
        else:
            self._print(report)
        if not report["ok"]:
            # SystemExit, not CommandError: the report is already written, a traceback-ish
            # "CommandError:" line on stderr would add nothing.
            raise SystemExit(1)

    def _print(self, report: dict) -> None:
        self.stdout.write(
            f"{report['accounts']} accounts, {report['transfers']} transfers, "
            f"{report['postings']} postings; balances sum to {report['sum_of_balances']}, "
            f"postings to {report['sum_of_postings']}"
        )
        for problem in report["problems"]:
            self.stdout.write(self.style.ERROR(f"FAIL {problem['check']}: {problem['message']}"))
        if report["ok"]:
            self.stdout.write(self.style.SUCCESS("ledger OK"))
        else:
            self.stdout.write(self.style.ERROR(f"{len(report['problems'])} problem(s) found"))
