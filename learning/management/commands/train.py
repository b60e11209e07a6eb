"""``manage.py train --agent ID [--space SLUG] [--seed S] [--max-steps N] [--json]``: run one
training job on the agent's new kept pairs, here and now, as the ``train`` worker would (the
owner pays the operator's price; a failed run is refunded), then, for a space's job, its
promotion gate as the judge worker would. Exit status 1 when the job fails."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from agents.errors import AgentError
from agents.models import Agent
from agents.training_jobs import job_run
from arena.services import dispatch
from learning.gate import gate_run
from learning.services import training_request
from spaces.models import Space


def job_summary(job) -> dict:
    return {
        "job": job.pk,
        "agent": job.agent_id,
        "status": job.status,
        "pairs": job.pair_count,
        "steps": job.step,
        "price": job.price,
        "parent_adapter_sha256": job.parent.sha256 if job.parent_id else None,
        "adapter_version": job.result.number if job.result_id else None,
        "adapter_sha256": job.result.sha256 if job.result_id else None,
        "final_metrics": job.final_metrics,
        "checkpoints": [c["sha256"] for c in job.checkpoints],
        "quantization": job.quantization,
        "proof_record": getattr(getattr(job, "proof", None), "record_id", None),
        "error": job.error,
    }


class Command(BaseCommand):
    help = "Run one DPO training job for an agent, as the train worker would."

    def add_arguments(self, parser):
        parser.add_argument("--agent", type=int, required=True, help="the agent's id")
        parser.add_argument("--space", help="train on this space's pairs only")
        parser.add_argument("--seed", type=int, help="the run's seed (default: random)")
        parser.add_argument("--max-steps", type=int, help="cap on optimizer steps")
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args, **opts):
        agent = Agent.objects.filter(pk=opts["agent"]).first()
        if agent is None:
            raise CommandError(f"no agent #{opts['agent']}")
        space = None
        if opts["space"]:
            space = Space.objects.filter(slug=opts["space"]).first()
            if space is None:
                raise CommandError(f"no space {opts['space']!r}")
        overrides = {"max_steps": opts["max_steps"]} if opts["max_steps"] else {}
        with dispatch.inline():  # this process runs the job and its gate; no worker does
            try:
                job = training_request(
                    agent=agent, space=space, seed=opts["seed"], overrides=overrides
                )
            except AgentError as exc:
                raise CommandError(str(exc)) from None
            job = job_run(job_id=job.pk)
            gate = None
            if job.status == job.Status.SUCCEEDED and job.space_id is not None:
                gate = gate_run(job=job)  # the gate the worker would queue next
        job.refresh_from_db()
        summary = job_summary(job)
        if gate is not None:
            summary["gate"] = {
                "status": gate.status,
                "games": gate.games,
                "wins": gate.wins,
                "losses": gate.losses,
                "ties": gate.ties,
                "win_rate": gate.win_rate,
                "interval": [gate.low, gate.high],
                "promoted": gate.promoted,
                "detail": gate.detail,
            }
        if opts["json"]:
            self.stdout.write(json.dumps(summary))
        else:
            self.stdout.write(
                f"job #{job.pk} {job.status}: {job.pair_count} pairs, {job.step} steps"
                + (
                    f", adapter v{summary['adapter_version']} ({job.result.sha256[:12]})"
                    if job.result_id
                    else ""
                )
                + (f"; {job.error}" if job.error else "")
            )
        if job.status != job.Status.SUCCEEDED:
            raise SystemExit(1)
