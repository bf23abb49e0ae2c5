"""The API tokens page: create (shown once), list with last use and expiry, revoke."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import ApiToken

pytestmark = pytest.mark.django_db

URL = "/accounts/tokens/"


def test_the_page_needs_signing_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and response.url.startswith(reverse("accounts:login"))


def test_profile_links_to_the_tokens_page(alice_client):
    page = alice_client.get(reverse("accounts:profile"))
    assert f'href="{URL}"'.encode() in page.content


def test_empty_page(alice_client):
    page = alice_client.get(URL)
    assert page.status_code == 200
    assert b"No tokens yet" in page.content and b'id="token-form"' in page.content
    assert page["Cache-Control"].startswith("max-age=0") and "no-store" in page["Cache-Control"]


def test_create_shows_the_token_once_and_it_works(alice_client, client):
    response = alice_client.post(URL, {"name": "nightly batch", "expiry": "30"})
    assert response.status_code == 200
    raw = response.context["created"]["raw"]
    assert raw.startswith("dfd_") and raw.encode() in response.content
    assert b"shown only this once" in response.content
    token = ApiToken.objects.get()
    assert token.name == "nightly batch" and token.user.username == "alice"
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    # Only its digest is kept: the next visit cannot show it again.
    again = alice_client.get(URL)
    assert raw.encode() not in again.content and token.prefix.encode() in again.content
    assert b"nightly batch" in again.content
    # The token authenticates API requests, and its use shows on the page.
    from django.test import Client

    assert Client().get("/api/v1/analyses/", headers={"Authorization": f"Token {raw}"}).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert token.last_used_at.strftime("%-d %b %Y").encode() in alice_client.get(URL).content


def test_never_expiring_token(alice_client):
    response = alice_client.post(URL, {"name": "forever", "expiry": "never"})
    assert response.status_code == 200 and b"never expires" in response.content
    assert ApiToken.objects.get().expires_at is None


@pytest.mark.parametrize("data, field, message", [
    ({"name": "", "expiry": "90"}, "name", "This field is required."),
    ({"name": "   ", "expiry": "90"}, "name", "This field is required."),
    ({"name": "x" * 101, "expiry": "90"}, "name", "at most 100 characters"),
    ({"name": "ok", "expiry": "7"}, "expiry", "Select a valid choice"),
])
def test_invalid_form_creates_nothing(alice_client, data, field, message):
    response = alice_client.post(URL, data)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert not ApiToken.objects.exists() and response.context["created"] is None


def test_list_shows_only_own_tokens_with_expiry_state(alice_client, alice, bob):
    services.token_create(user=alice, name="old one", expires_in_days=30)
    ApiToken.objects.filter(name="old one").update(expires_at=timezone.now() - timedelta(days=1))
    services.token_create(user=alice, name="current", expires_in_days=90)
    services.token_create(user=bob, name="bob's token")
    page = alice_client.get(URL)
    assert [t.name for t in page.context["tokens"]] == ["current", "old one"]
    assert b"bob&#x27;s token" not in page.content and b"bob's token" not in page.content
    assert b"Expired" in page.content and b"Never" in page.content  # never used


def test_revoke(alice_client, alice):
    token, raw = services.token_create(user=alice, name="laptop")
    response = alice_client.post(reverse("accounts:token_revoke", args=[token.id]))
    assert response.status_code == 302 and response.url == URL
    assert not ApiToken.objects.exists()
    assert "Revoked the token “laptop”" in alice_client.get(URL).content.decode()
    from django.test import Client

    assert Client().get("/api/v1/analyses/", headers={"Authorization": f"Token {raw}"}).status_code == 401


def test_revoke_needs_post_and_csrf(alice, alice_client):
    token, _ = services.token_create(user=alice, name="laptop")
    url = reverse("accounts:token_revoke", args=[token.id])
    assert alice_client.get(url).status_code == 405
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(url).status_code == 403
    assert ApiToken.objects.exists()


def test_other_peoples_tokens_are_404(alice_client, bob):
    token, _ = services.token_create(user=bob, name="bob's")
    assert alice_client.post(reverse("accounts:token_revoke", args=[token.id])).status_code == 404
    assert alice_client.post(reverse("accounts:token_revoke", args=[987654])).status_code == 404
    assert ApiToken.objects.filter(id=token.id).exists()


def test_tokens_are_stored_only_as_digests(alice):
    import hashlib

    token, raw = services.token_create(user=alice, name="x")
    assert token.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in str(ApiToken.objects.filter(id=token.id).values().get())
    assert services.token_authenticate(raw=raw).id == token.id
    with pytest.raises(services.InvalidToken):
        services.token_authenticate(raw=raw + "x")


def test_admin_lists_tokens_but_cannot_read_or_create_them(client, alice):
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("root", "root@example.org", "pw-root-123456")
    services.token_create(user=alice, name="laptop")
    client.force_login(admin)
    listing = client.get("/admin/accounts/apitoken/")
    assert listing.status_code == 200 and b"laptop" in listing.content
    assert client.get("/admin/accounts/apitoken/add/").status_code == 403
    detail = client.get(f"/admin/accounts/apitoken/{ApiToken.objects.get().id}/change/")
    assert detail.status_code == 200 and ApiToken.objects.get().digest.encode() not in detail.content


# --- The service's refusals: domain errors, shown on the right field ----------------------------


LONGEST = ApiToken.NAME_MAX_LENGTH


@pytest.mark.parametrize("kwargs, field, message", [
    ({"name": "  "}, "name", "Give the token a name"),
    ({"name": "x" * (LONGEST + 1)}, "name", f"at most {LONGEST} characters"),
    ({"name": "ok", "expires_in_days": 0}, "expires_in_days", "between 1 and 365 days"),
    ({"name": "ok", "expires_in_days": services.MAX_EXPIRY_DAYS + 1}, "expires_in_days", "between 1 and 365"),
])
def test_token_create_refuses_with_a_domain_error(alice, kwargs, field, message):
    from dfdsite.errors import Invalid

    with pytest.raises(Invalid) as raised:
        services.token_create(user=alice, **kwargs)
    assert raised.value.field == field and message in raised.value.message
    assert not ApiToken.objects.exists()


def test_a_name_of_the_longest_length_is_fine(alice):
    token, _ = services.token_create(user=alice, name="x" * ApiToken.NAME_MAX_LENGTH)
    assert len(token.name) == ApiToken.NAME_MAX_LENGTH


def test_token_get_of_someone_elses_token_is_not_found(alice, bob):
    from accounts import selectors
    from dfdsite.errors import NotFound

    token, _ = services.token_create(user=bob, name="bob's")
    with pytest.raises(NotFound):
        selectors.token_get(user=alice, token_id=token.id)
    assert selectors.token_get(user=bob, token_id=token.id) == token


@pytest.mark.parametrize("field, shown_on", [
    ("name", "name"), ("expires_in_days", "expiry"), (None, "__all__"),
])
def test_the_tokens_form_shows_a_service_error_on_its_field(field, shown_on):
    from accounts.forms import TokenCreateForm
    from dfdsite.errors import Invalid

    form = TokenCreateForm({"name": "laptop", "expiry": "30"})
    assert form.is_valid()
    form.add_service_error(Invalid("Refused for a reason.", field=field))
    assert form.errors == {shown_on: ["Refused for a reason."]}


def test_the_form_offers_the_services_expiry_choices():
    from accounts.forms import TokenCreateForm

    form = TokenCreateForm()
    offered = [value for value, _ in form.fields["expiry"].choices]
    assert offered == [*(str(days) for days in services.EXPIRY_CHOICES_DAYS), "never"]
    assert form.fields["expiry"].initial == str(services.DEFAULT_EXPIRY_DAYS)
