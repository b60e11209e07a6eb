from django.contrib import admin

from agents.models import AdapterVersion, Agent, BaseModel


@admin.register(BaseModel)
class BaseModelAdmin(admin.ModelAdmin):
    list_display = ("name", "path", "is_default", "registered_by", "created_at")
    readonly_fields = ("registered_by", "created_at")


class AdapterVersionInline(admin.TabularInline):
    model = AdapterVersion
    fk_name = "agent"
    extra = 0
    can_delete = False
    fields = ("number", "sha256", "parent", "seed", "created_by", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        # Versions are made by services (init, fork, training), never typed in.
        return False


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "base_model", "current_adapter", "temperature", "created_at")
    list_filter = ("base_model",)
    search_fields = ("name", "owner__username")
    readonly_fields = ("current_adapter", "forked_from", "auto_matches_entered", "created_at")
    raw_id_fields = ("owner", "auto_enter_space", "auto_fee_tier")
    inlines = [AdapterVersionInline]


@admin.register(AdapterVersion)
class AdapterVersionAdmin(admin.ModelAdmin):
    list_display = ("agent", "number", "sha256", "created_by", "created_at")
    readonly_fields = ("agent", "number", "file", "sha256", "parent", "seed", "created_by")

    def has_add_permission(self, request):
        return False
