"""Admin for entries and matches. Read-only: money moves only through the services. A space
creator sees the entries and matches of their own spaces; staff see all."""

from __future__ import annotations

from django.contrib import admin

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
        "created",
        "finished_at",
    ]
    list_filter = ["status", "space", FlaggedAnswersFilter]
    inlines = [SeatInline]
