"""What a new password does to API tokens (finding 11: they kept working, and nothing said
so), and revoking them all at once."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import ApiToken
from tests.helpers import PASSWORD, auth, token_for

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "n3w-Secret-pass"


def works(client, token: str) -> bool:
    return client.get("/api/v1/auth/tokens/", headers=auth(token)).status_code == 200


def test_changing_the_password_revokes_every_token_and_says_so(client, alice, bob):
    tokens = [token_for(alice, name="laptop"), token_for(alice, name="ci")]
    bobs = token_for(bob)
    client.force_login(alice)
    page = client.get(reverse("accounts:password_change"))
    assert b"all your API tokens revoked" in page.content
    done = client.post(reverse("accounts:password_change"), {
        "old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, follow=True)
    assert b"Revoked 2 API tokens" in done.content
    assert not any(works(client, token) for token in tokens)
    assert works(client, bobs)


def test_resetting_the_password_revokes_every_token(client, alice):
    token = token_for(alice)
    client.post(reverse("accounts:password_reset"), {"email": "alice@example.org"})
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/\S+/)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    done = client.post(form.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
                       follow=True)
    assert b"Password" in done.content and b"Revoked 1 API token:" in done.content
    assert not works(client, token)


def test_profile_and_tokens_pages_say_what_a_password_change_does(alice_client, alice):
    token_for(alice), token_for(alice)
    profile = alice_client.get(reverse("accounts:profile")).content.decode()
    assert "You have 2 tokens; changing your password revokes them all." in profile
    assert 'id="revoke-all-tokens"' in profile
    tokens = alice_client.get(reverse("accounts:tokens")).content.decode()
    assert "Changing or resetting your password revokes all your tokens" in tokens
    assert 'id="revoke-all-tokens"' in tokens


def test_revoke_all_tokens(client, alice, bob):
    tokens = [token_for(alice), token_for(alice)]
    bobs = token_for(bob)
    client.force_login(alice)
    url = reverse("accounts:tokens_revoke_all")
    assert client.get(url).status_code == 405
    response = client.post(url, follow=True)
    assert b"Revoked 2 API tokens" in response.content
    assert not any(works(client, token) for token in tokens) and works(client, bobs)
    assert ApiToken.objects.filter(user=bob).count() == 1
    again = client.post(url, follow=True)
    assert b"You had no API tokens to revoke." in again.content
