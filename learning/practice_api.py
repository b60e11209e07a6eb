"""Practice runs under /api/v1/ (the owner's; anyone else gets a 404):

- ``POST practice/``: queue a run (``practice_request``): side A and side B as tokens, an
  optional draft of side A's agent, the space and K; 201 with the run; 400 naming the field,
  nothing stored or paid, when refused;
- ``GET practice/<id>/``: the run, its games and each verdict in words, the win rate and its
  95% interval;
- ``POST practice/<id>/apply/``: make a finished draft the agent's live configuration.

Writes share the ``practice`` rate limit with the pages.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from arena.api_support import ErrorSerializer
from learning.errors import PracticeError, PracticeValidationError
from learning.models import PracticeRun
from learning.practice import practice_apply, practice_request, side_from_token
from learning.practice_selectors import run_overview
from learning.practice_serializers import (
    PracticeRequestSerializer,
    PracticeRunSerializer,
    run_data,
)
from spaces.models import Space

NOT_YOURS = "no practice run of yours has that id"


def _refused(exc: PracticeError):
    """A 400 naming the field (the service's words), or the reason in ``detail``."""
    if isinstance(exc, PracticeValidationError):
        raise ValidationError(exc.errors)
    raise ValidationError({"detail": [str(exc)]})


def _run_response(run: PracticeRun, code: int = status.HTTP_200_OK) -> Response:
    return Response(PracticeRunSerializer(run_data(run_overview(run))).data, status=code)


def _own_run(request, pk: int) -> PracticeRun | None:
    return PracticeRun.objects.filter(pk=pk, owner=request.user).first()


class PracticeRuns(APIView):
    permission_classes = [IsAuthenticated]
    throttle_scope = "practice"  # POSTs only (ledger/throttling.py)

    @extend_schema(
        summary="Queue a practice run: side A against side B on a space's training prompts",
        description=(
            "No prize, no rating change, no preference pairs. Costs the operator's practice "
            "fee (refunded if the games cannot be played), within a daily quota. With a "
            "draft, side A is its agent's live configuration with the draft's values (side A "
            "must then be an agent, not a revision). Refused with 400 naming the field, "
            "nothing stored or paid."
        ),
        request=PracticeRequestSerializer,
        responses={201: PracticeRunSerializer},
    )
    def post(self, request):
        body = PracticeRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        space = Space.objects.filter(slug=data["space"]).first()
        if space is None:
            raise ValidationError({"space": ["There is no such space."]})
        try:
            a = side_from_token(owner=request.user, token=data["a"], what="side A")
            b = None
            if "b" in data:
                b = side_from_token(owner=request.user, token=data["b"], what="side B")
            run = practice_request(
                owner=request.user,
                agent=a,
                space=space,
                k=data["k"],
                draft=data.get("draft"),
                baseline=b,
            )
        except PracticeError as exc:
            _refused(exc)
        return _run_response(run, status.HTTP_201_CREATED)


class PracticeRunDetail(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="A practice run: its games, each verdict, and side A's win rate",
        responses={
            200: PracticeRunSerializer,
            404: OpenApiResponse(ErrorSerializer, description=NOT_YOURS),
        },
    )
    def get(self, request, pk: int):
        run = _own_run(request, pk)
        if run is None:
            return Response({"detail": NOT_YOURS}, status=status.HTTP_404_NOT_FOUND)
        return _run_response(run)


class PracticeRunApply(APIView):
    permission_classes = [IsAuthenticated]
    throttle_scope = "practice"

    @extend_schema(
        summary="Apply a finished draft: it becomes the agent's live configuration",
        description=(
            "A new revision of the agent. Refused with 400 and the reason when the run is not "
            "a draft, not done, applied already, or the agent's configuration changed since "
            "the run was queued."
        ),
        request=None,
        responses={
            200: PracticeRunSerializer,
            404: OpenApiResponse(ErrorSerializer, description=NOT_YOURS),
        },
    )
    def post(self, request, pk: int):
        run = _own_run(request, pk)
        if run is None:
            return Response({"detail": NOT_YOURS}, status=status.HTTP_404_NOT_FOUND)
        try:
            practice_apply(run=run, by=request.user)
        except PracticeError as exc:
            _refused(exc)
        return _run_response(run)
