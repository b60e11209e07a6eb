"""Admin for entries and matches. Read-only: money moves only through the services. A space
creator sees the entries and matches of their own spaces; staff see all."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.contrib import admin, messages
from django.db.models import Count, Q
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from arena.match_view import match_readout
from arena.models import Entry, Match, Seat
from arena.studio import PreviewError, payout_preview
from judges.admin import try_panel_url
from judges.panel_form import PanelField
from ledger import services as ledger
from ledger.errors import LedgerError
from spaces.admin import PLATFORM_RAKE_DEFAULT, SpaceAdmin
from spaces.forms import PLACES, SpaceAdminForm, share_field_name
from spaces.models import Space
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
    # The readable match (prompt, answers, verdicts, money) comes first; the raw rows follow.
    change_form_template = "admin/arena/match/change_form.html"

    class Media:
        css = {"all": ("css/studio.css",)}

    def change_view(self, request, object_id, form_url="", extra_context=None):
        match = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if match is not None:
            extra.update(
                readout=match_readout(match),
                space_page_url=_space_page_url(match.space),
                space_admin_url=reverse("admin:spaces_space_change", args=[match.space_id]),
            )
        return super().change_view(request, object_id, form_url, extra)

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


# --- the creator's studio: the space editor with the apps above spaces ------------------------
# spaces' own admin edits a space with real fields for what spaces knows (rules, payout shares,
# rakes); the judge kinds (judges) and the pot split (arena) live above it, so the studio that
# adds the panel builder and the payout preview is composed here, in the highest layer that
# has both, and replaces spaces' registration.


class StudioSpaceForm(SpaceAdminForm):
    judge_panel = PanelField()


class StudioSpaceAdmin(SpaceAdmin):
    form = StudioSpaceForm

    class Media:
        css = {"all": ("css/studio.css",)}
        js = ("js/studio.js",)

    def get_urls(self):
        preview = self.admin_site.admin_view(self.payout_preview_view)
        revenue = self.admin_site.admin_view(self.move_revenue_view)
        return [
            path("studio/payout-preview/", preview, name="spaces_space_payout_preview"),
            path("studio/move-revenue/", revenue, name="spaces_space_move_revenue"),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context.update(
            studio=True,
            try_panel_url=try_panel_url(obj) if obj is not None and obj.pk else None,
            payout_preview_url=reverse("admin:spaces_space_payout_preview"),
            preview_seats=obj.agents_per_match if obj is not None else 2,
            space_page_url=_space_page_url(obj),
            creator_revenue=_creator_revenue(obj.creator) if obj is not None and obj.pk else None,
            move_revenue_url=reverse("admin:spaces_space_move_revenue"),
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def payout_preview_view(self, request):
        """The preview box's content for what the editor holds now (htmx sends the form)."""
        query = request.GET
        space = None
        if query.get("space", "").isdigit():
            space = spaces_managed_by(request.user).filter(pk=int(query["space"])).first()
        platform = query.get("platform_rake")
        if platform is None:  # a creator's form has no platform rake field: the stored one
            bps = space.platform_rake_bps if space else PLATFORM_RAKE_DEFAULT
            platform = str(Decimal(bps) / 100)
        context = {"preview": None, "error": None}
        try:
            context["preview"] = payout_preview(
                pot=query.get("preview_pot", "1000"),
                ranking=query.get("preview_ranking"),
                shares=[query.get(share_field_name(p)) for p in range(1, PLACES + 1)],
                creator_rake=query.get("creator_rake"),
                platform_rake=platform,
                seats=_seats(query.get("agents_per_match")),
            )
        except PreviewError as exc:
            context["error"] = str(exc)
        return TemplateResponse(request, "admin/spaces/space/_payout_preview.html", context)

    def move_revenue_view(self, request):
        return move_creator_revenue(self, request)


def _space_page_url(space: Space | None) -> str | None:
    """The public space page (leaderboard, and the judge-bias report for its managers); None
    where the site's pages are not served (an admin-only URLconf)."""
    if space is None or not space.pk:
        return None
    try:
        return reverse("arena:space", args=[space.slug])
    except NoReverseMatch:
        return None


def _seats(text: str | None) -> int:
    text = (text or "").strip()
    return min(max(int(text), 2), PLACES) if text.isdigit() else 2


def _creator_revenue(user) -> int:
    return ledger.balance(ledger.creator_revenue_account(user))


def move_creator_revenue(model_admin, request):
    """POST: move the creator's revenue to her withdrawable balance (the ledger's service)."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    back = request.POST.get("next") or reverse("admin:spaces_space_changelist")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("admin:spaces_space_changelist")
    text = (request.POST.get("amount") or "").strip()
    if not text.isdigit() or int(text) < 1:
        model_admin.message_user(
            request, f"Amount: enter a whole number of credits from 1, not {text!r}", messages.ERROR
        )
        return HttpResponseRedirect(back)
    try:
        ledger.creator_revenue_withdraw(
            user=request.user, amount=int(text), key=f"creator-revenue:{uuid.uuid4()}"
        )
    except LedgerError as exc:
        model_admin.message_user(request, f"Nothing moved: {exc}", messages.ERROR)
    else:
        model_admin.message_user(
            request, f"Moved {int(text)} credits to your balance.", messages.SUCCESS
        )
    return HttpResponseRedirect(back)


admin.site.unregister(Space)
admin.site.register(Space, StudioSpaceAdmin)
