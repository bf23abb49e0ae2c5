from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm

from dfdsite.errors import DomainError

from .models import ApiToken
from .services import DEFAULT_EXPIRY_DAYS, EXPIRY_CHOICES_DAYS

User = get_user_model()


class SignUpForm(UserCreationForm):
    email = forms.EmailField(
        required=True, help_text="Used only to reset your password."
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data["email"])
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this e-mail address already exists.")
        return email


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ("first_name", "last_name", "email")

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data["email"])
        if not email:
            raise forms.ValidationError("An e-mail address is required to reset your password.")
        taken = User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists()
        if taken:
            raise forms.ValidationError("An account with this e-mail address already exists.")
        return email


class TokenCreateForm(forms.Form):
    NEVER = "never"
    EXPIRY_CHOICES = [*((str(days), f"In {days} days") for days in EXPIRY_CHOICES_DAYS), (NEVER, "Never")]
    # accounts.services' names for this form's fields, where they differ.
    SERVICE_FIELDS = {"expires_in_days": "expiry"}

    name = forms.CharField(
        label="Name", max_length=ApiToken.NAME_MAX_LENGTH,
        help_text="What the token is for, e.g. the script or machine that uses it.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. nightly-batch on build-01", "autocomplete": "off"}),
    )
    expiry = forms.ChoiceField(label="Expires", choices=EXPIRY_CHOICES, initial=str(DEFAULT_EXPIRY_DAYS))

    def expires_in_days(self) -> int | None:
        value = self.cleaned_data["expiry"]
        return None if value == self.NEVER else int(value)

    def add_service_error(self, error: DomainError) -> None:
        """Show a service's refusal on the field it is about (on the form as a whole when
        it is about none of this form's fields)."""
        field = self.SERVICE_FIELDS.get(error.field, error.field)
        self.add_error(field if field in self.fields else None, error.message)


class ThrottledAuthenticationForm(AuthenticationForm):
    """Sign-in that refuses, for a while, an account name or address with too many failures."""

    def clean(self):
        from . import services

        username = self.cleaned_data.get("username") or ""
        ip = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        if services.signin_blocked(username=username, ip=ip):
            raise forms.ValidationError(services.signin_blocked_message(), code="throttled")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            services.signin_failed(username=username, ip=ip)
            raise
        services.signin_succeeded(username=username, ip=ip)
        return cleaned


class AccountDeleteForm(forms.Form):
    """Deleting an account asks for its password again: a session left open is not enough."""

    password = forms.CharField(
        label="Your password", strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="To confirm that it is you.",
    )

    def __init__(self, *args, user, ip: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.user, self.ip = user, ip

    def clean_password(self):
        # Wrong passwords count as failed sign-ins: a borrowed session must not become a password oracle.
        from . import services

        password = self.cleaned_data["password"]
        username = self.user.get_username()
        if services.signin_blocked(username=username, ip=self.ip):
            raise forms.ValidationError(services.signin_blocked_message(), code="throttled")
        if not self.user.check_password(password):
            services.signin_failed(username=username, ip=self.ip)
            raise forms.ValidationError("That is not your password.", code="wrong_password")
        return password
