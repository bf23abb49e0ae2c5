"""The lifecycle under real faults: real Celery workers on Redis, real videos, the live test
server for concurrent requests."""

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.conf import settings

from detection import services
from detection.models import Analysis
from tests import processes
from tests.factories import PASSWORD
from tests.helpers import stored_files, stored_folders, upload, wait_for_status

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def long_video(tmp_path):
    from tests.videos import face_video

    # Many frames of a larger video keep a worker busy long enough to act on it mid-run.
    return face_video(tmp_path / "long.mp4", width=640, height=480, seconds=8, fps=25).read_bytes()


def wait_until_processing(analysis, past_progress: int = 5):
    processes.wait_until(
        lambda: Analysis.objects.filter(id=analysis.id, status="processing", progress__gt=past_progress).exists(),
        90, "the worker to start the analysis", interval=0.05,
    )


def test_deleting_mid_run_leaves_no_row_no_file_no_folder_and_no_error(alice, detector, long_video, start_worker):
    worker = start_worker()
    analysis = services.analysis_create(owner=alice, file=upload(long_video), frames=100)
    wait_until_processing(analysis)

    services.analysis_delete(analysis=analysis)

    processes.wait_until(lambda: "was deleted while it ran" in worker.log_path.read_text(), 60,
                         "the worker to notice the deletion", interval=0.2)
    log = worker.log_path.read_text()
    assert not Analysis.objects.filter(id=analysis.id).exists()
    assert stored_files(settings.MEDIA_ROOT) == [] and stored_folders(settings.MEDIA_ROOT) in ([], ["analyses"])
    assert "ERROR" not in log and "Traceback" not in log, log[-3000:]


def test_a_sigkilled_pool_process_is_replaced_and_its_analysis_taken_over_within_30s(
        alice, detector, long_video, start_worker):
    start_worker(pool="prefork")
    analysis = services.analysis_create(owner=alice, file=upload(long_video), frames=100)
    wait_until_processing(analysis)
    analysis.refresh_from_db()
    pool_process = int(analysis.worker.rpartition(":")[2])

    os.kill(pool_process, signal.SIGKILL)
    killed_at = time.monotonic()

    processes.wait_until(lambda: Analysis.objects.get(id=analysis.id).attempts == 2, 30,
                         "the redelivered task to take the analysis over", interval=0.2)
    taken_over_after = time.monotonic() - killed_at
    wait_for_status(analysis, {"done", "failed"}, timeout=180)
    assert analysis.status == "done", analysis.error_message
    assert int(analysis.worker.rpartition(":")[2]) != pool_process
    print(f"taken over {taken_over_after:.1f} s after the SIGKILL")


def test_retry_cancel_and_delete_racing_never_answer_500(alice, detector, face_video_bytes, live_server):
    """Real concurrent requests against the live server: each answers 2xx, 404 or 409."""
    done = []
    for _ in range(3):
        analysis = services.analysis_create(owner=alice, file=upload(face_video_bytes), frames=10)
        done.append(services.analysis_run(analysis_id=analysis.id))
    token = requests.post(f"{live_server.url}/api/v1/auth/token/",
                          json={"username": "alice", "password": PASSWORD, "name": "race"}).json()["token"]

    def call(method: str, path: str) -> int:
        response = requests.request(method, f"{live_server.url}/api/v1/analyses/{path}",
                                    headers={"Authorization": f"Token {token}"}, timeout=60)
        return response.status_code

    requests_to_race = []
    for analysis in done:
        requests_to_race += [("post", f"{analysis.id}/retry/"), ("post", f"{analysis.id}/cancel/"),
                             ("delete", f"{analysis.id}/"), ("post", f"{analysis.id}/retry/"),
                             ("delete", f"{analysis.id}/")]
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda request: call(*request), requests_to_race))

    assert set(statuses) <= {200, 202, 204, 404, 409}, statuses
    assert statuses.count(204) == len(done)  # each is deleted exactly once
    assert not Analysis.objects.exists()
    assert stored_files(settings.MEDIA_ROOT) == []
