"""Sign-in and password-reset limits that hold against an attacker and cannot be turned
against other people, and the client address they (and the API's throttles) go by."""

import pytest
from django.core import mail
from django.urls import reverse

from tests.factories import UserFactory
from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"


@pytest.fixture
def anon_rate(settings):
    def set_rate(rate: str):
        rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "anon": rate}
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}

    return set_rate


def api_sign_in(client, username, password, address="203.0.113.7", **headers):
    return client.post(TOKEN_URL, {"username": username, "password": password}, REMOTE_ADDR=address,
                       headers=headers)


def web_sign_in(client, username, password, address="203.0.113.7"):
    return client.post(reverse("accounts:login"), {"username": username, "password": password},
                       REMOTE_ADDR=address)


def test_failures_for_one_account_do_not_lock_out_others_at_the_same_address(client, alice):
    """Finding 1: six wrong passwords for alice, from the address every client had behind the
    proxy, refused dave's and carol's right ones."""
    UserFactory(username="dave"), UserFactory(username="carol")
    for _ in range(6):
        assert api_sign_in(client, "alice", "guess").status_code in (401, 429)
    assert api_sign_in(client, "dave", PASSWORD).status_code == 201
    assert web_sign_in(client, "carol", PASSWORD).status_code == 302
    # alice herself is refused from that address, even with her password...
    assert api_sign_in(client, "alice", PASSWORD).status_code == 429
    # ...but not from her own.
    assert api_sign_in(client, "alice", PASSWORD, address="198.51.100.20").status_code == 201


def test_an_account_is_locked_only_by_failures_from_several_addresses(client, alice, bob, settings):
    settings.DFD_SIGNIN_MAX_FAILURES, settings.DFD_SIGNIN_MAX_FAILURES_PER_ACCOUNT = 3, 6
    for address in ("192.0.2.1", "192.0.2.2"):
        for _ in range(3):
            assert api_sign_in(client, "alice", "guess", address=address).status_code == 401
        # One address gets its three tries, then stops counting: refused, not counted.
        assert api_sign_in(client, "alice", "guess", address=address).status_code == 429
    response = api_sign_in(client, "alice", PASSWORD, address="192.0.2.3")
    assert response.status_code == 429 and "Too many failed sign-ins" in response.json()["error"]["message"]
    assert api_sign_in(client, "bob", PASSWORD, address="192.0.2.1").status_code == 201


def test_a_success_clears_its_own_counts_but_not_the_address(client, alice, bob, settings):
    settings.DFD_SIGNIN_MAX_FAILURES_PER_ADDRESS = 9
    for _ in range(4):
        web_sign_in(client, "alice", "guess")
    assert web_sign_in(client, "alice", PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):  # without the clearing, 8 failures: past 5
        web_sign_in(client, "alice", "guess")
    assert web_sign_in(client, "alice", PASSWORD).status_code == 302
    client.logout()
    # The address's failures stand: a success does not reset the credential-stuffing ceiling.
    web_sign_in(client, "bob", "guess")
    assert b"Too many failed sign-ins" in web_sign_in(client, "bob", PASSWORD).content
    assert web_sign_in(client, "bob", PASSWORD, address="192.0.2.9").status_code == 302


def test_many_accounts_tried_from_one_address_hit_the_address_ceiling(client, alice, settings):
    settings.DFD_SIGNIN_MAX_FAILURES_PER_ADDRESS = 10
    for number in range(10):
        assert api_sign_in(client, f"user{number}", "guess").status_code == 401
    assert api_sign_in(client, "alice", PASSWORD).status_code == 429
    assert api_sign_in(client, "alice", PASSWORD, address="192.0.2.50").status_code == 201


# --- The client address: X-Forwarded-For counts only behind trusted proxies -----------------


def test_a_made_up_forwarded_for_does_not_escape_the_anonymous_throttle(client, alice, anon_rate):
    """Finding 7: a new X-Forwarded-For on each request was a new client to DRF."""
    anon_rate("2/hour")
    for number in range(2):
        assert api_sign_in(client, "alice", "guess", X_Forwarded_For=f"10.0.0.{number}").status_code == 401
    response = api_sign_in(client, "alice", PASSWORD, X_Forwarded_For="10.9.9.9")
    assert response.status_code == 429 and response.json()["error"]["code"] == "throttled"


def test_forwarded_for_is_believed_only_as_far_as_the_trusted_proxies(client, alice, bob, settings, anon_rate):
    settings.DFD_TRUSTED_PROXIES = 1
    proxy = "10.0.0.1"  # every request arrives from the proxy, which appends the client's address
    for number in range(5):
        # What the client wrote itself (left of the proxy's entry) changes every time: ignored.
        response = api_sign_in(client, "alice", "guess", address=proxy,
                               X_Forwarded_For=f"198.51.100.{number}, 203.0.113.66")
        assert response.status_code == 401
    refused = api_sign_in(client, "alice", PASSWORD, address=proxy, X_Forwarded_For="1.1.1.1, 203.0.113.66")
    assert refused.status_code == 429
    # Another client behind the same proxy is another address.
    assert api_sign_in(client, "alice", PASSWORD, address=proxy, X_Forwarded_For="203.0.113.67").status_code == 201
    # The API's throttles go by the same address.
    anon_rate("1/hour")
    assert api_sign_in(client, "bob", PASSWORD, address=proxy, X_Forwarded_For="203.0.113.80").status_code == 201
    assert api_sign_in(client, "bob", PASSWORD, address=proxy, X_Forwarded_For="9.9.9.9, 203.0.113.80"
                       ).status_code == 429
    assert api_sign_in(client, "bob", PASSWORD, address=proxy, X_Forwarded_For="203.0.113.81").status_code == 201


@pytest.mark.parametrize("hops, forwarded, address", [
    (0, "198.51.100.1", "10.0.0.1"),  # no trusted proxy: the header is ignored
    (1, "198.51.100.1, 203.0.113.5", "203.0.113.5"),
    (2, "198.51.100.1, 203.0.113.5, 10.0.0.2", "203.0.113.5"),
    (2, "203.0.113.5", "203.0.113.5"),  # fewer entries than proxies: the first, as DRF would
    (2, "evil, unknown, 10.0.0.2", "10.0.0.1"),  # a proxy that wrote no address: the connection's
])
def test_client_address(settings, hops, forwarded, address):
    from django.test import RequestFactory

    from dfdsite.middleware import ClientAddressMiddleware

    settings.DFD_TRUSTED_PROXIES = hops
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    ClientAddressMiddleware(lambda request: None)(request)
    assert request.META["REMOTE_ADDR"] == address


# --- Password-reset requests ----------------------------------------------------------------------


def test_password_reset_mails_to_one_address_are_limited(client, alice):
    """Finding 8: 15 requests sent 15 e-mails to one address."""
    url = reverse("accounts:password_reset")
    answers = [client.post(url, {"email": "alice@example.org"}, REMOTE_ADDR=f"192.0.2.{n}").status_code
               for n in range(15)]
    assert answers == [302] * 3 + [429] * 12
    assert len(mail.outbox) == 3
    refused = client.post(url, {"email": "ALICE@example.org"})
    assert b"Too many password-reset requests" in refused.content


def test_password_reset_requests_from_one_address_are_limited(client, alice, settings):
    url = reverse("accounts:password_reset")
    for number in range(settings.DFD_PASSWORD_RESETS_PER_ADDRESS):
        assert client.post(url, {"email": f"someone{number}@example.org"}).status_code == 302
    assert client.post(url, {"email": "alice@example.org"}).status_code == 429
    assert client.post(url, {"email": "alice@example.org"}, REMOTE_ADDR="192.0.2.77").status_code == 302
    assert len(mail.outbox) == 1
