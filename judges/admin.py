"""Read-mostly admin for verdicts, ratings and standings (written by the match loop and the
standings refit, not by hand)."""

from django.contrib import admin

from judges.models import Rating, Standing, StandingsFit, Verdict


@admin.register(Verdict)
class VerdictAdmin(admin.ModelAdmin):
    list_display = ("id", "match", "judge_kind", "created")
    list_filter = ("judge_kind",)
    search_fields = ("match__id",)
    raw_id_fields = ("match",)
    readonly_fields = ("match", "judge_kind", "data", "created")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ("agent", "space", "mu", "sigma", "ordinal", "matches_played", "updated")
    list_filter = ("space",)
    search_fields = ("agent__name", "space__slug")
    raw_id_fields = ("agent", "space")
    readonly_fields = ("agent", "space", "mu", "sigma", "matches_played", "updated")

    @admin.display(description="ordinal (mu - 3 sigma)")
    def ordinal(self, obj):
        return round(obj.ordinal, 3)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Standing)
class StandingAdmin(ReadOnlyAdmin):
    list_display = ("agent", "space", "rank", "strength", "lower", "upper", "matches", "win_rate")
    list_filter = ("space",)
    search_fields = ("agent__name", "space__slug")
    ordering = ("space", "rank", "-strength")
    raw_id_fields = ("agent", "space")


@admin.register(StandingsFit)
class StandingsFitAdmin(ReadOnlyAdmin):
    list_display = ("space", "fitted_at", "matches", "rounds", "length_coef", "converged")
    search_fields = ("space__slug",)
    raw_id_fields = ("space",)
