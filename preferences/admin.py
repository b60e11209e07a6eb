"""Admin of preference pairs (read-only: made by settlement) and of each space's gate (changes
go through ``gate_update``, which re-gates the space's pairs)."""

from django.contrib import admin, messages

from preferences.errors import PreferenceError
from preferences.models import PairGate, PreferencePair
from preferences.services import GATE_FIELDS, gate_update
from spaces.admin import ManagedSpaceFilter, SpaceScopedAdminMixin


@admin.register(PreferencePair)
class PreferencePairAdmin(SpaceScopedAdminMixin, admin.ModelAdmin):
    list_display = ("id", "match", "space", "status", "margin", "agreement", "created")
    list_filter = (ManagedSpaceFilter, "status")
    list_select_related = ("space", "match")
    search_fields = ("content_sha256", "prompt_sha256", "match__id")
    raw_id_fields = ("match", "prompt", "chosen_seat", "rejected_seat")

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PairGate)
class PairGateAdmin(SpaceScopedAdminMixin, admin.ModelAdmin):
    list_display = ("space", *GATE_FIELDS, "updated")
    list_select_related = ("space",)
    fields = ("space", *GATE_FIELDS)

    def get_readonly_fields(self, request, obj=None):
        return ("space",) if obj else ()

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
        try:
            gate_update(space=obj.space, **{name: getattr(obj, name) for name in GATE_FIELDS})
        except PreferenceError as exc:
            messages.error(request, str(exc))
