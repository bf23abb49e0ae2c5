"""Workers say they are alive: each Celery worker writes a WorkerHeartbeat row every few
seconds while it runs, and removes it when it stops. Health and the result page of a queued
analysis read them (selectors.worker_seen_recently)."""

from __future__ import annotations

import logging
import socket
import threading

from celery import signals
from django.db import close_old_connections, connection
from django.utils import timezone

from .models import WorkerHeartbeat

logger = logging.getLogger(__name__)
BEAT_EVERY_SECONDS = 10
# A worker is taken for gone when it has not written for this long (a few missed beats).
SEEN_WITHIN_SECONDS = 60

_stop = threading.Event()


def _name(sender) -> str:
    return getattr(sender, "hostname", None) or socket.gethostname()


def beat(name: str) -> None:
    WorkerHeartbeat.objects.update_or_create(name=name, defaults={"seen_at": timezone.now()})


def _beat_forever(name: str) -> None:
    while not _stop.is_set():
        try:
            close_old_connections()
            beat(name)
        except Exception:  # the database is down: health says so; keep trying
            logger.warning("could not write the worker heartbeat", exc_info=True)
        finally:
            connection.close()
        _stop.wait(BEAT_EVERY_SECONDS)


@signals.worker_ready.connect
def _start_beating(sender=None, **kwargs) -> None:
    _stop.clear()
    threading.Thread(target=_beat_forever, args=(_name(sender),), name="dfd-heartbeat", daemon=True).start()


@signals.worker_shutdown.connect
def _stop_beating(sender=None, **kwargs) -> None:
    _stop.set()
    try:
        WorkerHeartbeat.objects.filter(name=_name(sender)).delete()
    except Exception:
        logger.warning("could not remove the worker heartbeat", exc_info=True)
