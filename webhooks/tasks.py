from celery import shared_task

from . import services


@shared_task(name=services.DELIVER_TASK, acks_late=True)
def deliver(delivery_id: str, attempt: int) -> int | None:
    """One attempt at a webhook delivery; it queues the next one itself when this one fails."""
    logged = services.delivery_attempt(delivery_id=delivery_id, attempt=attempt)
    return logged.status_code if logged else None
