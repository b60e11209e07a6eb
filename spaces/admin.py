"""The creator admin: space creators run their own spaces here, staff run all of them.

Which objects a user may touch comes from ``spaces.selectors.spaces_managed_by``; model permissions
come from the creator group (``spaces.permissions.grant_creator_permissions``). Writes go through
the services, so the admin refuses exactly what the API refuses."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from spaces.economics import STAFF_ONLY_FIELDS
from spaces.errors import PromptBankError, SpaceError
from spaces.forms import (
    PLACES,
    RULE_LABELS,
    FeeTierInlineFormSet,
    PromptAdminForm,
    PromptBankUploadForm,
    SpaceAdminForm,
    percent,
    place_name,
    share_field_name,
)
from spaces.hooks import space_admin_links, space_summary
from spaces.models import BPS, FeeTier, Prompt, Space
from spaces.selectors import prompt_counts, spaces_managed_by, user_sees_all_spaces
from spaces.services import (
    EDITABLE_FIELDS,
    fee_tier_create,
    fee_tier_delete,
    fee_tier_update,
    prompt_bank_import,
    space_create,
    space_set_status,
    space_update,
)
from spaces.validation import DEFAULT_RULES

RULE_FIELDS = tuple(RULE_LABELS)
SHARE_FIELDS = tuple(share_field_name(place) for place in range(1, PLACES + 1))
# The editor's field (or read-only line) for each stored field only staff may set.
STAFF_ONLY_DISPLAY = {"platform_rake_bps": "platform_rake"}
PLATFORM_RAKE_DEFAULT = Space._meta.get_field("platform_rake_bps").default


def _manages(request: HttpRequest, space: Space | None) -> bool:
    return space is None or spaces_managed_by(request.user).filter(pk=space.pk).exists()


class FeeTierInline(admin.TabularInline):
    model = FeeTier
    formset = FeeTierInlineFormSet
    extra = 1
    fields = ("name", "fee")

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.actor = request.user  # a class made for this request
        return formset


@admin.register(Space)
class SpaceAdmin(admin.ModelAdmin):
    list_display = ("slug", "title", "status", "task_kind", "agents_per_match", "creator")
    list_filter = ("status", "task_kind")
    search_fields = ("slug", "title")
    form = SpaceAdminForm
    inlines = [FeeTierInline]
    actions = ["open_spaces", "pause_spaces", "close_spaces"]
    fieldsets = [
        (None, {"fields": ("slug", "title", "description", "creator", "status")}),
        (
            "Task and judges",
            {
                "description": "What agents are asked, and who ranks their answers. A verifiable "
                "space needs a verifier (a judge that checks reference answers or tests).",
                "fields": ("task_kind", "judge_panel"),
            },
        ),
        (
            "Answer rules",
            {
                "description": "How every answer is shaped before judging, and what "
                "disqualifies it.",
                "fields": RULE_FIELDS,
            },
        ),
        (
            "Matches and money",
            {
                "description": "Fee tiers (below), payout shares, rakes and subsidy change only "
                "while the space is a draft or paused with no entry waiting and no match in "
                "progress: players entered under the ones it shows. Payout shares are "
                "percentages of the prize pool by place and add up to 100%; places past the "
                "last share win nothing, tied agents split the shares of the places they "
                "occupy. Platform staff set the platform rake.",
                "fields": (
                    "agents_per_match",
                    SHARE_FIELDS[:4],
                    SHARE_FIELDS[4:],
                    "creator_rake",
                    "platform_rake",
                    "subsidy",
                ),
                "classes": ("studio-money",),
            },
        ),
        ("Prompt bank", {"fields": ("heldout_fraction", "prompt_bank")}),
        ("Activity", {"fields": ("activity", "created", "updated")}),
    ]
    # A closed space is history, shown read-only: its stored values, in words.
    closed_fieldsets = [
        (None, {"fields": ("slug", "title", "description", "creator", "status")}),
        ("Task and judges", {"fields": ("task_kind", "judge_panel")}),
        ("Answer rules", {"fields": ("rules_in_words",)}),
        (
            "Matches and money",
            {
                "fields": (
                    "agents_per_match",
                    "payout_in_words",
                    "creator_rake_in_words",
                    "platform_rake",
                    "subsidy",
                )
            },
        ),
        ("Prompt bank", {"fields": ("heldout_fraction", "prompt_bank")}),
        ("Activity", {"fields": ("activity", "created", "updated")}),
    ]

    # --- who sees what ---------------------------------------------------------------------

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("creator")
        if user_sees_all_spaces(request.user):
            return qs
        return qs.filter(creator=request.user)

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and _manages(request, obj)

    def has_change_permission(self, request, obj=None):
        # A closed space is history (its matches were paid under its rules): view only.
        if obj is not None and obj.status == Space.Status.CLOSED:
            return False
        return super().has_change_permission(request, obj) and _manages(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and _manages(request, obj)

    def get_fieldsets(self, request, obj=None):
        if obj is not None and not self.has_change_permission(request, obj):
            return self.closed_fieldsets
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        fields = ["status", "prompt_bank", "activity", "created", "updated"]
        if obj is not None:
            fields += ["slug", "creator"]  # the slug names URLs and channel groups
        elif not user_sees_all_spaces(request.user):
            fields.append("creator")  # a creator's new space is theirs
        if not user_sees_all_spaces(request.user):
            # The platform's cut (STAFF_ONLY_FIELDS: platform_rake_bps, shown as a percentage);
            # the service refuses it too.
            fields += [STAFF_ONLY_DISPLAY[name] for name in STAFF_ONLY_FIELDS]
        return fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.actor = request.user  # a class made for this request
        return form

    def get_changeform_initial_data(self, request):
        return {"creator": request.user.pk, **super().get_changeform_initial_data(request)}

    def get_list_filter(self, request):
        if user_sees_all_spaces(request.user):
            return [*self.list_filter, "creator"]
        return self.list_filter

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # Tools of the apps above spaces (judges: "Try a judge panel"), shown beside "History".
        context["space_admin_links"] = space_admin_links(obj) if obj is not None else []
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- writes through the services ---------------------------------------------------------

    def save_model(self, request, obj, form, change):
        fields = {name: getattr(obj, name) for name in EDITABLE_FIELDS}
        if change:
            saved = space_update(space=obj, actor=request.user, **fields)
            announced = getattr(saved, "economics_change", None)
            if (
                announced is not None
                and getattr(announced, "effective_at", None)
                and (announced.status == "pending")
            ):
                # Players are in the space: the change waits for its notice period.
                self.message_user(
                    request,
                    "The economics change is announced in the space's change log and takes "
                    f"effect {announced.effective_at:%Y-%m-%d %H:%M} UTC.",
                    messages.WARNING,
                )
            return
        creator = obj.creator if user_sees_all_spaces(request.user) and obj.creator_id else None
        saved = space_create(
            creator=creator or request.user, slug=obj.slug, actor=request.user, **fields
        )
        # The inlines are saved against the form's instance: make it the row just created.
        obj.pk, obj.creator, obj.status = saved.pk, saved.creator, saved.status
        obj.created, obj.updated = saved.created, saved.updated
        obj._state.adding = False

    def save_formset(self, request, form, formset, change):
        if formset.model is not FeeTier:
            return super().save_formset(request, form, formset, change)
        # Fee tiers are economics: through the services, which check who may change them now.
        formset.save(commit=False)  # fills new_objects, changed_objects, deleted_objects
        announced = []
        for tier in formset.deleted_objects:
            announced.append(fee_tier_delete(tier=tier, actor=request.user))
        for tier, _ in formset.changed_objects:
            updated = fee_tier_update(tier=tier, name=tier.name, fee=tier.fee, actor=request.user)
            announced.append(updated.economics_change)
        for tier in formset.new_objects:
            created = fee_tier_create(
                space=form.instance, name=tier.name, fee=tier.fee, actor=request.user
            )
            tier.pk = created.pk
            announced.append(created.economics_change)
        # A tier change to a space in play is announced, not applied: say when it takes effect.
        due = [c.effective_at for c in announced if c is not None and c.status == "pending"]
        if due:
            self.message_user(
                request,
                "The fee tier change is announced in the space's change log and takes effect "
                f"{max(due):%Y-%m-%d %H:%M} UTC.",
                messages.WARNING,
            )
        return None

    def _set_status(self, request, queryset, status: str) -> None:
        for space in queryset:
            if not self.has_change_permission(request, space):
                self.message_user(request, f"{space}: not yours to change", messages.ERROR)
                continue
            try:
                space_set_status(space=space, status=status)
            except SpaceError as exc:
                self.message_user(request, f"{space}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{space}: now {status}", messages.SUCCESS)

    @admin.action(description="Open selected spaces", permissions=["change"])
    def open_spaces(self, request, queryset):
        self._set_status(request, queryset, Space.Status.OPEN)

    @admin.action(description="Pause selected spaces", permissions=["change"])
    def pause_spaces(self, request, queryset):
        self._set_status(request, queryset, Space.Status.PAUSED)

    @admin.action(description="Close selected spaces (final)", permissions=["change"])
    def close_spaces(self, request, queryset):
        self._set_status(request, queryset, Space.Status.CLOSED)

    # --- read-only boxes -------------------------------------------------------------------

    @admin.display(description="prompts")
    def prompt_bank(self, obj: Space) -> str:
        if obj.pk is None:
            return "save the space first, then upload its prompt bank"
        counts = prompt_counts(obj)
        return format_html(
            '{} train, {} held out &nbsp; <a href="{}?space={}">see prompts</a> &nbsp; '
            '<a href="{}">upload a prompt bank</a>',
            counts["train"],
            counts["heldout"],
            reverse("admin:spaces_prompt_changelist"),
            obj.pk,
            reverse("admin:spaces_space_prompt_bank", args=[obj.pk]),
        )

    @admin.display(description="platform rake")
    def platform_rake(self, obj: Space | None) -> str:
        bps = obj.platform_rake_bps if obj is not None else PLATFORM_RAKE_DEFAULT
        return f"{percent(Decimal(bps) / BPS)}% of the pot (set by platform staff)"

    @admin.display(description="creator rake")
    def creator_rake_in_words(self, obj: Space) -> str:
        return f"{percent(Decimal(obj.creator_rake_bps) / BPS)}% of the pot"

    @admin.display(description="payout shares")
    def payout_in_words(self, obj: Space) -> str:
        return ", ".join(
            f"{place_name(place)} {percent(Decimal(str(share)))}%"
            for place, share in enumerate(obj.payout_shares, start=1)
        )

    @admin.display(description="answer rules")
    def rules_in_words(self, obj: Space) -> str:
        rules = {**DEFAULT_RULES, **obj.rules}
        lines = [
            (RULE_LABELS[key], ", ".join(value) if isinstance(value, list) else str(value))
            for key, value in rules.items()
            if key in RULE_LABELS
        ]
        return format_html_join(mark_safe("<br>"), "{}: {}", [(k, v or "none") for k, v in lines])

    @admin.display(description="entries, matches, revenue")
    def activity(self, obj: Space) -> str:
        lines = space_summary(obj) if obj.pk else []
        if not lines:
            return "nothing yet"
        return format_html_join(mark_safe("<br>"), "{}: {}", lines)

    # --- prompt bank upload --------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view(self.prompt_bank_view)
        return [
            path("<path:object_id>/prompt-bank/", view, name="spaces_space_prompt_bank"),
            *super().get_urls(),
        ]

    def prompt_bank_view(self, request, object_id):
        space = self.get_object(request, object_id)  # None when not in this user's queryset
        if space is None or not self.has_change_permission(request, space):
            raise PermissionDenied
        form = PromptBankUploadForm(request.POST or None, request.FILES or None)
        row_errors = []
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = prompt_bank_import(
                    space=space,
                    file_name=upload.name,
                    content=upload.read(),
                    heldout_fraction=form.cleaned_data["heldout_fraction"],
                )
            except PromptBankError as exc:
                row_errors = exc.errors
            else:
                self.message_user(
                    request,
                    f"added {result.created} prompts ({result.train} train, "
                    f"{result.heldout} held out)",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:spaces_space_change", args=[space.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": space,
            "title": f"Upload a prompt bank to {space}",
            "form": form,
            "row_errors": row_errors,
            "counts": prompt_counts(space),
        }
        return TemplateResponse(request, "admin/spaces/space/prompt_bank.html", context)


class ManagedSpaceFilter(admin.SimpleListFilter):
    """Lists only the spaces the user manages (the default filter would name everyone's)."""

    title = "space"
    parameter_name = "space"

    def __init__(self, request, params, model, model_admin):
        self.space_path = getattr(model_admin, "space_path", "space")
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        return [(str(s.pk), str(s)) for s in spaces_managed_by(request.user)]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        return queryset.filter(**{f"{self.space_path}_id": self.value()})


class SpaceScopedAdminMixin:
    """For admins of rows that belong to a space (prompts here; entries and matches in arena):
    a creator sees and touches only rows of the spaces she manages, staff see all. Set
    ``space_path`` when the space is not the ``space`` field (e.g. ``"match__space"``), and put
    ``ManagedSpaceFilter`` in ``list_filter`` rather than the plain space field."""

    space_path = "space"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if user_sees_all_spaces(request.user):
            return qs
        return qs.filter(**{f"{self.space_path}__in": spaces_managed_by(request.user)})

    def _in_managed_space(self, request, obj) -> bool:
        if obj is None or user_sees_all_spaces(request.user):
            return True
        return self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and self._in_managed_space(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._in_managed_space(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._in_managed_space(request, obj)


@admin.register(Prompt)
class PromptAdmin(SpaceScopedAdminMixin, admin.ModelAdmin):
    form = PromptAdminForm
    list_display = ("short_text", "space", "split", "reference", "test_count", "created")
    list_filter = (ManagedSpaceFilter, "split")
    list_select_related = ("space",)
    search_fields = ("text", "reference")
    fields = ("space", "text", "reference", "tests", "split")
    list_per_page = 100

    def get_readonly_fields(self, request, obj=None):
        # Matches record which prompt they played: its text and space never change afterwards.
        return ("space", "text") if obj is not None else ()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "space":
            kwargs["queryset"] = spaces_managed_by(request.user).exclude(status=Space.Status.CLOSED)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="tests")
    def test_count(self, obj: Prompt) -> int:
        return len(obj.tests or [])

    @admin.display(description="prompt")
    def short_text(self, obj: Prompt) -> str:
        return obj.text if len(obj.text) <= 80 else obj.text[:79] + "…"
