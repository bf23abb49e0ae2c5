"""Webhooks: endpoints, the events they hear of, and delivering them.

An event is fixed once, as a JSON body, when it happens (`analysis.finished`, from the
lifecycle's `analysis_finished` hook, or a test event), and sent as it is on every attempt
to each endpoint, signed with the endpoint's secret:

    X-DFD-Signature: t=<unix time of this attempt>,v1=<hex HMAC-SHA256 of "<t>.<body>">

Each attempt runs on a Celery worker (the task `webhooks.deliver`, sent by name, so that this
module does not import the task module that imports it). A failed attempt (no 2xx answer,
a network error, a refused address) is tried again after DFD_WEBHOOK_RETRY_BASE_SECONDS,
then 3 times that, 9 times ..., up to DFD_WEBHOOK_MAX_ATTEMPTS attempts in all. Requests go
only through dfdsite.outbound (public addresses, checked after DNS) and never follow
redirects: a redirect could lead anywhere, and a receiver knows its own address.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from datetime import timedelta

import urllib3
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from detection.models import Analysis
from dfdsite import outbound
from dfdsite.celery import app as celery_app
from dfdsite.errors import Invalid, LimitReached

from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

DELIVER_TASK = "webhooks.deliver"
SECRET_PREFIX = "whsec_"
EVENT_ANALYSIS_FINISHED = "analysis.finished"
EVENT_TEST = "webhook.test"
SIGNATURE_HEADER = "X-DFD-Signature"
USER_AGENT = "DeepfakeDetector-Webhooks/1"
RETRY_FACTOR = 3
ERROR_MAX_LENGTH = 500


# --- Endpoints ------------------------------------------------------------------------------------


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _checked_url(url: str) -> str:
    """The URL, once it is an http(s) address of a public host. Raises Invalid (on `url`)."""
    url = (url or "").strip()
    if not url:
        raise Invalid("Enter the address that should receive the events.", field="url")
    if len(url) > WebhookEndpoint.URL_MAX_LENGTH:
        raise Invalid(f"The address can be at most {WebhookEndpoint.URL_MAX_LENGTH} characters long.", field="url")
    try:
        outbound.resolve_public(url)
    except outbound.AddressRefused as refused:
        raise outbound.AddressRefused(refused.message, field="url") from None
    return url


def _checked_description(description: str) -> str:
    description = (description or "").strip()
    if len(description) > WebhookEndpoint.DESCRIPTION_MAX_LENGTH:
        raise Invalid(f"The description can be at most {WebhookEndpoint.DESCRIPTION_MAX_LENGTH} characters long.",
                      field="description")
    return description


def endpoint_create(*, owner, url: str, description: str = "", is_active: bool = True) -> WebhookEndpoint:
    """A new endpoint with a new secret (read it from `endpoint.secret` now: it is never shown
    again). Raises Invalid for an address that is not public http(s), LimitReached past
    DFD_WEBHOOK_MAX_ENDPOINTS."""
    url, description = _checked_url(url), _checked_description(description)
    if WebhookEndpoint.objects.filter(owner=owner).count() >= settings.DFD_WEBHOOK_MAX_ENDPOINTS:
        raise LimitReached(f"You can have at most {settings.DFD_WEBHOOK_MAX_ENDPOINTS} webhook endpoints. "
                           "Delete one you no longer use.", code="too_many_endpoints")
    return WebhookEndpoint.objects.create(owner=owner, url=url, description=description, is_active=is_active,
                                          secret=_new_secret(), secret_created_at=timezone.now())


def endpoint_update(*, endpoint: WebhookEndpoint, url: str | None = None, description: str | None = None,
                    is_active: bool | None = None) -> WebhookEndpoint:
    """Change what is given; a new URL is checked as on creation."""
    if url is not None:
        endpoint.url = _checked_url(url)
    if description is not None:
        endpoint.description = _checked_description(description)
    if is_active is not None:
        endpoint.is_active = is_active
    endpoint.save(update_fields=["url", "description", "is_active"])
    return endpoint


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret, at once: from now on every attempt, retries of older events included, is
    signed with it, and the old one signs nothing more."""
    endpoint.secret, endpoint.secret_created_at = _new_secret(), timezone.now()
    endpoint.save(update_fields=["secret", "secret_created_at"])
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """The endpoint and its delivery log; retries still queued find nothing and stop."""
    endpoint.delete()


def endpoints_pause_all(*, owner) -> int:
    """Pause every endpoint of the owner (the account is being deleted); how many were active."""
    return WebhookEndpoint.objects.filter(owner=owner, is_active=True).update(is_active=False)


# --- Events ---------------------------------------------------------------------------------------


def _site_url(path: str) -> str:
    return settings.DFD_SITE_URL + path


def _iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def analysis_facts(analysis: Analysis) -> dict:
    """What a receiver is told of a finished analysis (the API has the rest, at `url`)."""
    detector = analysis.detector
    return {
        "id": str(analysis.id),
        "status": analysis.status,
        "verdict": analysis.verdict or None,
        "band": analysis.band or None,
        "probability_fake": analysis.probability_fake,
        "confidence": analysis.confidence,
        "file_name": analysis.original_name,
        "source_url": analysis.source_url or None,
        "detector": {"id": detector.id, "name": detector.name} if detector else None,
        "url": _site_url(reverse("api:analysis-detail", args=[analysis.id])),
        "web_url": _site_url(reverse("detection:analysis_detail", args=[analysis.id])),
        "finished_at": _iso(analysis.finished_at),
    }


def _event_body(event: str, delivery_id, data: dict) -> str:
    # Compact and fixed once: the receiver checks the signature over exactly these bytes.
    return json.dumps({"id": str(delivery_id), "type": event, "created_at": _iso(timezone.now()), "data": data},
                      separators=(",", ":"), ensure_ascii=False)


def _queue(endpoint: WebhookEndpoint, event: str, data: dict, analysis_id=None) -> WebhookDelivery:
    delivery = WebhookDelivery(endpoint=endpoint, event=event, analysis_id=analysis_id)
    delivery.body = _event_body(event, delivery.id, data)
    delivery.save()
    transaction.on_commit(lambda: _send(delivery.id, attempt=1))
    return delivery


def analysis_finished_notify(analysis: Analysis) -> list[WebhookDelivery]:
    """lifecycle.analysis_finished receiver: queue the event for each active endpoint of the owner."""
    endpoints = list(WebhookEndpoint.objects.filter(owner_id=analysis.owner_id, is_active=True))
    if not endpoints:
        return []
    data = {"analysis": analysis_facts(analysis)}
    with transaction.atomic():
        return [_queue(endpoint, EVENT_ANALYSIS_FINISHED, data, analysis_id=analysis.id) for endpoint in endpoints]


def endpoint_send_test(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a test event for the endpoint (paused or not), to check the receiver and its secret."""
    data = {"message": "A test event from the Deepfake Detector: your endpoint and its secret work.",
            "endpoint": {"id": endpoint.id, "url": endpoint.url}}
    with transaction.atomic():
        return _queue(endpoint, EVENT_TEST, data)


# --- Delivery -------------------------------------------------------------------------------------


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for this body at this time."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def retry_delay(attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt` (from 1)."""
    return settings.DFD_WEBHOOK_RETRY_BASE_SECONDS * RETRY_FACTOR ** (attempt - 1)


def _send(delivery_id, *, attempt: int, countdown: float = 0) -> None:
    try:
        celery_app.send_task(DELIVER_TASK, args=[str(delivery_id), attempt], countdown=countdown or None)
    except Exception:
        logger.exception("could not queue webhook delivery %s (attempt %s)", delivery_id, attempt)


def _network_error(error: Exception) -> str:
    """A network failure in a few words, for the delivery log."""
    if isinstance(error, urllib3.exceptions.NewConnectionError):  # a subclass of ConnectTimeoutError
        return "Could not connect (refused or unreachable)."
    if isinstance(error, urllib3.exceptions.ConnectTimeoutError):
        return "Timed out connecting."
    if isinstance(error, urllib3.exceptions.ReadTimeoutError):
        return f"No answer within {settings.DFD_WEBHOOK_TIMEOUT_SECONDS:g} seconds."
    if isinstance(error, urllib3.exceptions.SSLError):
        return f"TLS failed: {error}"[:ERROR_MAX_LENGTH]
    return f"{type(error).__name__}: {error}"[:ERROR_MAX_LENGTH]


def _post(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> tuple[int | None, str]:
    """POST the body once: (status code, "") or (None, why nothing was answered)."""
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json", "User-Agent": USER_AGENT, "X-DFD-Event": delivery.event,
        "X-DFD-Delivery": str(delivery.id),
        SIGNATURE_HEADER: sign(secret=endpoint.secret, timestamp=int(time.time()), body=body),
    }
    try:
        with outbound.public_request(endpoint.url, method="POST", body=body, headers=headers,
                                     timeout=settings.DFD_WEBHOOK_TIMEOUT_SECONDS, follow_redirects=False) as answer:
            if 300 <= answer.status < 400:
                return answer.status, "Redirects are not followed: answer at the address itself."
            return answer.status, ""
    except outbound.AddressRefused as refused:
        return None, f"Refused: {refused.message}"[:ERROR_MAX_LENGTH]
    except urllib3.exceptions.HTTPError as error:
        return None, _network_error(error)
    except Exception:
        # Logged, and the attempt recorded as failed, so a bug cannot leave a delivery claimed but unlogged.
        logger.exception("webhook delivery %s failed unexpectedly", delivery.id)
        return None, "The delivery failed on our side; it will be tried again."


def delivery_attempt(*, delivery_id, attempt: int) -> WebhookAttempt | None:
    """Make attempt number `attempt` of a delivery, log it, and queue the next one when it
    failed and attempts remain. None when there is nothing to do: the delivery is gone (its
    endpoint was deleted), already settled, or this attempt was made already (a task that the
    broker delivered twice)."""
    claimed = WebhookDelivery.objects.filter(id=delivery_id, status=WebhookDelivery.Status.PENDING,
                                             attempts=attempt - 1).update(attempts=attempt)
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(id=delivery_id).first() if claimed else None
    if delivery is None:
        return None
    endpoint = delivery.endpoint
    started_at, started = timezone.now(), time.monotonic()
    if endpoint.is_active or delivery.event == EVENT_TEST:
        status_code, error = _post(endpoint, delivery)
    else:
        status_code, error = None, "The endpoint is paused."
    duration_ms = round((time.monotonic() - started) * 1000)
    succeeded = status_code is not None and 200 <= status_code < 300
    if not succeeded and not error:
        error = f"The receiver answered {status_code}, not 2xx."
    retry = not succeeded and endpoint.is_active and attempt < settings.DFD_WEBHOOK_MAX_ATTEMPTS
    delay = retry_delay(attempt) if retry else 0
    next_retry_at = timezone.now() + timedelta(seconds=delay) if retry else None
    logged = WebhookAttempt.objects.create(
        delivery=delivery, number=attempt, started_at=started_at, duration_ms=duration_ms, status_code=status_code,
        error=error, succeeded=succeeded, next_retry_at=next_retry_at,
    )
    Status = WebhookDelivery.Status
    status = Status.SUCCEEDED if succeeded else Status.PENDING if retry else Status.FAILED
    WebhookDelivery.objects.filter(id=delivery.id).update(status=status, last_status_code=status_code,
                                                          next_retry_at=next_retry_at)
    if retry:
        _send(delivery.id, attempt=attempt + 1, countdown=delay)
    return logged
