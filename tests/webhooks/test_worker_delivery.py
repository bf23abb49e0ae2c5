"""An analysis run by a real Celery worker on Redis tells its owner's endpoint, a real receiver on
loopback, that it finished: signed, and retried with growing delays until the receiver takes it."""

import json

import pytest
from django.conf import settings

from detection import services as detection_services
from tests.helpers import WebhookReceiver, upload
from tests.processes import wait_until
from webhooks import services
from webhooks.models import WebhookDelivery

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

RETRY_BASE_SECONDS = 0.4


def test_finished_analysis_is_delivered_signed_and_retried(settings_, alice, bob, detector, face_video_bytes,
                                                           start_worker, tmp_path):
    with WebhookReceiver(statuses=[500, 500]) as receiver:
        endpoint = services.endpoint_create(owner=alice, url=receiver.url + "/alice")
        services.endpoint_create(owner=bob, url=receiver.url + "/bob")
        receiver.secret = endpoint.secret
        start_worker(DFD_OUTBOUND_ALLOW_PRIVATE="1", DFD_WEBHOOK_RETRY_BASE_SECONDS=str(RETRY_BASE_SECONDS))
        analysis = detection_services.analysis_create(owner=alice, file=upload(face_video_bytes), frames=10)

        def delivered():
            delivery = WebhookDelivery.objects.filter(endpoint=endpoint).first()
            return delivery if delivery and delivery.status != "pending" else None

        try:
            delivery = wait_until(delivered, 180, "the webhook delivery to settle", interval=0.25)
        except TimeoutError:
            analysis.refresh_from_db()
            logs = "\n".join(path.read_text()[-4000:] for path in tmp_path.glob("worker-*.log"))
            pytest.fail(f"no delivery settled: analysis {analysis.status} ({analysis.stage}), deliveries "
                        f"{list(WebhookDelivery.objects.values('status', 'attempts'))}\n{logs}")
        requests = list(receiver.requests)
    analysis.refresh_from_db()
    assert analysis.status == "done", analysis.error_message
    assert delivery.status == "succeeded" and delivery.attempts == 3 and delivery.last_status_code == 200

    attempts = list(delivery.attempt_log.order_by("number"))
    assert [(a.number, a.status_code, a.succeeded) for a in attempts] == [(1, 500, False), (2, 500, False),
                                                                        (3, 200, True)]
    assert attempts[0].error == "The receiver answered 500, not 2xx." and attempts[2].error == ""
    assert attempts[0].next_retry_at and attempts[1].next_retry_at and attempts[2].next_retry_at is None
    assert all(a.duration_ms < 10_000 for a in attempts)

    # Bob's endpoint heard nothing of alice's analysis; alice's got the same event three times.
    assert [r["path"] for r in requests] == ["/alice"] * 3 and [r["status"] for r in requests] == [500, 500, 200]
    assert all(r["verified"] for r in requests)  # signature and timestamp, by the README's check
    assert {r["headers"]["X-DFD-Delivery"] for r in requests} == {str(delivery.id)}
    assert len({r["body"] for r in requests}) == 1
    # Exponential backoff: base, then 3 x base.
    gaps = [later["at"] - earlier["at"] for earlier, later in zip(requests, requests[1:])]
    assert gaps[0] >= RETRY_BASE_SECONDS * 0.9 and gaps[1] >= 3 * RETRY_BASE_SECONDS * 0.9, gaps

    event = json.loads(requests[0]["body"])
    assert requests[0]["headers"]["X-DFD-Event"] == event["type"] == "analysis.finished"
    facts = event["data"]["analysis"]
    assert facts["id"] == str(analysis.id) and facts["status"] == "done" and facts["verdict"] == analysis.verdict
    assert facts["probability_fake"] == analysis.probability_fake and facts["file_name"] == "clip.mp4"
    assert facts["url"] == f"{settings.DFD_SITE_URL}/api/v1/analyses/{analysis.id}/"


@pytest.fixture
def settings_(settings):
    settings.DFD_OUTBOUND_ALLOW_PRIVATE = True  # the endpoints are saved in this process
    return settings
