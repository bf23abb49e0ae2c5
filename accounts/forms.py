from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

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
    EXPIRY_CHOICES = [("30", "In 30 days"), ("90", "In 90 days"), ("never", "Never")]

    name = forms.CharField(
        label="Name", max_length=100,
        help_text="What the token is for, e.g. the script or machine that uses it.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. nightly-batch on build-01", "autocomplete": "off"}),
    )
    expiry = forms.ChoiceField(label="Expires", choices=EXPIRY_CHOICES, initial="90")

    def expires_in_days(self) -> int | None:
        value = self.cleaned_data["expiry"]
        return None if value == "never" else int(value)
