"""Training under /api/v1/: what the agent page's training section shows and does, for the agent's
owner (anyone else gets a 404), and the public proof records.

- ``GET agents/<id>/training/``: new pairs per space, the price, jobs (progress and per-step
  metrics), versions (live, gate result, proof record);
- ``POST agents/<id>/training/jobs/``: train now (``training_request``); 400 with the reason
  when refused (no new pairs, a job already queued or running, the price cannot be paid),
  nothing written or paid;
- ``POST agents/<id>/versions/<number>/promote/``: make that version live (promote or roll
  back, ``version_promote``);
- ``GET proofs/<seq>/``: a proof-of-learning record, its anchor, and its verification status.

Writes share the ``training`` rate limit with the web buttons.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.errors import AgentError
from agents.models import Agent
from arena.api_support import ErrorSerializer
from learning.serializers import (
    JobSerializer,
    ProofSerializer,
    TrainingOverviewSerializer,
    TrainRequestSerializer,
    VersionSerializer,
    metric_points,
    proof_overview,
    proof_record,
    training_overview,
)
from learning.serializers import JobView as _JobView
from learning.services import training_request, version_promote
from spaces.models import Space

NOT_YOURS = "no agent of yours has that id"


def _error(message: str, code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response({"detail": message}, status=code)


def _own_agent(request, pk: int) -> Agent | None:
    return Agent.objects.select_related("current_adapter").filter(pk=pk, owner=request.user).first()


class AgentTraining(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="An agent's training: new pairs, price, jobs, versions",
        responses={
            200: TrainingOverviewSerializer,
            404: OpenApiResponse(ErrorSerializer, description=NOT_YOURS),
        },
    )
    def get(self, request, pk: int):
        agent = _own_agent(request, pk)
        if agent is None:
            return _error(NOT_YOURS, status.HTTP_404_NOT_FOUND)
        return Response(TrainingOverviewSerializer(training_overview(agent)).data)


class AgentTrainingJobs(APIView):
    permission_classes = [IsAuthenticated]
    throttle_scope = "training"  # POSTs only (ledger/throttling.py)

    @extend_schema(
        summary="Train now: queue a job on the agent's new kept pairs",
        description=(
            "Holds the operator's price from your balance (refunded if the job fails). "
            "Refused with 400 and the reason, nothing written or paid, when there are no new "
            "kept pairs (in the space), a job is already queued or running, or the price "
            "cannot be paid."
        ),
        request=TrainRequestSerializer,
        # 400 (the reason in "detail", or per field) is documented by ArenaAutoSchema
        responses={
            201: JobSerializer,
            404: OpenApiResponse(ErrorSerializer, description=NOT_YOURS),
        },
    )
    def post(self, request, pk: int):
        agent = _own_agent(request, pk)
        if agent is None:
            return _error(NOT_YOURS, status.HTTP_404_NOT_FOUND)
        body = TrainRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        slug = body.validated_data.get("space")
        space = None
        if slug is not None:
            space = Space.objects.filter(slug=slug).first()
            if space is None:
                return _error(f"no space {slug!r}")
        try:
            job = training_request(agent=agent, space=space, requested_by="owner")
        except AgentError as exc:
            return _error(str(exc))
        view = _JobView(job=job, proof_seq=None, metrics=metric_points(job.metrics))
        return Response(JobSerializer(view).data, status=status.HTTP_201_CREATED)


class VersionPromote(APIView):
    permission_classes = [IsAuthenticated]
    throttle_scope = "training"

    @extend_schema(
        summary="Make an adapter version live (promote it, or roll back to it)",
        request=None,
        parameters=[
            OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="agent"),
            OpenApiParameter(
                "number",
                OpenApiTypes.INT,
                OpenApiParameter.PATH,
                description="the version's number (v0 is the fresh adapter)",
            ),
        ],
        responses={
            200: VersionSerializer,
            400: OpenApiResponse(ErrorSerializer, description="refused, and why"),
            404: OpenApiResponse(ErrorSerializer, description="no such agent or version of yours"),
        },
    )
    def post(self, request, pk: int, number: str):
        agent = _own_agent(request, pk)
        # The number is matched here, not by the URL, so that a request without credentials
        # is refused as such whatever it names (tests/api/test_auth_required.py).
        version = None
        if agent is not None and number.isascii() and number.isdigit() and len(number) < 10:
            version = agent.adapter_versions.filter(number=int(number)).first()
        if version is None:
            return _error("no such agent or version of yours", status.HTTP_404_NOT_FOUND)
        try:
            agent = version_promote(agent=agent, version=version)
        except AgentError as exc:
            return _error(str(exc))
        shown = next(v for v in training_overview(agent).versions if v.version.pk == version.pk)
        return Response(VersionSerializer(shown).data)


class ProofDetail(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        summary="A proof-of-learning record and its verification status (public)",
        description=(
            "The record's payload (what the training job committed to), hash, prev_hash, the "
            "anchor transaction that covers it (if any), and its verification status: the "
            "record's own hash and link, the chain up to its anchor, and verify_pol's checks "
            "of this record without replay (pairs, evidence, adapter and checkpoint files, "
            "settings, data order); each problem is named. The status may be a minute old."
        ),
        responses={
            200: ProofSerializer,
            404: OpenApiResponse(ErrorSerializer, description="no such record"),
        },
    )
    def get(self, request, seq: int):
        record = proof_record(seq)
        if record is None:
            return _error("no such proof record", status.HTTP_404_NOT_FOUND)
        return Response(ProofSerializer(proof_overview(record)).data)
