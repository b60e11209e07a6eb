"""``manage.py refit_standings --space SLUG [--rounds N] [--seed S] [--json]``: refit a space's
standings now (the Plackett-Luce fit with bootstrap intervals that the leaderboard ranks by)
over all its settled matches, and print them. The same refit runs every 10 minutes for spaces
with new settled matches (task ``arena.refit_standings``)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from arena.services.standings import refit_space
from judges.bradley_terry import DEFAULT_ROUNDS
from judges.errors import JudgeError
from judges.models import Standing
from spaces.models import Space


class Command(BaseCommand):
    help = "Refit a space's standings (Bradley-Terry / Plackett-Luce with bootstrap intervals)."

    def add_arguments(self, parser):
        parser.add_argument("--space", required=True, help="the space's slug")
        parser.add_argument(
            "--rounds", type=int, default=DEFAULT_ROUNDS, help="bootstrap resamples"
        )
        parser.add_argument("--seed", type=int, default=0, help="seed of the resampling")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        space = Space.objects.filter(slug=options["space"]).first()
        if space is None:
            raise CommandError(f"no space {options['space']!r}")
        try:
            fit = refit_space(space, rounds=options["rounds"], seed=options["seed"])
        except JudgeError as exc:
            raise CommandError(str(exc)) from exc
        rows = list(Standing.objects.filter(space=space).select_related("agent"))
        report = {
            "space": space.slug,
            "matches": fit.matches if fit else 0,
            "rounds": fit.rounds if fit else 0,
            "fitted_at": fit.fitted_at.isoformat() if fit else None,
            "converged": fit.converged if fit else None,
            "length_coef": fit.length_coef if fit else None,
            "length_interval": [fit.length_lower, fit.length_upper] if fit else None,
            "standings": [
                {
                    "rank": row.rank,
                    "agent_id": row.agent_id,
                    "agent": row.agent.name,
                    "strength": round(row.strength, 4),
                    "lower": round(row.lower, 4),
                    "upper": round(row.upper, 4),
                    "matches": row.matches,
                    "win_rate": round(row.win_rate, 4),
                }
                for row in rows
            ],
        }
        if options["json"]:
            self.stdout.write(json.dumps(report))
            return
        if fit is None:
            self.stdout.write(f"{space.slug}: no settled match to fit")
            return
        self.stdout.write(
            f"{space.slug}: {fit.matches} matches, {fit.rounds} bootstrap rounds, length "
            f"coefficient {fit.length_coef:+.3f} [{fit.length_lower:+.3f}, "
            f"{fit.length_upper:+.3f}]"
        )
        for row in report["standings"]:
            self.stdout.write(
                f"{row['rank']:>4}  {row['agent']:<30} {row['strength']:+8.3f} "
                f"[{row['lower']:+.3f}, {row['upper']:+.3f}]  {row['matches']:>6} matches  "
                f"win rate {row['win_rate']:.3f}"
            )
