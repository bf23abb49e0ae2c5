from django import forms

from . import services
from .models import ShareLink


def _days(days: int) -> str:
    return "1 day" if days == 1 else f"{days} days"


class ShareLinkForm(forms.Form):
    expires_in_days = forms.TypedChoiceField(
        label="Works for", coerce=int, initial=services.DEFAULT_EXPIRY_DAYS,
        choices=[(days, _days(days)) for days in services.EXPIRY_CHOICES_DAYS],
    )
    include_video = forms.BooleanField(
        label="Include the video", required=False,
        help_text="Unticked, the link shows the result, the faces and the report, but not the video itself.",
    )
    note = forms.CharField(label="Note (only you see it)", required=False, max_length=ShareLink.NOTE_MAX_LENGTH,
                           help_text="Whom the link is for, to tell your links apart.")
