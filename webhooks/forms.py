from django import forms

from dfdsite.errors import DomainError

from .models import WebhookEndpoint


class EndpointCreateForm(forms.Form):
    url = forms.CharField(
        label="URL", max_length=WebhookEndpoint.URL_MAX_LENGTH,
        help_text="An https:// address of yours that accepts POST requests. Redirects are not followed.",
        widget=forms.URLInput(attrs={"placeholder": "https://example.org/hooks/deepfakes", "autocomplete": "off",
                                     "inputmode": "url"}),
    )
    description = forms.CharField(
        label="Description", required=False, max_length=WebhookEndpoint.DESCRIPTION_MAX_LENGTH,
        help_text="Optional: what receives the events.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. newsroom alerts", "autocomplete": "off"}),
    )

    def add_service_error(self, error: DomainError) -> None:
        """Show a service's refusal on the field it is about, or on the form."""
        self.add_error(error.field if error.field in self.fields else None, error.message)
