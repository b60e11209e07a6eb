"""API for agents (under /api/v1/): list own, create, detail, edit, fork, adapter versions, and
the base-model registry. Views are thin: serializers check shapes, services do the work."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from agents import selectors, services
from agents.errors import AgentError, AgentValidationError
from agents.models import AdapterVersion, Agent, BaseModel

SETTINGS_FIELDS = list(services.SETTINGS_FIELDS)


class BaseModelSerializer(serializers.ModelSerializer):
    class Meta:
        model = BaseModel
        fields = ["id", "name", "is_default"]


class AdapterVersionSerializer(serializers.ModelSerializer):
    # The first version of an adapter has no parent.
    parent_sha256 = serializers.CharField(
        source="parent.sha256", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = AdapterVersion
        fields = ["number", "sha256", "parent_sha256", "seed", "created_by", "created_at"]


class AgentSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    current_adapter = AdapterVersionSerializer(read_only=True, allow_null=True)
    base_model = serializers.PrimaryKeyRelatedField(
        queryset=BaseModel.objects.all(), required=False
    )

    class Meta:
        model = Agent
        fields = [
            "id",
            "owner",
            "name",
            "base_model",
            *SETTINGS_FIELDS,
            "auto_matches_entered",
            "current_adapter",
            "forked_from",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["auto_matches_entered", "forked_from", "created_at", "updated_at"]
        # The (owner, name) uniqueness is checked by the service (owner is not an input here).
        validators = []


class ForkSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=80)


def _error_response(exc: AgentError) -> Response:
    if isinstance(exc, AgentValidationError):
        return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)
    return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)


class AgentListCreate(generics.ListCreateAPIView):
    serializer_class = AgentSerializer

    def get_queryset(self):
        return selectors.agents_of(user=self.request.user)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            agent = services.agent_create(owner=request.user, **serializer.validated_data)
        except AgentError as exc:
            return _error_response(exc)
        return Response(AgentSerializer(agent).data, status=status.HTTP_201_CREATED)


class AgentDetail(generics.RetrieveUpdateAPIView):
    serializer_class = AgentSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):
        # Someone else's agent is a 404: its existence is not the caller's business.
        return selectors.agents_of(user=self.request.user)

    def update(self, request, *args, **kwargs):
        agent = self.get_object()
        serializer = self.get_serializer(agent, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        if "base_model" in changes and changes["base_model"] != agent.base_model:
            return Response(
                {"base_model": ["cannot change the base model; create a new agent"]}, status=400
            )
        changes.pop("base_model", None)
        try:
            agent = services.agent_update(agent=agent, by=request.user, **changes)
        except AgentError as exc:
            return _error_response(exc)
        return Response(AgentSerializer(agent).data)


class AgentFork(APIView):
    @extend_schema(request=ForkSerializer, responses={201: AgentSerializer})
    def post(self, request, pk: int):
        agent = get_object_or_404(selectors.agents_of(user=request.user), pk=pk)
        serializer = ForkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            fork = services.agent_fork(
                agent=agent, owner=request.user, name=serializer.validated_data["name"]
            )
        except AgentError as exc:
            return _error_response(exc)
        return Response(AgentSerializer(fork).data, status=status.HTTP_201_CREATED)


class AgentAdapters(generics.ListAPIView):
    serializer_class = AdapterVersionSerializer
    pagination_class = None

    def get_queryset(self):
        agent = get_object_or_404(selectors.agents_of(user=self.request.user), pk=self.kwargs["pk"])
        return selectors.adapter_versions(agent=agent)


class BaseModelList(generics.ListAPIView):
    serializer_class = BaseModelSerializer
    pagination_class = None

    def get_queryset(self):
        return selectors.base_models()
