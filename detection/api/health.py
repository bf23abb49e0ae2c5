"""Health of the parts the platform needs: database, storage, queue broker, detector, workers.

Each check says ok or error with a short fixed sentence: never a host name, a URL or an
exception text, which could carry credentials. Storage and broker are probed in threads
with a time limit, so a hung server makes the check fail fast instead of hanging it.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from django.core.files.storage import default_storage
from django.db import connection

from ..registry import DetectorStatus, detector_check, detector_get_default
from ..selectors import worker_seen_recently

logger = logging.getLogger(__name__)
TIMEOUT_SECONDS = 3.0
PROBE_NAME = "health/probe"


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "The database answers."


def _storage() -> str:
    default_storage.exists(PROBE_NAME)  # a HEAD on S3, a stat on local disk
    return "File storage answers."


def _queue() -> str:
    from dfdsite.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=TIMEOUT_SECONDS)
    return "The task queue broker accepts connections."


class _CheckFailed(Exception):
    """A check that found a problem of its own kind; the message is a fixed sentence, safe to show."""


DETECTOR_FILE_FAILURES = {
    DetectorStatus.MISSING: "The default detector's checkpoint file is missing.",
    DetectorStatus.CHANGED: "The default detector's checkpoint file has changed since it was installed.",
}


def _detector() -> str:
    detector = detector_get_default()
    if detector is None:
        raise LookupError("no detector")
    status = detector_check(detector)  # the file's hash is cached by its mtime and size
    if not status.ok:
        raise _CheckFailed(DETECTOR_FILE_FAILURES[status.state])
    return f"Default detector: {detector.name}."


def _workers() -> str:
    if not worker_seen_recently():
        raise LookupError("no worker")
    return "A worker answered within the last minute."


FAILURES = {
    "database": "The database does not answer.",
    "storage": "File storage does not answer.",
    "queue": "The task queue broker cannot be reached.",
    "detector": "No detector is installed.",
    "workers": "No worker has answered within the last minute: analyses wait in the queue.",
}


def health_check() -> dict:
    """{"status": "ok"|"degraded", "checks": {name: {"status": "ok"|"error", "detail": str}}}."""
    checks: dict[str, dict] = {}

    def record(name: str, run) -> None:
        try:
            checks[name] = {"status": "ok", "detail": run()}
        except _CheckFailed as failure:
            logger.warning("health check %s failed: %s", name, failure)
            checks[name] = {"status": "error", "detail": str(failure)}
        except Exception as error:  # noqa: BLE001 - any failure is an unhealthy part
            logger.warning("health check %s failed: %s", name, type(error).__name__)
            detail = FAILURES[name]
            if name in ("detector", "workers") and not isinstance(error, LookupError):
                detail = f"The {name} cannot be checked without the database."
            checks[name] = {"status": "error", "detail": detail}

    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="health")
    futures = {name: pool.submit(run) for name, run in (("storage", _storage), ("queue", _queue))}
    # The database is probed on this thread: connections belong to the thread that opens them.
    record("database", _database)
    record("detector", _detector)
    record("workers", _workers)
    for name, future in futures.items():
        record(name, lambda future=future: future.result(timeout=TIMEOUT_SECONDS))
    pool.shutdown(wait=False, cancel_futures=True)
    ordered = {name: checks[name] for name in ("database", "storage", "queue", "detector", "workers")}
    healthy = all(check["status"] == "ok" for check in ordered.values())
    return {"status": "ok" if healthy else "degraded", "checks": ordered}
