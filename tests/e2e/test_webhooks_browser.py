"""Webhooks in a real browser, on a phone: from the profile, add an endpoint (a real receiver on
loopback), copy its secret, send a test event that a real Celery worker delivers, and read the
delivery log; then the account deletion page, with the wrong password."""

import pytest

from tests.e2e.conftest import axe_violations, sideways_scroll
from tests.helpers import WebhookReceiver
from tests.processes import wait_until
from webhooks.models import WebhookEndpoint

pytestmark = [pytest.mark.e2e, pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_add_an_endpoint_and_send_it_a_test_event(open_page, alice, settings, start_worker):
    settings.DFD_OUTBOUND_ALLOW_PRIVATE = True  # the page saves a loopback address
    start_worker(DFD_OUTBOUND_ALLOW_PRIVATE="1")
    page = open_page(viewport="phone", user=alice)
    with WebhookReceiver() as receiver:
        page.goto("/accounts/profile/")
        page.get_by_role("link", name="Manage webhooks").click()
        page.wait_for_url("**/accounts/webhooks/")
        page.fill("#id_url", receiver.url + "/hooks")
        page.fill("#id_description", "newsroom alerts")
        page.get_by_role("button", name="Add endpoint").click()

        secret = page.locator("#new-secret").input_value()
        endpoint = WebhookEndpoint.objects.get(owner=alice)
        assert secret == endpoint.secret and secret.startswith("whsec_")
        receiver.secret = secret
        assert not axe_violations(page) and sideways_scroll(page) == 0

        page.get_by_role("link", name="Go to the endpoint to send a test event").click()
        assert secret not in page.content()  # shown once, never again
        page.get_by_role("button", name="Send test event").click()
        assert "Test event queued" in page.locator(".messages").inner_text()
        [request] = receiver.wait_for(1)
        assert request["verified"] and request["headers"]["X-DFD-Event"] == "webhook.test"

    def delivered():
        page.reload()
        return "Delivered" in page.locator("#deliveries").text_content()  # not inner_text: badges are upper-cased

    wait_until(delivered, 30, "the delivery log to show the delivery", interval=0.5)
    assert "#1: HTTP 200" in page.locator("#deliveries .attempt").inner_text()
    assert not axe_violations(page) and sideways_scroll(page) == 0

    page.goto("/accounts/delete/")
    assert "1 webhook endpoint" in page.locator("#what-goes").inner_text()
    page.fill("#id_password", "not-my-password")
    page.get_by_role("button", name="Delete my account and everything in it").click()
    page.problems.take()  # the 400 of a wrong password is expected
    assert "That is not your password." in page.locator(".field__error").inner_text()
    assert WebhookEndpoint.objects.filter(owner=alice).exists()
