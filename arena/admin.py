"""Admin for entries and matches. Read-only: money moves only through the services. A space
creator sees the entries and matches of their own spaces; staff see all."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, Q

from arena.models import Entry, Match, Seat
from spaces.selectors import spaces_managed_by


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def get_queryset(self, request):
        return super().get_queryset(request).filter(space__in=spaces_managed_by(request.user))


class SeatInline(admin.TabularInline):
    model = Seat
    extra = 0
    can_delete = False
    fields = [
        "index",
        "agent",
        "owner",
        "rank",
        "payout",
        "completion_tokens",
        "finish_reason",
        "violation",
        "injection",
        "latency_ms",
        "adapter_sha256",
        "audit_status",
        "audit_detail",
        "text",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Entry)
class EntryAdmin(_ReadOnly):
    list_display = [
        "id",
        "space",
        "agent",
        "owner",
        "fee_tier",
        "fee",
        "status",
        "match",
        "created",
    ]
    list_filter = ["status", "space"]
    search_fields = ["agent__name", "owner__username", "key"]


class FlaggedAnswersFilter(admin.SimpleListFilter):
    """Matches with an answer that addressed the judge (judges.injection), for staff review."""

    title = "answers that address the judge"
    parameter_name = "flagged"

    def lookups(self, request, model_admin):
        return [("yes", "flagged"), ("no", "not flagged")]

    def queryset(self, request, queryset):
        flagged = Seat.objects.exclude(injection=[]).values("match_id")
        if self.value() == "yes":
            return queryset.filter(pk__in=flagged)
        if self.value() == "no":
            return queryset.exclude(pk__in=flagged)
        return queryset


class RolloutAuditFilter(admin.SimpleListFilter):
    """Matches by their rollouts' audits (arena.services.rollout_audit): "flagged" is the review
    queue of rollouts whose recorded log-probabilities did not match a recompute."""

    title = "rollout audit"
    parameter_name = "rollout_audit"

    def lookups(self, request, model_admin):
        return [
            ("flagged", "a rollout flagged"),
            ("passed", "audited, none flagged"),
            ("pending", "waiting for the audit sampler"),
        ]

    def queryset(self, request, queryset):
        def having(status):
            return Seat.objects.filter(audit_status=status).values("match_id")

        if self.value() == "flagged":
            return queryset.filter(pk__in=having(Seat.AuditStatus.FLAGGED))
        if self.value() == "passed":
            return queryset.filter(pk__in=having(Seat.AuditStatus.PASSED)).exclude(
                pk__in=having(Seat.AuditStatus.FLAGGED)
            )
        if self.value() == "pending":
            return queryset.filter(pk__in=having(Seat.AuditStatus.UNAUDITED))
        return queryset


@admin.register(Match)
class MatchAdmin(_ReadOnly):
    list_display = [
        "id",
        "space",
        "fee_tier",
        "status",
        "pot",
        "creator_rake",
        "platform_rake",
        "flagged_rollouts",
        "created",
        "finished_at",
    ]
    list_filter = ["status", "space", FlaggedAnswersFilter, RolloutAuditFilter]
    inlines = [SeatInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                flagged_rollout_count=Count(
                    "seats", filter=Q(seats__audit_status=Seat.AuditStatus.FLAGGED)
                )
            )
        )

    @admin.display(description="flagged rollouts", ordering="flagged_rollout_count")
    def flagged_rollouts(self, obj):
        return obj.flagged_rollout_count
