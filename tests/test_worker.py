"""The queue path: a task sent to a real broker runs in a real Celery worker process,
on Redis (production) and on the filesystem queue (the embedded default)."""

import uuid

import pytest
from celery import Celery

from tests import processes

pytestmark = pytest.mark.services


def round_trip(client: Celery, worker, queue: str) -> None:
    token = uuid.uuid4().hex
    result = client.send_task("detection.health_ping", args=[token], queue=queue)
    reply = result.get(timeout=60)
    assert reply["token"] == token
    assert reply["worker"]
    assert worker.poll() is None, "the worker should still be running"


def test_health_task_runs_in_a_real_worker_on_redis(redis_url, tmp_path):
    env = processes.django_env(
        DJANGO_DEBUG="1", DFD_VAR_DIR=str(tmp_path), CELERY_BROKER_URL=redis_url, CELERY_RESULT_BACKEND=redis_url
    )
    queue = f"test-{uuid.uuid4().hex[:12]}"  # no other test run listens here
    worker = processes.start_celery_worker(env, tmp_path / "worker.log", queues=queue)
    client = Celery(broker=redis_url, backend=redis_url)
    try:
        round_trip(client, worker, queue)
    finally:
        processes.stop_process(worker)
        client.close()
    log = (tmp_path / "worker.log").read_text()
    assert "detection.health_ping" in log and "succeeded" in log, log


def test_health_task_runs_on_the_embedded_filesystem_queue(tmp_path):
    results = f"file://{tmp_path / 'results'}"
    (tmp_path / "results").mkdir()
    env = processes.django_env(DJANGO_DEBUG="1", DFD_VAR_DIR=str(tmp_path), CELERY_RESULT_BACKEND=results)
    worker = processes.start_celery_worker(env, tmp_path / "worker.log")
    queue = tmp_path / "queue"
    client = Celery(broker="filesystem://", backend=results)
    client.conf.broker_transport_options = {
        "data_folder_in": str(queue / "messages"), "data_folder_out": str(queue / "messages"),
        "control_folder": str(queue / "control"),
    }
    try:
        processes.wait_until(lambda: (queue / "messages").is_dir(), 30, "the worker to create its queue")
        round_trip(client, worker, "default")
    finally:
        processes.stop_process(worker)
        client.close()
