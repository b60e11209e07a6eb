"""API for agents (under /api/v1/): list own, create, detail, edit, fork, adapter versions, any
agent's configuration revisions, and the base-model registry. Views are thin: serializers check
shapes, services do the work."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from agents import revisions, selectors, services
from agents.errors import AgentError, AgentValidationError
from agents.models import (
    ALLOWED_TARGET_MODULES,
    REVISION_FIELDS,
    AdapterVersion,
    Agent,
    AgentRevision,
    BaseModel,
)
from ledger.api.fields import (
    StrictCharField,
    StrictPrimaryKeyRelatedField,
    strict_field_mapping,
)

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


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "enum": list(ALLOWED_TARGET_MODULES)},
        "minItems": 1,
        "uniqueItems": True,
    }
)
class TargetModulesField(serializers.JSONField):
    """The model's JSON list of module names (its validator checks them): documented as the list
    it must be, where a bare JSONField would document any JSON value."""


def _is_exclusive_minimum(validator) -> bool:
    # A minimum that refuses its own limit: (0, 1] rather than [0, 1] (agents/models.py RANGES).
    return isinstance(validator, MinValueValidator) and validator.compare(
        validator.limit_value, validator.limit_value
    )


class AgentSerializer(serializers.ModelSerializer):
    # JSON values taken at their type: "name": 0 or "top_k": "5" is refused, not coerced.
    serializer_field_mapping = strict_field_mapping(
        serializers.ModelSerializer.serializer_field_mapping
    )
    serializer_related_field = StrictPrimaryKeyRelatedField

    owner = serializers.CharField(source="owner.username", read_only=True)
    current_adapter = AdapterVersionSerializer(read_only=True, allow_null=True)
    base_model = StrictPrimaryKeyRelatedField(queryset=BaseModel.objects.all(), required=False)

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

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        if field_name == "target_modules":
            field_class = TargetModulesField
        # DRF turns a model's minimum validators into ``min_value``, inclusive, dropping an
        # exclusive one: keep it, so the field refuses the limit and the schema says so.
        exclusive = [v for v in model_field.validators if _is_exclusive_minimum(v)]
        if exclusive:
            kwargs["validators"] = [*kwargs.get("validators", []), *exclusive]
        return field_class, kwargs


class ForkSerializer(serializers.Serializer):
    name = StrictCharField(max_length=80)


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


# --- configuration revisions (public record; the prompt only where the owner shares it) ---------


def _revision_config_serializer() -> type[serializers.Serializer]:
    """A serializer of a revision's config with every REVISION_FIELDS value typed as on the
    agent (the schema documents them); the prompt is null where it is not shared."""
    fields: dict[str, serializers.Field] = {}
    for name in REVISION_FIELDS:
        if name == "system_prompt":
            fields[name] = serializers.CharField(
                allow_null=True, help_text="null when the owner does not share the prompt"
            )
        elif name == "target_modules":
            fields[name] = serializers.ListField(child=serializers.CharField())
        else:
            model_field = Agent._meta.get_field(name)
            if isinstance(model_field, models.BooleanField):
                fields[name] = serializers.BooleanField()
            elif isinstance(model_field, models.FloatField):
                fields[name] = serializers.FloatField()
            else:
                fields[name] = serializers.IntegerField()
    return type("RevisionConfigSerializer", (serializers.Serializer,), fields)


RevisionConfigSerializer = _revision_config_serializer()


class AgentRevisionSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)
    config = serializers.SerializerMethodField()

    class Meta:
        model = AgentRevision
        fields = ["number", "created_at", "created_by", "note", "config"]

    @extend_schema_field(RevisionConfigSerializer)
    def get_config(self, revision: AgentRevision) -> dict:
        return revisions.visible_config(
            revision.config, show_prompt=self.context.get("show_prompt", False)
        )


def _public_agent(request, pk: int) -> Agent:
    """Any agent: its record is public (``arena``'s agent page shows it to anyone)."""
    agent = selectors.agent_get(agent_id=pk)
    if agent is None:
        raise Http404("no such agent")
    return agent


class AgentRevisions(generics.ListAPIView):
    """An agent's configuration revisions, newest first: any player may read them; the system
    prompt is null unless the owner shares it (or the caller is the owner)."""

    serializer_class = AgentRevisionSerializer

    def get_queryset(self):
        agent = _public_agent(self.request, self.kwargs["pk"])
        self.show_prompt = agent.prompt_visible_to(self.request.user)
        return revisions.revisions_of(agent).order_by("-number")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["show_prompt"] = getattr(self, "show_prompt", False)
        return context
