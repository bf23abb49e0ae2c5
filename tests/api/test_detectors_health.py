"""GET /detectors/ and GET /health/."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from detection import workers
from detection.models import WorkerHeartbeat
from dfdsite.storage import default_storage_settings
from tests.helpers import assert_error
from tests.processes import free_port

pytestmark = pytest.mark.django_db


def test_detectors_with_their_metrics(api, detector):
    detector.metrics = {"accuracy": 0.91, "auc": 0.95}
    detector.description = "Test weights"
    detector.save()
    response = api.get("/api/v1/detectors/")
    assert response.status_code == 200
    [item] = response.json()
    assert item["id"] == detector.id and item["name"] == "Test detector" and item["is_default"] is True
    assert item["metrics"] == {"accuracy": 0.91, "auc": 0.95}
    assert (item["variant"], item["backbone"], item["input_size"]) == ("temporal", "resnext50", 112)
    assert "file" not in item and "path" not in item  # where checkpoints live is not the client's business


def test_detectors_need_authentication(client, detector):
    assert_error(client.get("/api/v1/detectors/"), 401)


def test_health_is_public_and_ok(client, detector):
    workers.beat("worker@test")
    response = client.get("/api/v1/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "storage", "queue", "detector", "workers"}
    assert all(check["status"] == "ok" for check in body["checks"].values())
    assert body["checks"]["detector"]["detail"] == "Default detector: Test detector."


def test_health_says_when_no_worker_answered_within_a_minute(client, detector):
    expected = {"status": "error",
                "detail": "No worker has answered within the last minute: analyses wait in the queue."}
    assert client.get("/api/v1/health/").json()["checks"]["workers"] == expected
    WorkerHeartbeat.objects.create(name="gone@test", seen_at=timezone.now() - timedelta(seconds=61))
    response = client.get("/api/v1/health/")
    assert response.status_code == 503 and response.json()["checks"]["workers"] == expected
    workers.beat("worker@test")
    assert client.get("/api/v1/health/").json()["checks"]["workers"]["status"] == "ok"


def test_health_without_a_detector_is_degraded(client, db):
    response = client.get("/api/v1/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["detector"] == {"status": "error", "detail": "No detector is installed."}
    assert body["checks"]["database"]["status"] == "ok"


def test_health_reports_unreachable_storage_and_broker_quickly_and_without_secrets(client, detector, settings):
    from dfdsite.celery import app

    port = free_port()
    settings.STORAGES = {**settings.STORAGES, "default": default_storage_settings({
        "STORAGE_BACKEND": "s3", "AWS_STORAGE_BUCKET_NAME": "bucket", "AWS_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "KEY-ID-SECRET", "AWS_SECRET_ACCESS_KEY": "very-secret-key", "AWS_S3_REGION_NAME": "x",
    }, settings.MEDIA_ROOT)}
    saved = app.conf.broker_url, app.conf.broker_transport_options
    app.close()
    app.conf.broker_url, app.conf.broker_transport_options = f"redis://:broker-password@127.0.0.1:{port}/0", {}
    try:
        started = time.monotonic()
        response = client.get("/api/v1/health/")
        elapsed = time.monotonic() - started
    finally:
        app.close()
        app.conf.broker_url, app.conf.broker_transport_options = saved
    assert response.status_code == 503 and elapsed < 8
    body = response.json()
    assert body["checks"]["storage"] == {"status": "error", "detail": "File storage does not answer."}
    assert body["checks"]["queue"] == {"status": "error", "detail": "The task queue broker cannot be reached."}
    assert body["checks"]["database"]["status"] == body["checks"]["detector"]["status"] == "ok"
    text = response.content.decode()
    for secret in ("broker-password", "very-secret-key", "KEY-ID-SECRET", str(port), "127.0.0.1"):
        assert secret not in text


@pytest.mark.parametrize("damage, detail", [
    ("remove", "The default detector's checkpoint file is missing."),
    ("change", "The default detector's checkpoint file has changed since it was installed."),
])
def test_health_reports_a_missing_or_changed_default_file(client, own_detector, settings, damage, detail):
    if damage == "remove":
        own_detector.path.unlink()
    else:
        own_detector.path.write_bytes(own_detector.path.read_bytes()[:-10])
    response = client.get("/api/v1/health/")
    assert response.status_code == 503
    assert response.json()["checks"]["detector"] == {"status": "error", "detail": detail}
    text = response.content.decode()
    for secret in ("own-detector", str(settings.DFD_MODELS_DIR), ".pt"):
        assert secret not in text


def test_health_detector_check_recovers_when_the_file_is_back(client, own_detector, checkpoint_path):
    import shutil

    own_detector.path.unlink()
    assert client.get("/api/v1/health/").json()["checks"]["detector"]["status"] == "error"
    shutil.copy(checkpoint_path, own_detector.path)
    assert client.get("/api/v1/health/").json()["checks"]["detector"] == {
        "status": "ok", "detail": "Default detector: Own detector.",
    }
