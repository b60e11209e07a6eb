"""``manage.py judge_report --space SLUG [--json]``: the space's judge-bias report
(``arena.services.judge_report``)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from arena.services.judge_report import judge_report
from spaces.models import Space


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


class Command(BaseCommand):
    help = "How the judges of a space decide: position bias, ties, length, accuracy, agreement."

    def add_arguments(self, parser):
        parser.add_argument("--space", required=True, help="the space's slug")
        parser.add_argument("--json", action="store_true", help="one JSON document on stdout")

    def handle(self, *args, space: str, json: bool, **options):
        found = Space.objects.filter(slug=space).first()
        if found is None:
            raise CommandError(f"no space {space!r}")
        report = judge_report(space=found)
        if json:
            self.stdout.write(_json(report.as_dict()))
            return
        self.stdout.write(f"{found.slug}: {report.matches} settled matches")
        for judge in report.judges:
            line = (
                f"judge {judge.index} ({judge.kind}): {judge.pairs} pairs, "
                f"ties {_pct(judge.tie_rate)}, first shown wins {_pct(judge.first_position_raw)}"
                f" raw / {_pct(judge.first_position_debiased)} debiased, "
                f"order flips {_pct(judge.order_flip_rate)}, length rho "
                f"{'-' if judge.length_correlation is None else f'{judge.length_correlation:.2f}'}"
            )
            if judge.accuracy and judge.accuracy.pairs:
                acc, base = judge.accuracy, judge.longer_wins_baseline
                line += (
                    f", accuracy vs verifier {acc.rate:.1%} [{acc.low:.1%}, {acc.high:.1%}] on "
                    f"{acc.pairs} pairs (longer-wins baseline {base.rate:.1%})"
                    f"{'' if judge.informative else ' - UNINFORMATIVE'}"
                )
            self.stdout.write(line)
        for pair in report.agreement:
            kappa = "-" if pair["kappa"] is None else f"{pair['kappa']:.2f}"
            first, second = pair["judges"]
            self.stdout.write(f"agreement of judges {first} and {second}: kappa {kappa}")


def _json(value) -> str:
    return json.dumps(value, sort_keys=True)
