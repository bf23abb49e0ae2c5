import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class DetectorModel(models.Model):
    """An installed checkpoint. The file lives under settings.DFD_MODELS_DIR on every worker."""

    name = models.CharField(max_length=100, unique=True)
    file = models.CharField(max_length=255, help_text="File name inside the models folder.")
    sha256 = models.CharField(max_length=64, unique=True)
    variant = models.CharField(max_length=20)
    backbone = models.CharField(max_length=40, default="resnext50")
    sequence_length = models.PositiveIntegerField(default=20)
    input_size = models.PositiveIntegerField(default=112)
    training_data = models.TextField(blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    description = models.TextField(blank=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="one_default_detector"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def path(self):
        return settings.DFD_MODELS_DIR / self.file

    @property
    def is_ensemble(self) -> bool:
        return self.variant == "ensemble"

    @property
    def members(self) -> list[dict]:
        """An ensemble's members as its manifest names them: name, file, sha256, weight."""
        return (self.metrics or {}).get("members", []) if self.is_ensemble else []

    @property
    def architecture(self) -> str:
        """The model in a few words, for lists and result pages."""
        if self.is_ensemble:
            return f"ensemble of {len(self.members)} detectors"
        return f"{self.backbone} + LSTM ({self.variant})"


class Batch(models.Model):
    """Many uploads or links sent together: each becomes its own analysis, the batch groups them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="batches")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "batches"
        indexes = [models.Index(fields=["owner", "-created_at"], name="batch_owner_created")]

    def __str__(self) -> str:
        return self.name


# What people read for the worker's stages (the engine's own names are internal words).
STAGE_LABELS = {
    "": "Waiting for a worker",
    "requeued": "Waiting for a worker again",
    "starting": "Starting",
    "download": "Fetching the video",
    "decode": "Reading frames",
    "faces": "Finding faces",
    "model": "Judging the faces",
    "cam": "Drawing heat maps",
    "save": "Saving the results",
    "total": "Total",
}


class Analysis(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Verdict(models.TextChoices):
        REAL = "real", "Authentic"
        FAKE = "fake", "Manipulated"
        NO_FACE = "no_face", "No face found"

    class Band(models.TextChoices):
        """The calibrated verdict, in three bands chosen on validation data (engine/calibration.py)."""

        MANIPULATED = "manipulated", "Manipulation likely"
        INCONCLUSIVE = "inconclusive", "Inconclusive"
        NO_MANIPULATION = "no_manipulation", "No manipulation found"

    class MediaKind(models.TextChoices):
        VIDEO = "video", "Video"
        IMAGE = "image", "Still image"

    class Strategy(models.TextChoices):
        UNIFORM = "uniform", "Spread over the whole video"
        CONTIGUOUS = "contiguous", "First frames in a row"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="analyses")

    original_name = models.CharField(max_length=255)
    media_kind = models.CharField(max_length=8, choices=MediaKind, default=MediaKind.VIDEO)
    source_url = models.URLField(max_length=2048, blank=True, help_text="The link it was fetched from, if any.")
    batch = models.ForeignKey(Batch, on_delete=models.SET_NULL, null=True, blank=True, related_name="analyses")
    # What the video is: known at upload, or (a link) once the worker has fetched it, null until then.
    video = models.FileField(max_length=255, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    container = models.CharField(max_length=20, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)

    status = models.CharField(max_length=12, choices=Status, default=Status.QUEUED)
    stage = models.CharField(max_length=40, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    error_message = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=100, blank=True, help_text="host:pid of the worker holding it.")

    verdict = models.CharField(max_length=10, choices=Verdict, blank=True)
    band = models.CharField(max_length=16, choices=Band, blank=True)
    probability_fake = models.FloatField(null=True, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    member_scores = models.JSONField(
        default=dict, blank=True,
        help_text="An ensemble's members: {member name: calibrated probability of manipulation}.",
    )
    provenance = models.JSONField(
        default=dict, blank=True, help_text="Content Credentials (C2PA) read from the file; empty when it has none."
    )
    frames_requested = models.PositiveSmallIntegerField(default=settings.DFD_FRAMES_DEFAULT)
    frames_analysed = models.PositiveSmallIntegerField(default=0)
    frames_without_face = models.PositiveSmallIntegerField(default=0)
    strategy = models.CharField(max_length=12, choices=Strategy, default=Strategy.UNIFORM)
    detector = models.ForeignKey(DetectorModel, on_delete=models.PROTECT, related_name="analyses")
    timings = models.JSONField(default=dict, blank=True)
    poster = models.FileField(max_length=255, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "analyses"
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="analysis_owner_created"),
            models.Index(fields=["owner", "status"], name="analysis_owner_status"),
            models.Index(fields=["owner", "verdict"], name="analysis_owner_verdict"),
            models.Index(fields=["status", "heartbeat_at"], name="analysis_status_heartbeat"),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_status_display()})"

    @property
    def storage_prefix(self) -> str:
        return f"analyses/{self.id}/"

    @property
    def stage_label(self) -> str:
        return STAGE_LABELS.get(self.stage, self.stage.capitalize())

    @property
    def timing_labels(self) -> list[tuple[str, float]]:
        """The stage timings, in plain words."""
        return [(STAGE_LABELS.get(stage, stage), seconds) for stage, seconds in self.timings.items()]

    @property
    def media_noun(self) -> str:
        return "photo" if self.media_kind == self.MediaKind.IMAGE else "video"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED, self.Status.CANCELLED)


class FrameResult(models.Model):
    analysis = models.ForeignKey(Analysis, on_delete=models.CASCADE, related_name="frames")
    index = models.PositiveIntegerField(help_text="Frame number in the video, from 0.")
    timestamp = models.FloatField(help_text="Seconds from the start.")
    box = models.JSONField(help_text="Face box in the frame: x, y, width, height in pixels.")
    probability_fake = models.FloatField()
    thumbnail = models.FileField(max_length=255)
    heatmap = models.FileField(max_length=255, blank=True)

    class Meta:
        ordering = ["analysis", "index"]
        constraints = [models.UniqueConstraint(fields=["analysis", "index"], name="one_result_per_frame")]

    def __str__(self) -> str:
        return f"frame {self.index} of {self.analysis_id}"


class WorkerHeartbeat(models.Model):
    """A Celery worker's sign of life, written by the worker every few seconds while it runs
    (see detection.workers), so health and pages can tell whether any worker is listening."""

    name = models.CharField(max_length=200, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


class UploadLedgerEntry(models.Model):
    """One upload or retry by one person: what the daily limit counts. Deleting the analysis
    leaves its entry, so deleting cannot buy more uploads (detection.limits)."""

    class Kind(models.TextChoices):
        UPLOAD = "upload", "Upload"
        RETRY = "retry", "Retry"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "upload ledger entries"
        indexes = [models.Index(fields=["owner", "created_at"], name="ledger_owner_created")]

    def __str__(self) -> str:
        return f"{self.kind} by {self.owner_id} at {self.created_at:%Y-%m-%d %H:%M}"
