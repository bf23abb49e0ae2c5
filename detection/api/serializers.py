"""Input and output shapes of the API. Thin: validation that matters lives in the services."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .. import selectors
from ..cards import public_text
from ..forms import NO_VIDEO
from ..models import Analysis, Batch, DetectorModel, FrameResult
from ..uploads import ACCEPTED_NAMES

# The web form's messages (Django's), so the API and the form say the same things.
INVALID_CHOICE = "Select a valid choice. {input} is not one of the available choices."
INVALID_MODEL_CHOICE = "Select a valid choice. That choice is not one of the available choices."
# DRF refuses NUL characters in text; saying so in the schema keeps clients from sending them.
NO_NULL_CHARACTERS = RegexValidator(r"^[^\x00]*$", "Null characters are not allowed.")
ORDERINGS = {
    "-created_at": "newest", "created_at": "oldest", "-probability_fake": "most_fake",
    "probability_fake": "least_fake", "file_name": "name",
}


def absolute(request, name: str, *args) -> str:
    url = reverse(f"api:{name}", args=args)
    return request.build_absolute_uri(url) if request is not None else url


class BlankAsNullChoiceField(serializers.ChoiceField):
    """A choice stored as "" when there is none, shown as null."""

    def __init__(self, **kwargs):
        super().__init__(allow_null=True, read_only=True, **kwargs)

    def to_representation(self, value):
        return None if value in ("", None) else super().to_representation(value)


class BlankAsNullURLField(serializers.URLField):
    """A URL stored as "" when there is none, shown as null (an empty string is no URI)."""

    def __init__(self, **kwargs):
        super().__init__(allow_null=True, read_only=True, **kwargs)

    def to_representation(self, value):
        return None if value in ("", None) else super().to_representation(value)


# --- Detectors -----------------------------------------------------------------------------


class DetectorSerializer(serializers.ModelSerializer):
    metrics = serializers.DictField(
        child=serializers.JSONField(), help_text="Evaluation metrics recorded in the checkpoint (may be empty)."
    )
    training_data = serializers.SerializerMethodField(help_text="What it was trained on, as its checkpoint says.")

    def get_training_data(self, detector) -> str:
        return public_text(detector.training_data)  # never the paths of the machine that trained it

    class Meta:
        model = DetectorModel
        fields = ["id", "name", "description", "is_default", "variant", "backbone", "sequence_length",
                  "input_size", "training_data", "metrics", "sha256", "created_at"]
        read_only_fields = fields


class DetectorSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = DetectorModel
        fields = ["id", "name", "variant"]
        read_only_fields = fields


# --- Analyses --------------------------------------------------------------------------------


class AnalysisCreateSerializer(serializers.Serializer):
    """multipart/form-data: the same fields, limits and messages as the upload form."""

    file = serializers.FileField(
        required=False,
        help_text=f"The file: {ACCEPTED_NAMES}, recognised by its content. A photo's every face is judged. "
                  "Send a `file` or a `url`.",
    )
    url = serializers.CharField(
        required=False, max_length=2048, validators=[NO_NULL_CHARACTERS],
        help_text="Instead of a file: an http(s) link to a video, or to a page whose video can be read. The "
                  "worker fetches it (within the same size and duration limits); a host that is not public is "
                  "refused at once.",
    )
    frames = serializers.IntegerField(
        min_value=settings.DFD_FRAMES_MIN, max_value=settings.DFD_FRAMES_MAX, default=settings.DFD_FRAMES_DEFAULT,
        help_text="How many frames to analyse.", error_messages={"invalid": "Enter a whole number."},
    )
    strategy = serializers.ChoiceField(
        choices=Analysis.Strategy.choices, default=Analysis.Strategy.UNIFORM,
        help_text="`uniform`: spread over the whole video; `contiguous`: the first frames in a row.",
        error_messages={"invalid_choice": INVALID_CHOICE},
    )
    detector = serializers.PrimaryKeyRelatedField(
        queryset=DetectorModel.objects.all(), required=False, allow_null=True,
        help_text="Id of an installed detector (see /detectors/); the default one when left out.",
        error_messages={"does_not_exist": INVALID_MODEL_CHOICE, "incorrect_type": INVALID_MODEL_CHOICE},
    )


    def to_internal_value(self, data):
        # Neither a file nor a link: said first, beside any other field's error, as the web form says it.
        missing = {"file": [NO_VIDEO]} if not data.get("file") and not data.get("url") else {}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            raise serializers.ValidationError({**missing, **error.detail}) from None
        if missing:
            raise serializers.ValidationError(missing)
        if value.get("file") and value.get("url"):
            raise serializers.ValidationError({"url": ["Send a file or a link, not both."]})
        return value


class AnalysisFilterSerializer(serializers.Serializer):
    """Query parameters of the list."""

    status = serializers.ChoiceField(choices=Analysis.Status.choices, required=False, allow_blank=True,
                                     help_text="Only analyses with this status (empty: any).",
                                     error_messages={"invalid_choice": INVALID_CHOICE})
    verdict = serializers.ChoiceField(choices=Analysis.Verdict.choices, required=False, allow_blank=True,
                                      help_text="Only analyses with this verdict (empty: any).",
                                      error_messages={"invalid_choice": INVALID_CHOICE})
    band = serializers.ChoiceField(choices=Analysis.Band.choices, required=False, allow_blank=True,
                                   help_text="Only analyses in this verdict band (empty: any).",
                                   error_messages={"invalid_choice": INVALID_CHOICE})
    created_from = serializers.DateField(required=False, help_text="Uploaded on or after this day (YYYY-MM-DD).")
    created_to = serializers.DateField(required=False, help_text="Uploaded on or before this day (YYYY-MM-DD).")
    search = serializers.CharField(required=False, allow_blank=True, max_length=255,
                                   validators=[NO_NULL_CHARACTERS], help_text="Part of the file name, any case.")
    ordering = serializers.ChoiceField(
        choices=list(ORDERINGS), required=False, allow_blank=True, default="-created_at",
        help_text="Sort order (empty: newest first); analyses without a score sort last.",
        error_messages={"invalid_choice": INVALID_CHOICE},
    )
    page = serializers.IntegerField(required=False, min_value=1, help_text="Page number, from 1.")
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=100,
                                         help_text="Analyses per page (default 20).")


class PageSerializer(serializers.Serializer):
    page = serializers.IntegerField(required=False, min_value=1, help_text="Page number, from 1.")
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=100,
                                         help_text="Items per page (default 20).")


class FrameSerializer(serializers.ModelSerializer):
    box = serializers.DictField(child=serializers.IntegerField(),
                                help_text="Face box in the frame: x, y, width, height in pixels.")
    thumbnail_url = serializers.SerializerMethodField()
    heatmap_url = serializers.SerializerMethodField()

    class Meta:
        model = FrameResult
        fields = ["index", "timestamp", "probability_fake", "box", "thumbnail_url", "heatmap_url"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_thumbnail_url(self, frame) -> str:
        return absolute(self.context.get("request"), "frame-thumbnail", frame.analysis_id, frame.index)

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_heatmap_url(self, frame) -> str | None:
        if not frame.heatmap:
            return None
        return absolute(self.context.get("request"), "frame-heatmap", frame.analysis_id, frame.index)


class TimingsSerializer(serializers.Serializer):
    decode = serializers.FloatField(required=False, help_text="Seconds probing and decoding the video.")
    faces = serializers.FloatField(required=False, help_text="Seconds finding faces.")
    model = serializers.FloatField(required=False, help_text="Seconds in the detector.")
    cam = serializers.FloatField(required=False, help_text="Seconds drawing heat maps.")
    total = serializers.FloatField(required=False, help_text="Seconds in all.")


_TEXT = {"type": "string"}
PROVENANCE_SCHEMA = {
    "type": "object",
    "description": "Content Credentials (C2PA) read from the file when it was uploaded; empty (`{}`) when it has "
                   "none. Evidence of another kind than the verdict: who says they made or edited the file, not "
                   "whether faces were manipulated.",
    "properties": {
        "state": {"type": "string", "enum": ["trusted", "untrusted", "valid", "invalid", "unreadable"],
                  "description": "`trusted`: signature and file match and the signer is on our trust list; "
                                 "`untrusted`: they match, but the signer is on no trust list we have; `valid`: they "
                                 "match, trust not checked; `invalid`: the file changed since it was signed, or the "
                                 "signature is broken (see `errors`); `unreadable`: a manifest that cannot be read."},
        "signer": {"type": "object", "nullable": True, "properties": {
            name: _TEXT for name in ("common_name", "issuer", "algorithm", "serial_number", "time")}},
        "claim_generator": {**_TEXT, "description": "The tool that wrote the manifest."},
        "title": _TEXT,
        "actions": {"type": "array", "items": {"type": "object", "properties": {
            name: _TEXT for name in ("action", "digital_source_type", "software_agent", "when")}}},
        "ai_generated": {"type": "boolean",
                         "description": "The manifest declares generation by AI (e.g. trainedAlgorithmicMedia)."},
        "ai_markers": {"type": "array", "items": _TEXT},
        "ingredients": {"type": "array", "items": _TEXT, "description": "Titles of the files it was made from."},
        "manifests": {"type": "integer", "description": "Manifests in the file: one per signed step."},
        "errors": {"type": "array", "items": {"type": "object", "properties": {"code": _TEXT, "explanation": _TEXT}}},
        "library": {**_TEXT, "description": "The reader that judged it."},
    },
}


@extend_schema_field(PROVENANCE_SCHEMA)
class ProvenanceField(serializers.JSONField):
    pass


class AnalysisListItemSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="This analysis in the API: poll it until `finished`.")
    web_url = serializers.SerializerMethodField(help_text="Its page on the site.")
    file_name = serializers.CharField(source="original_name", read_only=True)
    finished = serializers.BooleanField(source="is_finished", read_only=True,
                                        help_text="True once the status is done or failed.")
    verdict = BlankAsNullChoiceField(choices=Analysis.Verdict.choices,
                                     help_text="`real`, `fake`, `no_face`, or null until done.")
    band = BlankAsNullChoiceField(
        choices=Analysis.Band.choices,
        help_text="The calibrated verdict: `manipulated` (manipulation likely), `inconclusive` or "
                  "`no_manipulation` (no manipulation found); null until done or with no face. The detector's "
                  "page says what each band held on test data.")
    poster_url = serializers.SerializerMethodField(help_text="The most suspicious face, once done.")
    detector = DetectorSummarySerializer(read_only=True)
    source_url = BlankAsNullURLField(help_text="The link the video was fetched from; null for an upload.")

    class Meta:
        model = Analysis
        fields = ["id", "url", "web_url", "file_name", "status", "stage", "progress", "finished", "verdict",
                  "band", "probability_fake", "confidence", "detector", "poster_url", "created_at", "finished_at",
                  "media_kind", "source_url", "batch"]
        read_only_fields = fields
        extra_kwargs = {
            "media_kind": {"help_text": "`video`, or `image` for a photo: every face in it is judged (one entry "
                                        "in `frames` per face, `index` its number) and the verdict is the most "
                                        "suspicious face's."},

            "batch": {"help_text": "Id of the batch it was sent in, or null."},
            "progress": {"help_text": "Percent done."},
            "probability_fake": {"help_text": "Probability that the video is manipulated, 0 to 1; null until done."},
            "confidence": {"help_text": "Confidence in the verdict, 0.5 to 1; null until done or with no face."},
        }

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, analysis) -> str:
        return absolute(self.context.get("request"), "analysis-detail", analysis.id)

    @extend_schema_field(OpenApiTypes.URI)
    def get_web_url(self, analysis) -> str:
        request = self.context.get("request")
        url = reverse("detection:analysis_detail", args=[analysis.id])
        return request.build_absolute_uri(url) if request is not None else url

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_poster_url(self, analysis) -> str | None:
        if not analysis.poster:
            return None
        return absolute(self.context.get("request"), "analysis-poster", analysis.id)


class AnalysisSerializer(AnalysisListItemSerializer):
    video_url = serializers.SerializerMethodField(help_text="The uploaded video.")
    timings = TimingsSerializer(read_only=True, help_text="Seconds per stage, once done.")
    frames = FrameSerializer(many=True, read_only=True,
                             help_text="Per-frame scores, in video order; for a photo, one per face.")
    provenance = ProvenanceField(read_only=True)
    member_scores = serializers.DictField(
        child=serializers.FloatField(), read_only=True,
        help_text="For an ensemble detector: each member's own calibrated probability of manipulation, by member "
                  "name (the verdict combines them); empty for a single-checkpoint detector or until done.")

    class Meta(AnalysisListItemSerializer.Meta):
        fields = AnalysisListItemSerializer.Meta.fields + [
            "member_scores", "error_message", "attempts", "size_bytes", "sha256", "container", "duration_seconds",
            "width", "height", "fps", "frames_requested", "frames_analysed", "frames_without_face", "strategy",
            "video_url", "timings", "started_at", "frames", "provenance",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_video_url(self, analysis) -> str:
        return absolute(self.context.get("request"), "analysis-video", analysis.id)


class AnalysisCreatedSerializer(AnalysisSerializer):
    status_url = serializers.SerializerMethodField(help_text="Where to poll for the result (also in `Location`).")

    class Meta(AnalysisSerializer.Meta):
        fields = AnalysisSerializer.Meta.fields + ["status_url"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_status_url(self, analysis) -> str:
        return absolute(self.context.get("request"), "analysis-detail", analysis.id)


class AnalysisPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Analyses matching the filters, on all pages.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = AnalysisListItemSerializer(many=True)


# --- Health ----------------------------------------------------------------------------------


class HealthCheckSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "error"])
    detail = serializers.CharField()


class HealthChecksSerializer(serializers.Serializer):
    database = HealthCheckSerializer()
    storage = HealthCheckSerializer()
    queue = HealthCheckSerializer()
    detector = HealthCheckSerializer()
    workers = HealthCheckSerializer()


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "degraded"])
    checks = HealthChecksSerializer()


# --- Batches -------------------------------------------------------------------------------------


class BatchCreateSerializer(serializers.Serializer):
    """multipart/form-data: several `file` parts and/or several `url` parts, and the options they share."""

    file = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True), required=False, default=list,  # services say why
        help_text=f"Videos ({ACCEPTED_NAMES}), one `file` part each.",
    )
    url = serializers.ListField(
        child=serializers.CharField(max_length=2048, validators=[NO_NULL_CHARACTERS]), required=False,
        default=list, help_text="Links to videos or to pages with one, one `url` part each.",
    )
    name = serializers.CharField(required=False, allow_blank=True, max_length=200, validators=[NO_NULL_CHARACTERS],
                                 help_text="A name for the batch (default: how many videos, and when).")
    frames = serializers.IntegerField(
        min_value=settings.DFD_FRAMES_MIN, max_value=settings.DFD_FRAMES_MAX, default=settings.DFD_FRAMES_DEFAULT,
        help_text="How many frames to analyse, in each video.", error_messages={"invalid": "Enter a whole number."},
    )
    strategy = serializers.ChoiceField(
        choices=Analysis.Strategy.choices, default=Analysis.Strategy.UNIFORM,
        help_text="`uniform`: spread over the whole video; `contiguous`: the first frames in a row.",
        error_messages={"invalid_choice": INVALID_CHOICE},
    )
    detector = serializers.PrimaryKeyRelatedField(
        queryset=DetectorModel.objects.all(), required=False, allow_null=True,
        help_text="Id of an installed detector (see /detectors/); the default one when left out.",
        error_messages={"does_not_exist": INVALID_MODEL_CHOICE, "incorrect_type": INVALID_MODEL_CHOICE},
    )


class RefusalSerializer(serializers.Serializer):
    field = serializers.ChoiceField(choices=["file", "url"], help_text="Which kind of part it was.")
    index = serializers.IntegerField(help_text="Its position among the request's `file` (or `url`) parts, from 0.")
    name = serializers.CharField(help_text="The file's name, or the link.")
    status = serializers.IntegerField(help_text="The HTTP status it would have had on its own.")
    code = serializers.CharField(help_text="Why, as in the error shape: `not_video`, `too_many_running`, ...")
    message = serializers.CharField(help_text="Why, for people.")


class BatchCountsSerializer(serializers.Serializer):
    status = serializers.DictField(child=serializers.IntegerField(), help_text="Analyses per status.")
    verdict = serializers.DictField(child=serializers.IntegerField(), help_text="Analyses per verdict.")
    band = serializers.DictField(child=serializers.IntegerField(), help_text="Analyses per verdict band.")


class BatchSummarySerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="Analyses in the batch.")
    finished_count = serializers.IntegerField(source="finished", help_text="How many have finished.")
    finished = serializers.BooleanField(source="is_finished", help_text="True once every analysis has finished.")
    progress = serializers.IntegerField(help_text="Percent of the batch's work done.")
    counts = serializers.SerializerMethodField()

    @extend_schema_field(BatchCountsSerializer)
    def get_counts(self, summary) -> dict:
        return {"status": summary.by_status, "verdict": summary.by_verdict, "band": summary.by_band}


class BatchListItemSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="This batch in the API.")
    total = serializers.IntegerField(read_only=True, help_text="Analyses in the batch.")
    finished_count = serializers.IntegerField(source="finished", read_only=True, help_text="How many have finished.")

    class Meta:
        model = Batch
        fields = ["id", "url", "name", "created_at", "total", "finished_count"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, batch) -> str:
        return absolute(self.context.get("request"), "batch-detail", batch.id)


class BatchSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="This batch in the API.")
    web_url = serializers.SerializerMethodField(help_text="Its page on the site.")
    summary = serializers.SerializerMethodField()
    export_csv_url = serializers.SerializerMethodField(help_text="Its results as CSV, one row per analysis.")
    export_json_url = serializers.SerializerMethodField(help_text="Its results as JSON, one object per analysis.")
    analyses = serializers.SerializerMethodField()

    class Meta:
        model = Batch
        fields = ["id", "url", "web_url", "name", "created_at", "summary", "export_csv_url", "export_json_url",
                  "analyses"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, batch) -> str:
        return absolute(self.context.get("request"), "batch-detail", batch.id)

    @extend_schema_field(OpenApiTypes.URI)
    def get_web_url(self, batch) -> str:
        request = self.context.get("request")
        url = reverse("detection:batch_detail", args=[batch.id])
        return request.build_absolute_uri(url) if request is not None else url

    @extend_schema_field(BatchSummarySerializer)
    def get_summary(self, batch) -> dict:
        return BatchSummarySerializer(selectors.batch_summary(batch=batch)).data

    @extend_schema_field(OpenApiTypes.URI)
    def get_export_csv_url(self, batch) -> str:
        return absolute(self.context.get("request"), "batch-export-csv", batch.id)

    @extend_schema_field(OpenApiTypes.URI)
    def get_export_json_url(self, batch) -> str:
        return absolute(self.context.get("request"), "batch-export-json", batch.id)

    @extend_schema_field(AnalysisListItemSerializer(many=True))
    def get_analyses(self, batch) -> list:
        return AnalysisListItemSerializer(selectors.batch_analyses(batch=batch), many=True, context=self.context).data


class BatchCreatedSerializer(serializers.Serializer):
    batch = BatchSerializer(help_text="The batch, with the analyses accepted into it.")
    refused = RefusalSerializer(many=True, help_text="The files and links that were not accepted, and why.")


class BatchPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Your batches, on all pages.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = BatchListItemSerializer(many=True)


class BatchExportRowSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField(help_text="The file's name.")
    status = serializers.ChoiceField(choices=Analysis.Status.choices)
    verdict = serializers.CharField(allow_null=True)
    band = serializers.CharField(allow_null=True)
    probability_fake = serializers.FloatField(allow_null=True)
    confidence = serializers.FloatField(allow_null=True)
    detector = serializers.CharField(help_text="The detector's name.")
    sha256 = serializers.CharField(allow_null=True, help_text="SHA-256 of the video; null for a link not fetched.")
    source_url = serializers.CharField(allow_null=True)
    error_message = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class BatchExportSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    analyses = BatchExportRowSerializer(many=True)
