from django.contrib import admin

from .models import Analysis, DetectorModel, FrameResult


@admin.register(DetectorModel)
class DetectorModelAdmin(admin.ModelAdmin):
    list_display = ("name", "variant", "backbone", "is_default", "sha256", "created_at")
    list_filter = ("variant", "backbone", "is_default")
    search_fields = ("name", "sha256")
    readonly_fields = ("sha256", "file", "created_at")


class FrameResultInline(admin.TabularInline):
    model = FrameResult
    extra = 0
    can_delete = False
    readonly_fields = ("index", "timestamp", "box", "probability_fake", "thumbnail", "heatmap")


@admin.register(Analysis)
class AnalysisAdmin(admin.ModelAdmin):
    list_display = ("original_name", "owner", "status", "verdict", "probability_fake", "detector", "created_at")
    list_filter = ("status", "verdict", "strategy", "detector", "created_at")
    search_fields = ("original_name", "owner__username", "sha256", "id")
    date_hierarchy = "created_at"
    list_select_related = ("owner", "detector")
    readonly_fields = [field.name for field in Analysis._meta.fields]
    inlines = [FrameResultInline]


@admin.register(FrameResult)
class FrameResultAdmin(admin.ModelAdmin):
    list_display = ("analysis", "index", "timestamp", "probability_fake")
    list_select_related = ("analysis",)
    readonly_fields = ("analysis", "index", "timestamp", "box", "probability_fake", "thumbnail", "heatmap")
