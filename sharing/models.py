from django.db import models
from django.utils import timezone

from detection.models import Analysis


class ShareLink(models.Model):
    """A read-only link to one analysis's result, for people without an account. Only the
    SHA-256 digest of its token is kept: the link itself is shown once, to the owner, when it
    is made. Revoked links are kept (with the time) so the owner sees who could look, and until
    when; deleting the analysis deletes its links."""

    NOTE_MAX_LENGTH = 100

    analysis = models.ForeignKey(Analysis, on_delete=models.CASCADE, related_name="share_links")
    digest = models.CharField(max_length=64, unique=True)
    note = models.CharField(max_length=NOTE_MAX_LENGTH, blank=True,
                            help_text="Whom or what the link is for, for the owner's eyes only.")
    include_video = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"share link {self.id} to {self.analysis_id}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and not self.is_expired
