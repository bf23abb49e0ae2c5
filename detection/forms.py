from django import forms
from django.conf import settings

from .models import Analysis, DetectorModel
from .uploads import ACCEPT_ATTRIBUTE, ACCEPTED_NAMES


class AnalysisUploadForm(forms.Form):
    file = forms.FileField(
        label="Video or photo",
        help_text=f"{ACCEPTED_NAMES[0].upper()}{ACCEPTED_NAMES[1:]}; checked by its content, not its name.",
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPT_ATTRIBUTE}),
    )
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
