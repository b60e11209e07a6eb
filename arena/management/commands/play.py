"""``manage.py play --space SLUG --matches N [--json]``: form and run N matches.

Agents are entered as the server would enter them (``entry_create``: their owners pay the fee
into escrow), one agent per owner, preferring agents that have played this space least. Matches
form through the matchmaker with the rating window opened wide (a demo should not wait for
ratings to converge). Then each match runs its steps:

- ``--worker``: the steps go through Celery as on the server, and the command waits for the
  workers to finish them;
- ``--inline``: the same task functions are called in this process, in order (no worker needed);
- neither (default): ``--worker`` when a worker answers a ping within a second, else ``--inline``.
"""

from __future__ import annotations

import json
import time
import uuid

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Q

from agents.models import Agent
from arena.celery import app
from arena.models import Entry, Match
from arena.services import dispatch
from arena.services.entries import entry_create
from arena.services.errors import ArenaError
from arena.services.matches import match_run_inline
from arena.services.matchmaking import matchmake
from ledger import services as ledger
from spaces.models import Space

WIDE_OPEN = float("inf")


def worker_is_running() -> bool:
    try:
        return bool(app.control.ping(timeout=1.0))
    except Exception:  # noqa: BLE001 - no broker means no worker
        return False


def match_report(match: Match) -> dict:
    seats = sorted(
        match.seats.select_related("agent", "owner"), key=lambda s: (s.rank or 99, s.index)
    )
    return {
        "id": match.pk,
        "space": match.space.slug,
        "fee_tier": match.fee_tier.name,
        "status": match.status,
        "failure_reason": match.failure_reason,
        "prompt_id": match.prompt_id,
        "pot": match.pot,
        "fees": match.fees,
        "subsidy": match.subsidy,
        "creator_rake": match.creator_rake,
        "platform_rake": match.platform_rake,
        "ranking": [
            {
                "rank": s.rank,
                "seat": s.index,
                "agent_id": s.agent_id,
                "agent": s.agent.name,
                "owner": s.owner.username,
                "payout": s.payout,
                "answer": s.text,
                "completion_tokens": s.completion_tokens,
                "latency_ms": s.latency_ms,
            }
            for s in seats
        ],
        "payouts": {s.owner.username: s.payout for s in seats},
        "timings": match.timings(),
    }


class Command(BaseCommand):
    help = "Form and run N matches in a space, entering its eligible agents (owners pay fees)."

    def add_arguments(self, parser):
        parser.add_argument("--space", required=True, help="the space's slug")
        parser.add_argument("--matches", type=int, default=1, help="how many matches (1-100)")
        parser.add_argument("--tier", help="fee tier name (default: the cheapest)")
        parser.add_argument("--json", action="store_true", help="print one JSON document")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--inline", action="store_true", help="run the steps in this process")
        mode.add_argument("--worker", action="store_true", help="let Celery workers run them")
        parser.add_argument(
            "--timeout",
            type=float,
            default=900.0,
            help="seconds to wait for a worker to finish one match",
        )

    def handle(self, *args, **opts):
        n = opts["matches"]
        if not 1 <= n <= 100:
            raise CommandError("--matches must be 1 to 100")
        space = Space.objects.filter(slug=opts["space"]).first()
        if space is None:
            raise CommandError(f"no space {opts['space']!r}")
        if space.status != Space.Status.OPEN:
            raise CommandError(f"space {space.slug!r} is {space.status}, not open")
        tiers = space.fee_tiers.order_by("fee", "name")
        tier = tiers.filter(name=opts["tier"]).first() if opts["tier"] else tiers.first()
        if tier is None:
            raise CommandError(f"space {space.slug!r} has no fee tier {opts['tier'] or ''!r}")
        inline = opts["inline"] or (not opts["worker"] and not worker_is_running())
        run = uuid.uuid4().hex[:12]
        started = time.monotonic()
        reports = []
        for number in range(n):
            if inline:
                with dispatch.inline():
                    match = self.form_one(space=space, tier=tier, run=run, number=number)
                match = match_run_inline(match_id=match.pk)
            else:
                match = self.form_one(space=space, tier=tier, run=run, number=number)
                match = self.wait(match, timeout=opts["timeout"])
            report = match_report(match)
            reports.append(report)
            if not opts["json"]:
                self.print_report(report)
        summary = {
            "space": space.slug,
            "fee_tier": tier.name,
            "mode": "inline" if inline else "worker",
            "matches": reports,
            "seconds": round(time.monotonic() - started, 3),
        }
        if opts["json"]:
            self.stdout.write(json.dumps(summary, indent=2))
        else:
            settled = sum(r["status"] == "settled" for r in reports)
            self.stdout.write(
                f"{settled}/{len(reports)} matches settled "
                f"in {summary['seconds']} s ({summary['mode']})"
            )

    # --- forming -------------------------------------------------------------------------

    def form_one(self, *, space: Space, tier, run: str, number: int) -> Match:
        formed = matchmake(space=space, fee_tier=tier, window_override=WIDE_OPEN, limit=1)
        if formed:
            return formed[0]
        waiting_owners = set(
            Entry.objects.filter(
                space=space, fee_tier=tier, status=Entry.Status.QUEUED
            ).values_list("owner_id", flat=True)
        )
        for agent in self.candidates(space=space, exclude_owners=waiting_owners):
            if ledger.user_balance(agent.owner) < tier.fee:
                continue
            try:
                entry_create(
                    agent=agent,
                    space=space,
                    fee_tier=tier,
                    matchmake=False,
                    key=f"play:{run}:{number}:{agent.pk}",
                )
            except ArenaError:
                continue
            waiting_owners.add(agent.owner_id)
            if len(waiting_owners) >= space.agents_per_match:
                formed = matchmake(space=space, fee_tier=tier, window_override=WIDE_OPEN, limit=1)
                if formed:
                    return formed[0]
        raise CommandError(
            f"not enough eligible agents for a match in {space.slug!r}: it needs "
            f"{space.agents_per_match} agents of different owners who can pay {tier.fee} credits"
        )

    def candidates(self, *, space: Space, exclude_owners: set[int]):
        """One agent per owner, least-played in this space first."""
        agents = (
            Agent.objects.exclude(owner_id__in=exclude_owners)
            .exclude(
                pk__in=Entry.objects.filter(space=space, status=Entry.Status.QUEUED).values(
                    "agent_id"
                )
            )
            .filter(owner__is_active=True)
            .annotate(played=Count("seats", filter=Q(seats__match__space=space)))
            .select_related("owner")
            .order_by("played", "pk")
        )
        seen: set[int] = set()
        for agent in agents:
            if agent.owner_id not in seen:
                seen.add(agent.owner_id)
                yield agent

    # --- running -------------------------------------------------------------------------

    def wait(self, match: Match, *, timeout: float) -> Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match.refresh_from_db()
            if match.is_final:
                return match
            time.sleep(0.2)
        raise CommandError(
            f"match #{match.pk} still {match.status} after {timeout} s: "
            "is a worker consuming the rollout, judge and default queues?"
        )

    def print_report(self, report: dict) -> None:
        out = self.stdout
        out.write(
            f"match #{report['id']} in {report['space']} ({report['fee_tier']}): "
            f"{report['status']}"
            + (f" — {report['failure_reason']}" if report["failure_reason"] else "")
        )
        for row in report["ranking"]:
            out.write(
                f"  rank {row['rank'] if row['rank'] is not None else '-'}: "
                f"{row['agent']} ({row['owner']}) payout {row['payout']}"
            )
        out.write(
            f"  pot {report['pot']} (fees {report['fees']}, subsidy {report['subsidy']}), "
            f"rakes creator {report['creator_rake']} platform {report['platform_rake']}"
        )
        t = report["timings"]
        out.write(
            f"  timings s: rollout {t['rollout']} judging {t['judging']} "
            f"settling {t['settling']} total {t['total']}"
        )
