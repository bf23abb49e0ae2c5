from django.contrib import admin

from .models import WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Endpoints can be looked at, paused and deleted here; their secrets are never shown."""

    list_display = ("url", "owner", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("url", "owner__username")
    fields = ("owner", "url", "description", "is_active", "secret_created_at", "created_at")
    readonly_fields = ("owner", "url", "description", "secret_created_at", "created_at")
    list_select_related = ("owner",)

    def has_add_permission(self, request):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "endpoint", "event", "status", "attempts", "last_status_code", "created_at")
    list_filter = ("status", "event")
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
