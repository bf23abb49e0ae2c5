"""Webhook endpoints, signing, refused addresses, rotation, the API and the pages, against a real
receiver on loopback. Attempts run in this process here (test_worker_delivery.py runs them on a
real worker)."""

import json

import pytest

from dfdsite.outbound import AddressRefused
from tests.helpers import WebhookReceiver, assert_error, auth, readme_verify_signature, token_for
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def allow_loopback(settings):
    settings.DFD_OUTBOUND_ALLOW_PRIVATE = True


def attempt(delivery, number: int = 1):
    return services.delivery_attempt(delivery_id=delivery.id, attempt=number)


def test_addresses_that_are_not_public_are_refused_when_saved_and_when_sent(settings, alice):
    settings.DFD_OUTBOUND_ALLOW_PRIVATE = False
    with pytest.raises(AddressRefused, match="loopback") as refused:
        services.endpoint_create(owner=alice, url="http://127.0.0.1:9/hooks")
    assert refused.value.field == "url"
    settings.DFD_OUTBOUND_ALLOW_PRIVATE = True  # private addresses admitted; cloud metadata never
    for url in ("http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/", "ftp://example.org/"):
        with pytest.raises(AddressRefused):
            services.endpoint_create(owner=alice, url=url)
    assert not WebhookEndpoint.objects.exists()

    # Saved while loopback was admitted; refused again, after DNS, when sent.
    with WebhookReceiver() as receiver:
        endpoint = services.endpoint_create(owner=alice, url=receiver.url + "/hooks")
        settings.DFD_OUTBOUND_ALLOW_PRIVATE = False
        logged = attempt(services.endpoint_send_test(endpoint=endpoint))
        assert receiver.requests == []
    assert logged.status_code is None and logged.error.startswith("Refused:") and "loopback" in logged.error
    assert not logged.succeeded and logged.next_retry_at is not None  # tried again later, in case DNS changes


def test_redirects_are_not_followed(allow_loopback, alice):
    with WebhookReceiver(statuses=[302], ) as receiver:
        endpoint = services.endpoint_create(owner=alice, url=receiver.url + "/moved")
        logged = attempt(services.endpoint_send_test(endpoint=endpoint))
        assert len(receiver.requests) == 1  # the Location (cloud metadata) was never asked
    assert logged.status_code == 302 and not logged.succeeded and "Redirects are not followed" in logged.error


def test_deliveries_are_signed_and_rotation_retires_the_old_secret(allow_loopback, alice, alice_client):
    verify = readme_verify_signature()
    with WebhookReceiver() as receiver:
        endpoint = services.endpoint_create(owner=alice, url=receiver.url + "/hooks")
        old_secret = receiver.secret = endpoint.secret
        first = services.endpoint_send_test(endpoint=endpoint)
        logged = attempt(first)
        [request] = receiver.requests
        assert request["verified"] and logged.succeeded and logged.status_code == 200

        response = alice_client.post(f"/accounts/webhooks/{endpoint.id}/rotate/")
        endpoint.refresh_from_db()
        new_secret = endpoint.secret
        assert new_secret != old_secret and new_secret.startswith("whsec_")
        assert new_secret in response.content.decode()  # shown once, in the answer to the rotation...
        assert new_secret not in alice_client.get(f"/accounts/webhooks/{endpoint.id}/").content.decode()  # ...only

        receiver.secret = new_secret
        attempt(services.endpoint_send_test(endpoint=endpoint))
        request = receiver.requests[1]
    headers, body = request["headers"], request["body"]
    assert request["verified"]
    assert not verify(old_secret, headers["X-DFD-Signature"], body)
    assert not verify(new_secret, headers["X-DFD-Signature"], body + b" ")  # the body is covered
    assert headers["X-DFD-Event"] == "webhook.test" and headers["Content-Type"] == "application/json"
    sent = json.loads(body)
    assert sent["type"] == "webhook.test" and sent["id"] == headers["X-DFD-Delivery"] != str(first.id)
    assert sent["data"]["endpoint"] == {"id": endpoint.id, "url": endpoint.url}


def test_a_finished_analysis_is_described_to_each_active_endpoint_of_its_owner(allow_loopback, alice, bob, detector):
    from detection import lifecycle
    from tests.factories import AnalysisFactory

    active = services.endpoint_create(owner=alice, url="http://127.0.0.1:9/a")
    services.endpoint_create(owner=alice, url="http://127.0.0.1:9/paused", is_active=False)
    services.endpoint_create(owner=bob, url="http://127.0.0.1:9/bob")
    analysis = AnalysisFactory(owner=alice, detector=detector, status="done", verdict="fake", band="manipulated",
                               probability_fake=0.91, confidence=0.91, source_url="https://example.org/v")
    lifecycle.analysis_finished(analysis)  # as the lifecycle calls it, after an ending commits
    [delivery] = WebhookDelivery.objects.all()
    assert delivery.endpoint == active and delivery.analysis_id == analysis.id and delivery.status == "pending"
    facts = json.loads(delivery.body)["data"]["analysis"]
    assert facts == {
        "id": str(analysis.id), "status": "done", "verdict": "fake", "band": "manipulated",
        "probability_fake": 0.91, "confidence": 0.91, "file_name": analysis.original_name,
        "source_url": "https://example.org/v", "detector": {"id": detector.id, "name": detector.name},
        "url": f"http://127.0.0.1:8000/api/v1/analyses/{analysis.id}/",
        "web_url": f"http://127.0.0.1:8000/analyses/{analysis.id}/", "finished_at": None,
    }


def test_api_endpoints_deliveries_and_owner_scoping(allow_loopback, client, alice, bob):
    alice_token, bob_token = token_for(alice), token_for(bob)
    with WebhookReceiver(statuses=[503]) as receiver:
        created = client.post("/api/v1/webhooks/", {"url": receiver.url + "/h", "description": "ci"},
                              headers=auth(alice_token))
        assert created.status_code == 201, created.content
        endpoint = created.json()
        assert endpoint["secret"].startswith("whsec_") and endpoint["is_active"] is True
        receiver.secret = endpoint["secret"]
        base = f"/api/v1/webhooks/{endpoint['id']}/"
        listed = client.get("/api/v1/webhooks/", headers=auth(alice_token)).json()
        assert [item["id"] for item in listed] == [endpoint["id"]] and "secret" not in listed[0]

        queued = client.post(base + "test/", headers=auth(alice_token))
        assert queued.status_code == 202 and queued.json()["event"] == "webhook.test"
        attempt(WebhookDelivery.objects.get(id=queued.json()["id"]))  # as the worker would
        [delivery] = client.get(base + "deliveries/", headers=auth(alice_token)).json()
    assert delivery["status"] == "pending" and delivery["last_status_code"] == 503
    [logged] = delivery["attempt_log"]
    assert logged["number"] == 1 and logged["status_code"] == 503 and logged["next_retry_at"]

    # Fields left out stay as they were; a change is JSON (a form body could be garbage that reads as no change).
    renamed = client.patch(base, {"description": "renamed"}, content_type="application/json", headers=auth(alice_token))
    assert renamed.json()["description"] == "renamed" and renamed.json()["is_active"] is True
    blank = client.patch(base, {"url": ""}, content_type="application/json", headers=auth(alice_token))
    assert assert_error(blank, 400)["fields"] == {"url": ["Enter the address that should receive the events."]}
    assert_error(client.patch(base, "url=", content_type="application/x-www-form-urlencoded",
                              headers=auth(alice_token)), 415)
    paused = client.patch(base, {"is_active": False}, content_type="application/json", headers=auth(alice_token))
    assert paused.status_code == 200 and paused.json()["is_active"] is False
    refused = client.patch(base, {"url": "http://169.254.169.254/"}, content_type="application/json",
                           headers=auth(alice_token))
    assert assert_error(refused, 400, "address_refused")["fields"] == {"url": [refused.json()["error"]["message"]]}
    rotated = client.post(base + "rotate-secret/", headers=auth(alice_token)).json()
    assert rotated["secret"] != endpoint["secret"]

    # Bob: alice's endpoint does not exist for him, by any route or method.
    assert client.get("/api/v1/webhooks/", headers=auth(bob_token)).json() == []
    for method, path in [("get", ""), ("patch", ""), ("delete", ""), ("post", "rotate-secret/"), ("post", "test/"),
                         ("get", "deliveries/")]:
        assert_error(getattr(client, method)(base + path, headers=auth(bob_token)), 404, "not_found")
    client.force_login(bob)
    for path in ("", "test/", "rotate/", "toggle/", "delete/"):
        method = client.get if not path else client.post
        assert method(f"/accounts/webhooks/{endpoint['id']}/{path}").status_code == 404
    assert WebhookEndpoint.objects.get().secret == rotated["secret"]  # untouched by bob

    assert client.delete(base, headers=auth(alice_token)).status_code == 204
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()


def test_pages_create_pause_and_delete(allow_loopback, alice_client):
    page = alice_client.get("/accounts/profile/")
    assert b'href="/accounts/webhooks/"' in page.content
    refused = alice_client.post("/accounts/webhooks/", {"url": "http://169.254.169.254/x"})
    assert refused.status_code == 400 and "link-local" in refused.content.decode()
    created = alice_client.post("/accounts/webhooks/", {"url": "http://127.0.0.1:9/hooks", "description": "ci"})
    endpoint = WebhookEndpoint.objects.get()
    assert created.status_code == 200 and endpoint.secret in created.content.decode()
    assert endpoint.secret not in alice_client.get("/accounts/webhooks/").content.decode()
    alice_client.post(f"/accounts/webhooks/{endpoint.id}/toggle/")
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    alice_client.post(f"/accounts/webhooks/{endpoint.id}/test/")
    detail = alice_client.get(f"/accounts/webhooks/{endpoint.id}/").content.decode()
    assert "webhook.test" in detail and "Resume" in detail and "Pending" in detail
    assert alice_client.post(f"/accounts/webhooks/{endpoint.id}/delete/").status_code == 302
    assert not WebhookEndpoint.objects.exists()
