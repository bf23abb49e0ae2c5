"""Upload to verdict through a real Celery worker process on a real Redis broker, with
uploads on a real S3 server (SeaweedFS) and on local disk; and a worker killed mid-run."""

import signal
import urllib.request

import pytest
from django.conf import settings
from django.urls import reverse

from detection import services as detection_services
from detection.models import Analysis
from tests import processes
from tests.helpers import stored_files, upload, wait_for_status

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def bucket_keys(s3) -> list[str]:
    listing = s3["client"].list_objects_v2(Bucket=s3["bucket"])
    return sorted(item["Key"] for item in listing.get("Contents", []))


def upload_through_the_form(client, content: bytes) -> Analysis:
    response = client.post(reverse("detection:analysis_new"), {"file": upload(content), "frames": 10,
                                                                "strategy": "uniform"})
    assert response.status_code == 302, response.content[:2000]
    return Analysis.objects.get()


def test_upload_to_verdict_on_s3(client, alice, detector, face_video_bytes, s3_storage, start_worker):
    start_worker(s3_storage["env"])
    client.force_login(alice)
    analysis = upload_through_the_form(client, face_video_bytes)
    assert bucket_keys(s3_storage) == [f"analyses/{analysis.id}/video.mp4"]

    wait_for_status(analysis, {"done", "failed"})
    assert analysis.status == "done", analysis.error_message
    assert analysis.verdict in ("real", "fake") and analysis.frames_analysed >= 9
    keys = bucket_keys(s3_storage)
    assert {frame.thumbnail.name for frame in analysis.frames.all()} <= set(keys)

    # Files are private: a plain GET is refused, the app redirects its owner to a presigned URL.
    endpoint = s3_storage["env"]["AWS_S3_ENDPOINT_URL"]
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(f"{endpoint}/{s3_storage['bucket']}/{analysis.poster.name}")
    assert denied.value.code == 403
    poster = client.get(reverse("detection:analysis_poster", args=[analysis.id]))
    assert poster.status_code == 302 and "X-Amz-Signature=" in poster.url and "X-Amz-Expires=300" in poster.url
    with urllib.request.urlopen(poster.url) as response:
        assert response.read(3) == b"\xff\xd8\xff"

    page = client.get(reverse("detection:analysis_detail", args=[analysis.id]))
    assert b'id="verdict"' in page.content

    client.post(reverse("detection:analysis_delete", args=[analysis.id]))
    assert not Analysis.objects.exists()
    assert bucket_keys(s3_storage) == []


def test_upload_to_verdict_on_local_disk(client, alice, detector, face_video_bytes, start_worker):
    start_worker()
    client.force_login(alice)
    analysis = upload_through_the_form(client, face_video_bytes)
    wait_for_status(analysis, {"done", "failed"})
    assert analysis.status == "done", analysis.error_message
    files = stored_files(settings.MEDIA_ROOT)
    assert analysis.video.name in files and analysis.poster.name in files
    assert len(files) == 1 + analysis.frames.count() + analysis.frames.exclude(heatmap="").count()


def test_worker_killed_mid_analysis_is_reaped_and_finishes(alice, detector, tmp_path, start_worker, settings):
    from tests.videos import face_video

    # A longer video with many frames keeps the worker busy long enough to be killed.
    content = face_video(tmp_path / "long.mp4", width=640, height=480, seconds=8, fps=25).read_bytes()
    first = start_worker()
    analysis = detection_services.analysis_create(owner=alice, file=upload(content), frames=100)

    processes.wait_until(
        lambda: Analysis.objects.filter(id=analysis.id, status="processing", progress__gt=5).exists(), 90,
        "the worker to start the analysis", interval=0.1,
    )
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    analysis.refresh_from_db()
    assert analysis.status == "processing" and analysis.attempts == 1

    # The reaper sees a heartbeat older than the threshold, requeues it once, and a new worker finishes it.
    processes.wait_until(lambda: detection_services.analyses_reap_stale(stale_after_seconds=2).requeued, 30,
                        "the reaper to requeue the analysis", interval=0.5)
    start_worker()
    wait_for_status(analysis, {"done", "failed"}, timeout=180)
    assert analysis.status == "done", analysis.error_message
    assert analysis.attempts == 2
    files = stored_files(settings.MEDIA_ROOT)
    expected = {analysis.video.name} | {f.thumbnail.name for f in analysis.frames.all()} | {
        f.heatmap.name for f in analysis.frames.all() if f.heatmap}
    assert set(files) == expected  # nothing orphaned from the killed run


def test_a_running_worker_is_seen_by_health_and_forgotten_when_it_stops(client, detector, start_worker):
    from detection.models import WorkerHeartbeat

    worker = start_worker()
    processes.wait_until(WorkerHeartbeat.objects.exists, 60, "the worker's first heartbeat", interval=0.2)
    assert client.get("/api/v1/health/").json()["checks"]["workers"]["status"] == "ok"
    processes.stop_process(worker)
    assert not WorkerHeartbeat.objects.exists()
    assert client.get("/api/v1/health/").json()["checks"]["workers"]["status"] == "error"
