"""Faults, each with a clear outcome: the analysis completes, or the person sees a clear
failure and can retry; no row points to a missing file and no file is left without a row."""

import subprocess
import time

import pytest
from django.db import connection
from django.urls import reverse

from detection import services as detection_services
from detection.models import Analysis
from dfdsite.storage import default_storage_settings
from tests import processes
from tests.helpers import reset_celery_connections, stored_files, upload, wait_for_status

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def post_video(client, content: bytes, frames: int = 10):
    return client.post(reverse("detection:analysis_new"), {"file": upload(content), "frames": frames,
                                                            "strategy": "uniform"})


def files_match_rows(media_root) -> bool:
    expected = set()
    for analysis in Analysis.objects.all():
        expected |= {analysis.video.name} | {f.thumbnail.name for f in analysis.frames.all()}
        expected |= {f.heatmap.name for f in analysis.frames.all() if f.heatmap}
    return set(stored_files(media_root)) == expected


def test_s3_unreachable_during_upload_then_retry(client, alice, detector, face_video_bytes, settings, s3_storage):
    client.force_login(alice)
    unreachable = {**s3_storage["env"], "AWS_S3_ENDPOINT_URL": f"http://127.0.0.1:{processes.free_port()}"}
    settings.STORAGES = {**settings.STORAGES, "default": default_storage_settings(unreachable, settings.MEDIA_ROOT)}
    response = post_video(client, face_video_bytes)
    assert response.status_code == 503
    assert b"could not be stored right now" in response.content
    assert not Analysis.objects.exists()

    # The server is reachable again: the same upload goes through.
    settings.STORAGES = {**settings.STORAGES, "default": default_storage_settings(s3_storage["env"], settings.MEDIA_ROOT)}
    assert post_video(client, face_video_bytes).status_code == 302
    analysis = Analysis.objects.get()
    keys = [item["Key"] for item in s3_storage["client"].list_objects_v2(Bucket=s3_storage["bucket"])["Contents"]]
    assert keys == [analysis.video.name]


def test_delete_while_storage_is_unreachable_keeps_the_analysis(client, alice, detector, face_video_bytes, settings,
                                                                s3_storage):
    client.force_login(alice)
    assert post_video(client, face_video_bytes).status_code == 302
    analysis = Analysis.objects.get()
    unreachable = {**s3_storage["env"], "AWS_S3_ENDPOINT_URL": f"http://127.0.0.1:{processes.free_port()}"}
    settings.STORAGES = {**settings.STORAGES, "default": default_storage_settings(unreachable, settings.MEDIA_ROOT)}
    page = client.post(reverse("detection:analysis_delete", args=[analysis.id]), follow=True)
    assert b"could not be deleted right now" in page.content
    assert Analysis.objects.filter(id=analysis.id).exists()  # still listed, still deletable
    settings.STORAGES = {**settings.STORAGES, "default": default_storage_settings(s3_storage["env"], settings.MEDIA_ROOT)}
    client.post(reverse("detection:analysis_delete", args=[analysis.id]))
    assert not Analysis.objects.exists()
    assert "Contents" not in s3_storage["client"].list_objects_v2(Bucket=s3_storage["bucket"])


@pytest.fixture
def private_redis(tmp_path):
    """A Redis server of this test's own, so it can be stopped and started again."""
    port = processes.free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(tmp_path)]

    def start():
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.wait_until(lambda: processes.port_open("127.0.0.1", port), 10, "redis-server")
        return proc

    state = {"proc": start(), "url": f"redis://127.0.0.1:{port}/0", "start": start}
    yield state
    processes.stop_process(state["proc"])


def test_redis_stopped_and_restarted(client, alice, detector, face_video_bytes, private_redis, settings, tmp_path,
                                     redis_broker):
    """The broker is down while a video is uploaded: the upload is kept and waits; once the
    broker is back the reaper sends it again and a worker finishes it."""
    from dfdsite.celery import app

    reset_celery_connections()
    app.conf.update(broker_url=private_redis["url"])
    processes.stop_process(private_redis["proc"])  # the broker goes away
    client.force_login(alice)
    started = time.monotonic()
    assert post_video(client, face_video_bytes).status_code == 302  # the upload itself is kept
    assert time.monotonic() - started < 30
    analysis = Analysis.objects.get()
    assert analysis.status == "queued"
    page = client.get(reverse("detection:analysis_detail", args=[analysis.id]))
    assert b"Waiting for a worker" in page.content

    private_redis["proc"] = private_redis["start"]()  # the broker comes back, empty
    env = processes.django_env(
        DJANGO_DEBUG="1", DFD_VAR_DIR=str(tmp_path / "var"), CELERY_BROKER_URL=private_redis["url"],
        CELERY_DEFAULT_QUEUE=redis_broker["queue"], DATABASE_URL=processes.database_url_for(connection),
        DJANGO_MEDIA_ROOT=str(settings.MEDIA_ROOT), DFD_MODELS_DIR=str(settings.DFD_MODELS_DIR),
    )
    log = tmp_path / "worker.log"
    worker = processes.start_celery_worker(env, log, queues=redis_broker["queue"])
    try:
        processes.wait_until(lambda: "ready." in log.read_text(), 60, "the worker to connect")
        reset_celery_connections()
        assert detection_services.analyses_reap_stale(queued_after_seconds=0).requeued == [analysis.id]
        wait_for_status(analysis, {"done", "failed"}, timeout=120)
        assert analysis.status == "done", analysis.error_message
        assert files_match_rows(settings.MEDIA_ROOT)
    finally:
        processes.stop_process(worker)


def test_database_connections_dropped_mid_analysis(alice, detector, tmp_path, start_worker, settings):
    """What a PostgreSQL restart looks like to the platform: every connection is cut."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no server whose connections can be cut")
    from tests.videos import face_video

    content = face_video(tmp_path / "long.mp4", width=640, height=480, seconds=8, fps=25).read_bytes()
    start_worker()
    analysis = detection_services.analysis_create(owner=alice, file=upload(content), frames=100)
    processes.wait_until(lambda: Analysis.objects.filter(id=analysis.id, status="processing").exists(), 90,
                        "the worker to start", interval=0.1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")

    def settled():
        detection_services.analyses_reap_stale(stale_after_seconds=3)
        analysis.refresh_from_db()
        return analysis.status in ("done", "failed")

    processes.wait_until(settled, 180, "the analysis to finish after the connections were cut", interval=1)
    assert analysis.status == "done" or analysis.error_message
    assert files_match_rows(settings.MEDIA_ROOT)


def test_api_answers_503_when_storage_is_unreachable(client, alice, detector, face_video_bytes, settings):
    from tests.helpers import auth, token_for

    unreachable = {"STORAGE_BACKEND": "s3", "AWS_STORAGE_BUCKET_NAME": "dfd-test", "AWS_ACCESS_KEY_ID": "k",
                   "AWS_SECRET_ACCESS_KEY": "s", "AWS_S3_ENDPOINT_URL": f"http://127.0.0.1:{processes.free_port()}"}
    settings.STORAGES = {**settings.STORAGES, "default": default_storage_settings(unreachable, settings.MEDIA_ROOT)}
    response = client.post("/api/v1/analyses/", {"file": upload(face_video_bytes), "frames": 10},
                           headers=auth(token_for(alice)))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "storage_unavailable"
    assert not Analysis.objects.exists()
