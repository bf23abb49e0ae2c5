"""Success responses checked against the schema by Schemathesis (in process, over WSGI), for the
cases a fuzzer cannot reach on its own: a real upload, the files of a finished analysis, a
retry, a delete, a token. Every built-in check runs on each response."""

import pytest
from django.core.wsgi import get_wsgi_application

from accounts.models import ApiToken
from detection import workers
from detection.models import Analysis
from tests.helpers import PASSWORD, auth, endpoint_with_log
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db

# positive_data_acceptance is about generated data; these cases are hand-made.
EXCLUDED = ["positive_data_acceptance", "negative_data_rejection"]


@pytest.fixture
def schema(db):
    import schemathesis
    from django.core import signals
    from django.db import close_old_connections

    # As Django's test client does: requests must not close the test's transaction.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def check(schema, method: str, path: str, token: str | None, status: int, **case):
    from schemathesis.specs.openapi import checks as openapi_checks

    excluded = [getattr(openapi_checks, name) for name in EXCLUDED]
    operation = schema[path][method]
    response = operation.Case(**case).call_and_validate(
        headers=auth(token) if token else None, excluded_checks=excluded,
    )
    assert response.status_code == status, response.text[:2000]
    return response


def test_success_responses_match_the_schema(schema, alice, alice_token, done, face_video_bytes, detector):
    workers.beat("worker@test")  # health answers 200 only while a worker is seen
    frame = done.frames.exclude(heatmap="").first()
    ids = {"analysis_id": str(done.id)}
    check(schema, "GET", "/api/v1/analyses/", alice_token, 200, query={"verdict": done.verdict, "page_size": 5})
    check(schema, "GET", "/api/v1/analyses/{analysis_id}/", alice_token, 200, path_parameters=ids)
    for path in ("/api/v1/analyses/{analysis_id}/poster/", "/api/v1/analyses/{analysis_id}/video/"):
        check(schema, "GET", path, alice_token, 200, path_parameters=ids)
    for path in ("/api/v1/analyses/{analysis_id}/frames/{index}/thumbnail/",
                 "/api/v1/analyses/{analysis_id}/frames/{index}/heatmap/"):
        check(schema, "GET", path, alice_token, 200, path_parameters={**ids, "index": frame.index})
    check(schema, "GET", "/api/v1/detectors/", alice_token, 200)
    check(schema, "GET", "/api/v1/health/", None, 200)
    check(schema, "GET", "/api/v1/auth/tokens/", alice_token, 200)

    created = check(schema, "POST", "/api/v1/analyses/", alice_token, 202, media_type="multipart/form-data",
                    body={"file": face_video_bytes, "frames": 12, "strategy": "contiguous"})
    assert Analysis.objects.filter(id=created.json()["id"], frames_requested=12).exists()
    check(schema, "POST", "/api/v1/analyses/{analysis_id}/retry/", alice_token, 202, path_parameters=ids)
    check(schema, "POST", "/api/v1/analyses/{analysis_id}/retry/", alice_token, 409, path_parameters=ids)
    check(schema, "DELETE", "/api/v1/analyses/{analysis_id}/", alice_token, 204, path_parameters=ids)

    token = check(schema, "POST", "/api/v1/auth/token/", None, 201, media_type="application/json",
                  body={"username": "alice", "password": PASSWORD, "name": "conformance", "expires_in_days": 0})
    token_id = ApiToken.objects.get(name="conformance").id
    assert token.json()["id"] == token_id
    check(schema, "DELETE", "/api/v1/auth/tokens/{token_id}/", alice_token, 204,
          path_parameters={"token_id": token_id})


def test_error_responses_match_the_schema(schema, alice, alice_token, bobs, detector, settings):
    ids = {"analysis_id": str(bobs.id)}
    check(schema, "GET", "/api/v1/analyses/{analysis_id}/", alice_token, 404, path_parameters=ids)
    check(schema, "GET", "/api/v1/analyses/{analysis_id}/poster/", alice_token, 404, path_parameters=ids)
    check(schema, "GET", "/api/v1/analyses/", None, 401)
    check(schema, "POST", "/api/v1/analyses/", alice_token, 400, media_type="multipart/form-data",
          body={"file": b"not a video", "frames": 10})
    settings.DFD_MAX_UPLOAD_BYTES = 4
    check(schema, "POST", "/api/v1/analyses/", alice_token, 413, media_type="multipart/form-data",
          body={"file": b"0123456789"})
    check(schema, "POST", "/api/v1/auth/token/", None, 401, media_type="application/json",
          body={"username": "alice", "password": "wrong"})


def test_webhook_and_export_responses_match_the_schema(schema, alice, alice_token, settings):
    settings.DFD_OUTBOUND_ALLOW_PRIVATE = True
    created = check(schema, "POST", "/api/v1/webhooks/", alice_token, 201, media_type="application/json",
                    body={"url": "http://127.0.0.1:9/hooks", "description": "conformance"})
    ids = {"endpoint_id": created.json()["id"]}
    check(schema, "GET", "/api/v1/webhooks/", alice_token, 200)
    check(schema, "PATCH", "/api/v1/webhooks/{endpoint_id}/", alice_token, 200, path_parameters=ids,
          media_type="application/json", body={"is_active": False})
    check(schema, "POST", "/api/v1/webhooks/{endpoint_id}/rotate-secret/", alice_token, 200, path_parameters=ids)
    check(schema, "POST", "/api/v1/webhooks/{endpoint_id}/test/", alice_token, 202, path_parameters=ids)
    endpoint_with_log(alice)  # deliveries with attempts of every kind, for the next check
    check(schema, "GET", "/api/v1/webhooks/{endpoint_id}/deliveries/", alice_token, 200,
          path_parameters={"endpoint_id": WebhookEndpoint.objects.get(description="newsroom alerts").id})
    check(schema, "POST", "/api/v1/webhooks/", alice_token, 400, media_type="application/json",
          body={"url": "http://169.254.169.254/"})
    check(schema, "DELETE", "/api/v1/webhooks/{endpoint_id}/", alice_token, 204, path_parameters=ids)
    check(schema, "GET", "/api/v1/account/export/", alice_token, 200)
