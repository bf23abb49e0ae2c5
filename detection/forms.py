from django import forms
from django.conf import settings

from .models import Analysis, DetectorModel
from .uploads import ACCEPT_ATTRIBUTE, ACCEPTED_NAMES

NO_VIDEO = "Choose a video to upload, or give a link."


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name: cleans to a list (empty when none was chosen)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        items = data if isinstance(data, (list, tuple)) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in items if item]


class AnalysisUploadForm(forms.Form):
    file = MultipleFileField(
        label="Videos or photos", required=False,
        help_text=f"{ACCEPTED_NAMES[0].upper()}{ACCEPTED_NAMES[1:]}; checked by its content, not its name. Choose "
                  "several to send them as a batch.",
        widget=MultipleFileInput(attrs={"accept": ACCEPT_ATTRIBUTE}),
    )
    url = forms.URLField(
        label="Or a link to a video", required=False, max_length=2048, assume_scheme="https",
        help_text="A link to a video file, or to a page with one. We fetch it for you.",
        widget=forms.URLInput(attrs={"placeholder": "https://", "inputmode": "url"}),
    )
    name = forms.CharField(label="Batch name", required=False, max_length=200,
                           help_text="For several videos: a name to find the batch by (optional).")
    frames = forms.IntegerField(
        label="Frames to analyse", min_value=settings.DFD_FRAMES_MIN, max_value=settings.DFD_FRAMES_MAX,
        initial=settings.DFD_FRAMES_DEFAULT,
        help_text="More frames look at more of the video and take longer. A photo is judged whole: every face in it.",
    )
    strategy = forms.ChoiceField(label="Which frames", choices=Analysis.Strategy.choices,
                                 initial=Analysis.Strategy.UNIFORM)
    detector = forms.ModelChoiceField(label="Detector", queryset=DetectorModel.objects.all(), required=False,
                                      empty_label=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        detectors = DetectorModel.objects.all()
        if detectors.count() < 2:
            del self.fields["detector"]  # nothing to choose
        else:
            self.fields["detector"].initial = detectors.filter(is_default=True).first()

    def clean(self):
        data = super().clean()
        if not data.get("file") and not data.get("url") and "file" not in self.errors and "url" not in self.errors:
            self.add_error("file", NO_VIDEO)
        return data

    @property
    def item_count(self) -> int:
        return len(self.cleaned_data.get("file") or []) + bool(self.cleaned_data.get("url"))


class AnalysisRetryForm(forms.Form):
    """Run an analysis again, with other settings if wanted; blank fields keep the old ones, and
    services.analysis_retry checks them as it checks an upload's."""

    frames = forms.IntegerField(
        label="Frames to analyse", required=False, min_value=settings.DFD_FRAMES_MIN,
        max_value=settings.DFD_FRAMES_MAX, error_messages=dict.fromkeys(["min_value", "max_value"], (
            f"Frames must be between {settings.DFD_FRAMES_MIN} and {settings.DFD_FRAMES_MAX}.")),
    )
    strategy = forms.ChoiceField(label="Which frames", required=False, choices=Analysis.Strategy.choices)
    detector = forms.ModelChoiceField(label="Detector", queryset=DetectorModel.objects.all(), required=False,
                                      empty_label=None)

    def __init__(self, *args, analysis: Analysis | None = None, **kwargs):
        super().__init__(*args, prefix="retry", **kwargs)
        if analysis is not None:
            self.initial = {"frames": analysis.frames_requested, "strategy": analysis.strategy,
                            "detector": analysis.detector_id}
        if DetectorModel.objects.count() < 2:
            del self.fields["detector"]  # nothing to choose

    def options(self) -> dict:
        return {name: value for name, value in self.cleaned_data.items() if value not in (None, "")}


class AnalysisFilterForm(forms.Form):
    q = forms.CharField(label="File name", required=False, widget=forms.TextInput(attrs={"type": "search", "placeholder": "Search file names"}))
    verdict = forms.ChoiceField(label="Verdict", required=False, choices=[("", "Any verdict"), *Analysis.Verdict.choices])
    band = forms.ChoiceField(label="Verdict band", required=False, choices=[("", "Any band"), *Analysis.Band.choices])
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any status"), *Analysis.Status.choices])
    created_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    created_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(label="Sort", required=False, choices=[
        ("newest", "Newest first"), ("oldest", "Oldest first"), ("most_fake", "Most suspicious first"),
        ("least_fake", "Least suspicious first"), ("name", "File name"),
    ])

    def clean(self):
        data = super().clean()
        if data.get("created_from") and data.get("created_to") and data["created_from"] > data["created_to"]:
            # Otherwise the list is just empty, and "Nothing matches" does not say why.
            self.add_error("created_to", "To must be on or after From.")
        return data
