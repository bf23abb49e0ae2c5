import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db
User = get_user_model()


def signup(client, **overrides):
    data = {"username": "carol", "email": "carol@example.org", "password1": PASSWORD, "password2": PASSWORD}
    data.update(overrides)
    return client.post(reverse("accounts:signup"), data)


def test_signup_creates_account_and_signs_in(client):
    response = signup(client)
    assert response.status_code == 302 and response.url == reverse("home")
    user = User.objects.get(username="carol")
    assert user.email == "carol@example.org"
    assert user.check_password(PASSWORD)
    home = client.get(reverse("home"))
    assert home.status_code == 200
    assert b"Welcome, carol" in home.content


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"password1": "short", "password2": "short"}, "password2", "too short"),
        ({"password1": "password123", "password2": "password123"}, "password2", "too common"),
        ({"password1": "83749275629", "password2": "83749275629"}, "password2", "entirely numeric"),
        ({"password2": "something-else-entirely"}, "password2", "didn’t match"),
        ({"email": "not-an-email"}, "email", "valid email"),
        ({"username": ""}, "username", "required"),
    ],
)
def test_signup_validation_errors(client, overrides, field, message):
    response = signup(client, **overrides)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors
    assert message in " ".join(errors[field])
    assert message.encode() in response.content  # shown inline on the page
    assert not User.objects.filter(username="carol").exists()


def test_signup_rejects_taken_username_and_email(client, alice):
    response = signup(client, username="alice")
    assert "username" in response.context["form"].errors
    response = signup(client, email="ALICE@example.org")
    assert "already exists" in response.context["form"].errors["email"][0]
    assert User.objects.count() == 1


def test_sign_in_and_wrong_password(client, alice):
    bad = client.post(reverse("accounts:login"), {"username": "alice", "password": "wrong-password"})
    assert bad.status_code == 200
    assert b"Please enter a correct username and password" in bad.content
    assert "_auth_user_id" not in client.session

    good = client.post(reverse("accounts:login"), {"username": "alice", "password": PASSWORD})
    assert good.status_code == 302 and good.url == reverse("home")
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_sign_in_honours_next_but_not_foreign_hosts(client, alice):
    profile = reverse("accounts:profile")
    response = client.post(
        reverse("accounts:login") + f"?next={profile}", {"username": "alice", "password": PASSWORD, "next": profile}
    )
    assert response.url == profile
    client.logout()
    response = client.post(
        reverse("accounts:login"), {"username": "alice", "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response.url == reverse("home")


def test_sign_out_requires_post(alice_client):
    assert alice_client.get(reverse("accounts:logout")).status_code == 405
    response = alice_client.post(reverse("accounts:logout"))
    assert response.status_code == 302 and response.url == reverse("accounts:login")
    assert "_auth_user_id" not in alice_client.session


@pytest.mark.parametrize("name", ["home", "accounts:profile", "accounts:password_change", "admin:index"])
def test_pages_require_sign_in(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert "/login/" in response.url


def test_password_change(alice_client, alice):
    url = reverse("accounts:password_change")
    wrong = alice_client.post(url, {"old_password": "nope", "new_password1": "n3w-Secret-pass", "new_password2": "n3w-Secret-pass"})
    assert "old_password" in wrong.context["form"].errors
    response = alice_client.post(
        url, {"old_password": PASSWORD, "new_password1": "n3w-Secret-pass", "new_password2": "n3w-Secret-pass"}
    )
    assert response.status_code == 302 and response.url == reverse("accounts:password_change_done")
    alice.refresh_from_db()
    assert alice.check_password("n3w-Secret-pass")
    # The session that changed the password stays signed in.
    assert alice_client.get(reverse("home")).status_code == 200


def test_password_reset_email_link_sets_new_password(client, alice):
    response = client.post(reverse("accounts:password_reset"), {"email": "alice@example.org"})
    assert response.status_code == 302 and response.url == reverse("accounts:password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.org"]
    assert message.subject == "Reset your password on Deepfake Detector"
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/\S+/)", message.body).group(1)

    # The link redirects to a token-less URL (Django hides the token from the Referer).
    landing = client.get(link, follow=True)
    assert landing.context["validlink"] is True
    set_url = landing.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": "Brand-new-pass-42", "new_password2": "Brand-new-pass-42"})
    assert done.status_code == 302 and done.url == reverse("accounts:password_reset_complete")
    alice.refresh_from_db()
    assert alice.check_password("Brand-new-pass-42")

    # The link works only once.
    again = client.get(link, follow=True)
    assert again.context["validlink"] is False


def test_password_reset_for_unknown_email_sends_nothing_and_reveals_nothing(client, alice):
    response = client.post(reverse("accounts:password_reset"), {"email": "nobody@example.org"})
    assert response.status_code == 302 and response.url == reverse("accounts:password_reset_done")
    assert mail.outbox == []


def test_profile_update(alice_client, alice, bob):
    url = reverse("accounts:profile")
    page = alice_client.get(url)
    assert b"alice" in page.content
    taken = alice_client.post(url, {"first_name": "Alice", "last_name": "Liddell", "email": "bob@example.org"})
    assert "already exists" in taken.context["form"].errors["email"][0]
    response = alice_client.post(url, {"first_name": "Alice", "last_name": "Liddell", "email": "alice@wonder.land"})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert (alice.first_name, alice.email) == ("Alice", "alice@wonder.land")


def test_sign_in_is_refused_for_a_while_after_repeated_failures(client, alice, settings):
    from django.core.cache import cache

    settings.DFD_SIGNIN_MAX_FAILURES = 3
    url = reverse("accounts:login")
    for _ in range(3):
        response = client.post(url, {"username": "alice", "password": "guess"})
        assert b"correct username and password" in response.content
    # Now even the right password is refused, with a message saying what to do.
    blocked = client.post(url, {"username": "ALICE", "password": PASSWORD})
    assert b"Too many failed sign-ins" in blocked.content
    assert "_auth_user_id" not in client.session
    # The API's token endpoint counts the same failures.
    api = client.post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD, "name": "x"})
    assert api.status_code == 429 and "Too many failed sign-ins" in api.json()["error"]["message"]
    cache.clear()  # the window has passed
    assert client.post(url, {"username": "alice", "password": PASSWORD}).status_code == 302
