import uuid

from django.conf import settings
from django.db import models


class WebhookEndpoint(models.Model):
    """A URL of its owner's that hears, by a signed JSON POST, of every analysis that finishes.

    The secret signs each delivery (HMAC-SHA256), so it has to be kept as it is, not hashed;
    it is shown to its owner once, when it is made (or rotated), and never again."""

    URL_MAX_LENGTH = 2048
    DESCRIPTION_MAX_LENGTH = 200

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=URL_MAX_LENGTH)
    description = models.CharField(max_length=DESCRIPTION_MAX_LENGTH, blank=True)
    is_active = models.BooleanField(default=True, help_text="Paused endpoints are sent nothing.")
    secret = models.CharField(max_length=100)
    secret_created_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "is_active"], name="webhook_owner_active")]

    def __str__(self) -> str:
        return self.url

    @property
    def secret_hint(self) -> str:
        """Enough of the secret to tell which one a receiver holds, not enough to sign."""
        return self.secret[:10] + "…"


class WebhookDelivery(models.Model):
    """One event for one endpoint: the body is fixed when the event happens and sent as it is on
    every attempt (only the signature's timestamp changes)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    analysis_id = models.UUIDField(null=True, blank=True, help_text="Not a foreign key: the analysis may be gone.")
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["endpoint", "-created_at"], name="delivery_endpoint_created")]

    def __str__(self) -> str:
        return f"{self.event} {self.id}"


class WebhookAttempt(models.Model):
    """One try at sending a delivery: what the receiver answered, or why nothing was sent."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    succeeded = models.BooleanField(default=False)
    next_retry_at = models.DateTimeField(null=True, blank=True, help_text="Empty: no retry follows.")

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="one_attempt_per_number")]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"
