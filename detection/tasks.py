import socket

from celery import shared_task

from . import lifecycle, services, workers  # noqa: F401 - workers: heartbeat signals of this worker


@shared_task(name="detection.health_ping")
def health_ping(token: str) -> dict:
    """Round trip through the broker and a worker: proves the queue path works."""
    return {"token": token, "worker": socket.gethostname()}


@shared_task(name=lifecycle.RUN_ANALYSIS_TASK, acks_late=True, reject_on_worker_lost=True)
def run_analysis(analysis_id: str) -> str | None:
    analysis = services.analysis_run(analysis_id=analysis_id)
    return analysis.status if analysis else None


@shared_task(name="detection.reap_stale_analyses")
def reap_stale_analyses() -> dict:
    report = services.analyses_reap_stale()
    return {"requeued": [str(i) for i in report.requeued], "failed": [str(i) for i in report.failed]}
