"""Authentication: tokens from POST /auth/token/, hashed, expiring, revocable; the session; 401s."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.models import ApiToken
from tests.helpers import PASSWORD, assert_error, auth, token_for

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
ANALYSES_URL = "/api/v1/analyses/"


def test_token_from_username_and_password(client, alice):
    response = client.post(TOKEN_URL, {"username": "alice", "password": PASSWORD, "name": "laptop"})
    assert response.status_code == 201, response.content
    body = response.json()
    token = body["token"]
    assert token.startswith("dfd_") and len(token) > 40
    assert body["name"] == "laptop" and body["prefix"] == token[:12] and body["last_used_at"] is None
    # 90 days by default
    stored = ApiToken.objects.get(id=body["id"])
    assert timedelta(days=89) < stored.expires_at - timezone.now() <= timedelta(days=90)
    # Stored only as a digest: the token itself is nowhere in the row.
    assert token not in {stored.digest, stored.prefix, stored.name} and len(stored.digest) == 64
    # And it works.
    assert client.get(ANALYSES_URL, headers=auth(token)).status_code == 200


def test_token_from_json_with_no_expiry(client, alice):
    response = client.post(TOKEN_URL, {"username": "alice", "password": PASSWORD, "expires_in_days": 0},
                           content_type="application/json")
    assert response.status_code == 201
    assert response.json()["expires_at"] is None and response.json()["name"] == "API token"


@pytest.mark.parametrize("data", [
    {"username": "alice", "password": "wrong-password"},
    {"username": "nobody", "password": PASSWORD},
])
def test_wrong_credentials_are_401(client, alice, data):
    error = assert_error(client.post(TOKEN_URL, data), 401, "invalid_credentials")
    assert "correct username and password" in error["message"]
    assert not ApiToken.objects.exists()


def test_inactive_user_gets_no_token(client, alice):
    get_user_model().objects.filter(id=alice.id).update(is_active=False)
    assert_error(client.post(TOKEN_URL, {"username": "alice", "password": PASSWORD}), 401)


def test_token_request_validation(client, alice):
    error = assert_error(client.post(TOKEN_URL, {"username": "alice", "expires_in_days": 400}), 400, "invalid")
    assert error["fields"]["password"] == ["This field is required."]
    assert error["fields"]["expires_in_days"] == ["Ensure this value is less than or equal to 365."]


@pytest.mark.parametrize("headers, message", [
    ({}, "Authentication credentials were not provided."),
    ({"Authorization": "Token dfd_not-a-real-token-at-all-xxxxxxxxxxxxxxx"}, "Invalid token."),
    ({"Authorization": "Token"}, "Invalid Authorization header"),
    ({"Authorization": "Token a b"}, "Invalid Authorization header"),
    ({"Authorization": "Token short"}, "Invalid token."),
])
def test_missing_or_bad_credentials_are_401_not_a_redirect(client, alice, headers, message):
    response = client.get(ANALYSES_URL, headers=headers)
    error = assert_error(response, 401)
    assert message in error["message"]
    assert response["WWW-Authenticate"] == "Token"


def test_expired_token_is_401(client, alice):
    token = token_for(alice, expires_in_days=30)
    assert client.get(ANALYSES_URL, headers=auth(token)).status_code == 200
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    error = assert_error(client.get(ANALYSES_URL, headers=auth(token)), 401, "authentication_failed")
    assert "expired" in error["message"]


def test_revoked_token_is_401(client, alice):
    token = token_for(alice)
    account_services.token_revoke(token=ApiToken.objects.get())
    error = assert_error(client.get(ANALYSES_URL, headers=auth(token)), 401, "authentication_failed")
    assert error["message"] == "Invalid token."


def test_token_of_a_deactivated_user_is_401(client, alice):
    token = token_for(alice)
    get_user_model().objects.filter(id=alice.id).update(is_active=False)
    assert_error(client.get(ANALYSES_URL, headers=auth(token)), 401)


def test_a_tampered_token_is_401(client, alice):
    token = token_for(alice)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")  # same prefix, other secret
    assert_error(client.get(ANALYSES_URL, headers=auth(tampered)), 401)


def test_last_used_is_written_at_most_once_a_minute(client, alice):
    token = token_for(alice)
    client.get(ANALYSES_URL, headers=auth(token))
    first = ApiToken.objects.get().last_used_at
    assert first is not None and timezone.now() - first < timedelta(seconds=10)
    client.get(ANALYSES_URL, headers=auth(token))
    assert ApiToken.objects.get().last_used_at == first
    ApiToken.objects.update(last_used_at=timezone.now() - timedelta(seconds=61))
    client.get(ANALYSES_URL, headers=auth(token))
    assert timezone.now() - ApiToken.objects.get().last_used_at < timedelta(seconds=10)


def test_session_authentication_for_the_browsable_api(alice_client):
    response = alice_client.get(ANALYSES_URL, headers={"Accept": "text/html"})
    assert response.status_code == 200 and b"<h1>Analyses</h1>" in response.content
    assert alice_client.get(ANALYSES_URL).json()["count"] == 0


def test_session_writes_need_the_csrf_token(client, alice):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(alice)
    error = assert_error(csrf_client.post("/api/v1/analyses/", {}), 403, "permission_denied")
    assert "CSRF" in error["message"]


# --- Managing tokens through the API -------------------------------------------------------------


def test_list_own_tokens_without_secrets(client, alice, bob):
    token = token_for(alice, name="first")
    token_for(alice, name="second", expires_in_days=30)
    token_for(bob, name="bobs")
    response = client.get("/api/v1/auth/tokens/", headers=auth(token))
    assert response.status_code == 200
    listed = response.json()
    assert [item["name"] for item in listed] == ["second", "first"]
    assert token not in response.content.decode()
    assert set(listed[0]) == {"id", "name", "prefix", "created_at", "expires_at", "last_used_at", "expired"}


def test_revoke_a_token(client, alice):
    keep = token_for(alice, name="keep")
    drop = token_for(alice, name="drop")
    drop_id = ApiToken.objects.get(name="drop").id
    response = client.delete(f"/api/v1/auth/tokens/{drop_id}/", headers=auth(keep))
    assert response.status_code == 204
    assert_error(client.get(ANALYSES_URL, headers=auth(drop)), 401)
    assert client.get(ANALYSES_URL, headers=auth(keep)).status_code == 200
    assert_error(client.delete(f"/api/v1/auth/tokens/{drop_id}/", headers=auth(keep)), 404, "not_found")


def test_a_token_can_revoke_itself(client, alice):
    token = token_for(alice)
    token_id = ApiToken.objects.get().id
    assert client.delete(f"/api/v1/auth/tokens/{token_id}/", headers=auth(token)).status_code == 204
    assert_error(client.get("/api/v1/auth/tokens/", headers=auth(token)), 401)


def test_other_peoples_tokens_are_404(client, alice, bob):
    alice_token = token_for(alice)
    token_for(bob, name="bobs")
    bobs_id = ApiToken.objects.get(name="bobs").id
    missing = assert_error(client.delete("/api/v1/auth/tokens/999999/", headers=auth(alice_token)), 404)
    others = assert_error(client.delete(f"/api/v1/auth/tokens/{bobs_id}/", headers=auth(alice_token)), 404)
    assert missing == others  # nothing tells them apart
    assert ApiToken.objects.filter(id=bobs_id).exists()


def test_token_endpoints_need_authentication(client, alice):
    assert_error(client.get("/api/v1/auth/tokens/"), 401)
    assert_error(client.delete("/api/v1/auth/tokens/1/"), 401)


def test_api_urls_are_not_sent_to_the_login_page(client):
    for url in ("/api/v1/analyses/", "/api/v1/detectors/", "/api/v1/no-such-thing/",
                f"/api/v1/analyses/{'0' * 8}-0000-0000-0000-{'0' * 12}/poster/"):
        response = client.get(url)
        assert response.status_code in (401, 404), (url, response.status_code)
        assert response["Content-Type"] == "application/json"
    assert client.get(reverse("api:health")).status_code in (200, 503)


def test_token_routes_keep_their_urls_and_names_and_are_served_by_accounts():
    from django.urls import resolve

    from accounts import api

    assert reverse("api:token-obtain") == TOKEN_URL
    assert reverse("api:token-list") == "/api/v1/auth/tokens/"
    assert reverse("api:token-detail", args=[7]) == "/api/v1/auth/tokens/7/"
    assert resolve(TOKEN_URL).func.view_class is api.TokenObtainApi
    assert resolve("/api/v1/auth/tokens/").func.view_class is api.TokenListApi
    assert resolve("/api/v1/auth/tokens/7/").func.view_class is api.TokenDetailApi


def test_token_name_longer_than_the_model_allows_is_400(client, alice):
    too_long = "x" * (ApiToken.NAME_MAX_LENGTH + 1)
    response = client.post(TOKEN_URL, {"username": "alice", "password": PASSWORD, "name": too_long})
    error = assert_error(response, 400)
    limit = ApiToken.NAME_MAX_LENGTH
    assert error["fields"] == {"name": [f"Ensure this field has no more than {limit} characters."]}
    assert not ApiToken.objects.exists()
