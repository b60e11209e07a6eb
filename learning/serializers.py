"""What the training surfaces show, read once for both the agent page's section and the API.

- ``training_overview(agent)``: the agent's new kept pairs per space, the operator's price, its
  recent jobs (progress, curves, proof record), and its adapter versions (live or not, the job
  that made each, its gate result and proof record), newest first.
- ``proof_overview(record)``: a proof-of-learning record, the anchor that covers it, and its
  verification status: the record's own hash and link, the anchor's root, and
  ``learning.verification.verify_record`` without replay (cached briefly: it hashes files and
  the page is public).

The DRF serializers below describe the same objects for the API (and its OpenAPI schema).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.validators import validate_slug
from django.db.models import Count
from django.utils import timezone
from rest_framework import serializers

from agents.models import AdapterVersion, Agent, TrainingJob
from agents.selectors import adapter_versions
from learning.models import GateRun, TrainingProof
from learning.proofs import CHAIN
from learning.selectors import new_pairs
from learning.verification import verify_record
from ledger.api.fields import StrictCharField
from ledger.canonical import CanonicalJSONError
from ledger.models import GENESIS_PREV_HASH, ChainAnchor, ChainRecord

JOBS_SHOWN = 10
# How long after its job a gate that has not started is shown as queued (and the page polls
# for it); past that its task was lost, and the owner can still promote by hand.
GATE_WAIT = timedelta(hours=1)
PROOF_STATUS_CACHE_S = 60  # the page is public; the check hashes adapter and checkpoint files
VERIFIED, FAILED = "verified", "failed"


# --- the agent's training overview ------------------------------------------------------------


@dataclass(frozen=True)
class SpacePairs:
    space: str  # slug
    title: str
    count: int


@dataclass(frozen=True)
class MetricPoint:
    step: int
    loss: float | None
    margin: float | None  # rewards/margins: chosen minus rejected implicit reward
    accuracy: float | None  # rewards/accuracies: share of pairs whose margin is positive


@dataclass
class JobView:
    job: TrainingJob
    proof_seq: int | None
    metrics: list[MetricPoint]

    @property
    def active(self) -> bool:
        return self.job.status in TrainingJob.ACTIVE

    @property
    def percent(self) -> int:
        if self.job.status == TrainingJob.Status.SUCCEEDED:
            return 100
        total = self.job.total_steps
        return min(100, round(100 * self.job.step / total)) if total else 0

    @property
    def chart_id(self) -> str:
        return f"training-chart-{self.job.pk}"

    @property
    def chart(self) -> dict[str, list]:
        """The curves as chart.js takes them (the page embeds this with json_script)."""
        return {
            "steps": [p.step for p in self.metrics],
            "loss": [p.loss for p in self.metrics],
            "margin": [p.margin for p in self.metrics],
        }


@dataclass
class VersionView:
    version: AdapterVersion
    live: bool
    job_id: int | None
    gate: GateRun | None
    gate_queued: bool  # its job succeeded lately and its gate has not started yet
    proof_seq: int | None
    action: str | None  # "promote", "roll back", or None for the live version


@dataclass
class TrainingOverview:
    agent: Agent
    price: int
    pairs: list[SpacePairs]
    jobs: list[JobView]
    versions: list[VersionView]

    @property
    def new_pairs(self) -> int:
        return sum(p.count for p in self.pairs)

    @property
    def active_job(self) -> JobView | None:
        return next((j for j in self.jobs if j.active), None)

    @property
    def gate_running(self) -> bool:
        """A gate queued or playing: its result will change the page."""
        return any(
            v.gate_queued or (v.gate is not None and v.gate.status == GateRun.Status.RUNNING)
            for v in self.versions
        )


def _number(value: Any) -> float | None:
    """A metric as JSON can carry it: NaN and infinities (a diverged step) become null."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def metric_points(rows: list[dict]) -> list[MetricPoint]:
    return [
        MetricPoint(
            step=int(row.get("step", n + 1)),
            loss=_number(row.get("loss")),
            margin=_number(row.get("rewards/margins")),
            accuracy=_number(row.get("rewards/accuracies")),
        )
        for n, row in enumerate(rows)
        if isinstance(row, dict)
    ]


def new_pair_counts(agent: Agent) -> list[SpacePairs]:
    rows = (
        new_pairs(agent=agent)
        .order_by()
        .values("space__slug", "space__title")
        .annotate(count=Count("pk"))
        .order_by("-count", "space__slug")
    )
    return [SpacePairs(r["space__slug"], r["space__title"], r["count"]) for r in rows]


def training_overview(agent: Agent) -> TrainingOverview:
    jobs = list(agent.training_jobs.select_related("space", "result").order_by("-id")[:JOBS_SHOWN])
    proofs = dict(
        TrainingProof.objects.filter(job__agent=agent).values_list("job_id", "record__seq")
    )
    made_by = {
        result_id: (pk, space_id, finished_at)
        for result_id, pk, space_id, finished_at in TrainingJob.objects.filter(
            agent=agent, result__isnull=False
        ).values_list("result_id", "pk", "space_id", "finished_at")
    }
    gates = {g.candidate_id: g for g in GateRun.objects.filter(candidate__agent=agent)}
    versions = list(adapter_versions(agent=agent))
    live = next((v for v in versions if v.pk == agent.current_adapter_id), None)
    version_views = []
    for version in reversed(versions):
        action = None
        if version is not live:
            action = "roll back" if live is not None and version.number < live.number else "promote"
        job_id, space_id, finished_at = made_by.get(version.pk, (None, None, None))
        gate = gates.get(version.pk)
        version_views.append(
            VersionView(
                version=version,
                live=version is live,
                job_id=job_id,
                gate=gate,
                # a job of one space queues its gate when it succeeds (learning.proofs)
                gate_queued=(
                    gate is None
                    and space_id is not None
                    and finished_at is not None
                    and timezone.now() - finished_at < GATE_WAIT
                ),
                proof_seq=proofs.get(job_id),
                action=action,
            )
        )
    return TrainingOverview(
        agent=agent,
        price=settings.ARENA_TRAINING_PRICE,
        pairs=new_pair_counts(agent),
        jobs=[JobView(j, proofs.get(j.pk), metric_points(j.metrics)) for j in jobs],
        versions=version_views,
    )


# --- a proof record and its verification status -----------------------------------------------


@dataclass
class ProofOverview:
    record: ChainRecord
    anchor: ChainAnchor | None
    problems: list[str] = field(default_factory=list)
    checked_at: datetime | None = None

    @property
    def status(self) -> str:
        return FAILED if self.problems else VERIFIED

    @property
    def payload(self) -> dict:
        return self.record.payload if isinstance(self.record.payload, dict) else {}

    def _part(self, key: str, kind: type):
        value = self.payload.get(key)
        return value if isinstance(value, kind) else kind()

    @property
    def base_model(self) -> dict:
        return self._part("base_model", dict)

    @property
    def pairs(self) -> dict:
        pairs = self._part("pairs", dict)
        ids = pairs.get("ids")
        return {
            "count": len(ids) if isinstance(ids, list) else None,
            "merkle_root": pairs.get("merkle_root"),
            "evidence_root": pairs.get("evidence_root"),
        }

    @property
    def data_order_length(self) -> int:
        return len(self._part("data_order", list))

    @property
    def checkpoints(self) -> list:
        return [c for c in self._part("checkpoints", list) if isinstance(c, dict)]

    def _rows(self, key: str) -> list[tuple[str, Any]]:
        return sorted(self._part(key, dict).items())

    @property
    def hyperparameters(self) -> list[tuple[str, Any]]:
        return self._rows("hyperparameters")

    @property
    def library_versions(self) -> list[tuple[str, Any]]:
        return self._rows("library_versions")

    @property
    def metrics(self) -> list[tuple[str, Any]]:
        return self._rows("metrics")

    @property
    def payload_json(self) -> str:
        return json.dumps(self.record.payload, indent=2, sort_keys=True, ensure_ascii=False)


def proof_record(seq: int) -> ChainRecord | None:
    return ChainRecord.objects.filter(chain=CHAIN, seq=seq).first()


def covering_anchor(record: ChainRecord) -> ChainAnchor | None:
    """The first anchor whose root commits to ``record`` (an anchor covers every record up to
    the one whose hash it carries)."""
    return (
        ChainAnchor.objects.filter(chain=record.chain, up_to_seq__gte=record.seq)
        .order_by("up_to_seq")
        .first()
    )


def _own_problems(record: ChainRecord, previous: ChainRecord | None) -> list[str]:
    problems = []
    try:
        content_hash = record.content_hash()
    except CanonicalJSONError as exc:
        content_hash = f"(none: {exc})"
    if content_hash != record.hash:
        problems.append(
            f"record {record.seq}: its hash does not match its content (which hashes to "
            f"{content_hash}): the record was edited"
        )
    expected = GENESIS_PREV_HASH if record.seq == 0 else (previous.hash if previous else None)
    if record.seq > 0 and previous is None:
        problems.append(f"record {record.seq - 1} is missing (deleted)")
    elif record.prev_hash != expected:
        problems.append(
            f"record {record.seq}: its prev_hash is not the hash of record {record.seq - 1}"
        )
    return problems


def chain_problems(record: ChainRecord, anchor: ChainAnchor | None) -> list[str]:
    """The record's own hash and link; with an anchor, every record from this one up to the
    anchored one too (each link carries the commitment on), and the anchored root."""
    last = anchor.up_to_seq if anchor is not None else record.seq
    records = {
        r.seq: r
        for r in ChainRecord.objects.filter(
            chain=record.chain, seq__gte=max(record.seq - 1, 0), seq__lte=last
        )
    }
    problems = []
    for seq in range(record.seq, last + 1):
        current = records.get(seq)
        if current is None:
            problems.append(f"record {seq} is missing (deleted)")
            continue
        problems += _own_problems(current, records.get(seq - 1))
    if anchor is not None:
        head = records.get(anchor.up_to_seq)
        if head is not None and head.hash != anchor.root:
            problems.append(
                f"record {anchor.up_to_seq}: its hash is not the root anchored in transaction "
                f"{anchor.tx_hash}: the chain was changed after it was anchored"
            )
    return problems


def _record_check(record: ChainRecord) -> list[str]:
    try:
        return verify_record(record).problems
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        # an edited payload may lack what the check reads; that is a failure, named
        return [f"record {record.seq}: its payload cannot be checked ({type(exc).__name__}: {exc})"]


def proof_overview(record: ChainRecord) -> ProofOverview:
    anchor = covering_anchor(record)
    key = f"learning:proof-status:{record.pk}:{record.hash}:{record.created_at.timestamp()}"
    cached = cache.get(key)
    if cached is None:
        cached = {
            "problems": chain_problems(record, anchor) + _record_check(record),
            "checked_at": timezone.now(),
        }
        cache.set(key, cached, PROOF_STATUS_CACHE_S)
    return ProofOverview(
        record=record, anchor=anchor, problems=cached["problems"], checked_at=cached["checked_at"]
    )


# --- API serializers --------------------------------------------------------------------------


class SpacePairsSerializer(serializers.Serializer):
    space = serializers.CharField(help_text="the space's slug")
    title = serializers.CharField()
    count = serializers.IntegerField(help_text="kept pairs the agent has not trained on")


class MetricPointSerializer(serializers.Serializer):
    step = serializers.IntegerField()
    loss = serializers.FloatField(allow_null=True)
    margin = serializers.FloatField(allow_null=True, help_text="DPO rewards/margins")
    accuracy = serializers.FloatField(allow_null=True, help_text="DPO rewards/accuracies")


class JobSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="job.pk")
    status = serializers.ChoiceField(source="job.status", choices=TrainingJob.Status.choices)
    requested_by = serializers.CharField(source="job.requested_by")
    space = serializers.CharField(source="job.space.slug", default=None, allow_null=True)
    pair_count = serializers.IntegerField(source="job.pair_count")
    price = serializers.IntegerField(source="job.price")
    step = serializers.IntegerField(source="job.step")
    total_steps = serializers.IntegerField(source="job.total_steps")
    percent = serializers.IntegerField()
    error = serializers.CharField(source="job.error")
    result_version = serializers.IntegerField(
        source="job.result.number", default=None, allow_null=True
    )
    proof_seq = serializers.IntegerField(
        allow_null=True, help_text="its proof-of-learning record: /api/v1/proofs/<seq>/"
    )
    metrics = MetricPointSerializer(many=True)
    created_at = serializers.DateTimeField(source="job.created_at")
    started_at = serializers.DateTimeField(source="job.started_at", allow_null=True)
    finished_at = serializers.DateTimeField(source="job.finished_at", allow_null=True)


class GateSerializer(serializers.ModelSerializer):
    space = serializers.CharField(source="space.slug")

    class Meta:
        model = GateRun
        fields = [
            "status",
            "space",
            "games",
            "wins",
            "losses",
            "ties",
            "win_rate",
            "low",
            "high",
            "promoted",
            "detail",
            "finished_at",
        ]
        read_only_fields = fields


class VersionSerializer(serializers.Serializer):
    number = serializers.IntegerField(source="version.number")
    sha256 = serializers.CharField(source="version.sha256")
    created_by = serializers.CharField(source="version.created_by")
    parent = serializers.IntegerField(
        source="version.parent.number", default=None, allow_null=True, help_text="its number"
    )
    created_at = serializers.DateTimeField(source="version.created_at")
    live = serializers.BooleanField()
    job = serializers.IntegerField(source="job_id", allow_null=True)
    gate = GateSerializer(allow_null=True)
    gate_queued = serializers.BooleanField(
        help_text="its job succeeded lately and its gate has not started yet"
    )
    proof_seq = serializers.IntegerField(allow_null=True)


class TrainingOverviewSerializer(serializers.Serializer):
    agent = serializers.IntegerField(source="agent.pk")
    price = serializers.IntegerField(help_text="credits a job costs (the operator's price)")
    new_pairs = serializers.IntegerField(help_text="kept pairs not trained on, all spaces")
    pairs = SpacePairsSerializer(many=True)
    jobs = JobSerializer(many=True, help_text=f"the {JOBS_SHOWN} latest, newest first")
    versions = VersionSerializer(many=True, help_text="newest first")


class TrainRequestSerializer(serializers.Serializer):
    space = StrictCharField(
        required=False,
        allow_null=True,
        max_length=64,
        trim_whitespace=False,
        validators=[validate_slug],
        help_text="train on this space's new pairs (its slug); absent or null: every space's",
    )


class AnchorSerializer(serializers.ModelSerializer):
    class Meta:
        model = ChainAnchor
        fields = ["up_to_seq", "root", "chain_id", "tx_hash", "block_number", "created_at"]
        read_only_fields = fields


class ProofSerializer(serializers.Serializer):
    chain = serializers.CharField(source="record.chain")
    seq = serializers.IntegerField(source="record.seq")
    kind = serializers.CharField(source="record.kind")
    payload = serializers.JSONField(source="record.payload", help_text="what the record commits to")
    hash = serializers.CharField(source="record.hash")
    prev_hash = serializers.CharField(source="record.prev_hash")
    created_at = serializers.DateTimeField(source="record.created_at")
    anchor = AnchorSerializer(allow_null=True)
    status = serializers.ChoiceField(choices=[VERIFIED, FAILED])
    problems = serializers.ListField(child=serializers.CharField())
    checked_at = serializers.DateTimeField()
