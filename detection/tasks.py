import socket

from celery import shared_task


@shared_task(name="detection.health_ping")
def health_ping(token: str) -> dict:
    """Round trip through the broker and a worker: proves the queue path works."""
    return {"token": token, "worker": socket.gethostname()}
