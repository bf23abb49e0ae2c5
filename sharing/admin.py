from django.contrib import admin

from .models import ShareLink


@admin.register(ShareLink)
class ShareLinkAdmin(admin.ModelAdmin):
    list_display = ["id", "analysis", "note", "include_video", "created_at", "expires_at", "revoked_at"]
    readonly_fields = ["analysis", "digest", "created_at"]
