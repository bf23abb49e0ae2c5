"""An analysis's life: each transition, the guards that keep two actors from both winning,
and the one analysis_finished hook. Rows from factories; runs on real videos where a
worker's run is needed."""

import logging
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from detection import lifecycle, services
from detection.models import Analysis, FrameResult
from dfdsite.errors import Conflict, NotFound
from tests.factories import AnalysisFactory
from tests.helpers import stored_files, stored_folders, upload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def finished(monkeypatch):
    """The analyses analysis_finished was called with, in order."""
    seen = []
    monkeypatch.setattr(lifecycle, "finished_receivers", [seen.append])
    return seen


def our_warnings(caplog) -> list:
    return [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith(("detection", "dfdsite"))]


def a_dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_claim_takes_a_queued_analysis_once(detector):
    analysis = AnalysisFactory(detector=detector)
    claimed = lifecycle.analysis_claim(analysis_id=analysis.id, worker="host-a:1")
    assert (claimed.status, claimed.attempts, claimed.worker) == ("processing", 1, "host-a:1")
    # Another delivery of the same message while the holder lives (elsewhere) leaves it alone.
    assert lifecycle.analysis_claim(analysis_id=analysis.id, worker="host-b:2") is None
    assert Analysis.objects.get(id=analysis.id).attempts == 1


def test_a_redelivered_task_takes_over_at_once_from_a_dead_holder_on_this_host(detector):
    analysis = AnalysisFactory(detector=detector)
    lifecycle.analysis_claim(analysis_id=analysis.id, worker=f"{lifecycle.worker_name().rpartition(':')[0]}:"
                                                            f"{a_dead_pid()}")
    taken = lifecycle.analysis_claim(analysis_id=analysis.id)
    assert taken is not None and taken.attempts == 2 and taken.worker == lifecycle.worker_name()


def test_a_live_holder_on_this_host_keeps_its_analysis(detector):
    analysis = AnalysisFactory(detector=detector)
    lifecycle.analysis_claim(analysis_id=analysis.id)  # this process: alive
    assert lifecycle.analysis_claim(analysis_id=analysis.id, worker="other:1") is None


def test_a_stale_heartbeat_is_taken_over_from_anywhere(detector):
    analysis = AnalysisFactory(detector=detector)
    lifecycle.analysis_claim(analysis_id=analysis.id, worker="far-away-host:1")
    old = timezone.now() - timedelta(seconds=settings.DFD_HEARTBEAT_STALE_SECONDS + 1)
    Analysis.objects.filter(id=analysis.id).update(heartbeat_at=old)
    assert lifecycle.analysis_claim(analysis_id=analysis.id, worker="here:2").attempts == 2


def test_a_superseded_worker_can_write_nothing(detector, finished):
    analysis = AnalysisFactory(detector=detector)
    held = lifecycle.analysis_claim(analysis_id=analysis.id, worker="old:1")
    old = timezone.now() - timedelta(seconds=settings.DFD_HEARTBEAT_STALE_SECONDS + 1)
    Analysis.objects.filter(id=analysis.id).update(heartbeat_at=old)
    lifecycle.analysis_claim(analysis_id=analysis.id, worker="new:2")

    with pytest.raises(lifecycle.Superseded):
        lifecycle.analysis_progress(analysis=held, stage="faces", progress=40)
    frame = FrameResult(analysis=held, index=0, timestamp=0, box={}, probability_fake=0.9, thumbnail="x.jpg")
    with pytest.raises(lifecycle.Superseded):
        lifecycle.analysis_complete(analysis=held, frames=[frame], verdict="fake", probability_fake=0.9)
    with pytest.raises(lifecycle.Superseded):
        lifecycle.analysis_fail(analysis=held, message="no")
    current = Analysis.objects.get(id=analysis.id)
    assert (current.status, current.worker, current.frames.count()) == ("processing", "new:2", 0)
    assert finished == []


def test_a_cancelled_worker_cannot_write_into_the_retry_another_worker_runs(detector):
    analysis = AnalysisFactory(detector=detector)
    old = lifecycle.analysis_claim(analysis_id=analysis.id, worker="host:1")
    lifecycle.analysis_cancel(analysis_id=analysis.id)
    lifecycle.analysis_retry(analysis_id=analysis.id)
    new = lifecycle.analysis_claim(analysis_id=analysis.id, worker="host:2")
    assert new.attempts == old.attempts  # the retry counts attempts afresh
    with pytest.raises(lifecycle.Superseded):
        lifecycle.analysis_progress(analysis=old, stage="model", progress=80)
    lifecycle.analysis_progress(analysis=new, stage="faces", progress=30)


def test_every_ending_calls_the_hook_once(detector, finished):
    done, failed, cancelled = (AnalysisFactory(detector=detector) for _ in range(3))
    held = lifecycle.analysis_claim(analysis_id=done.id)
    lifecycle.analysis_complete(analysis=held, frames=[], verdict="no_face")
    held = lifecycle.analysis_claim(analysis_id=failed.id)
    lifecycle.analysis_fail(analysis=held, message="The video could not be analysed.")
    lifecycle.analysis_cancel(analysis_id=cancelled.id)
    assert [(a.id, a.status) for a in finished] == [
        (done.id, "done"), (failed.id, "failed"), (cancelled.id, "cancelled")]
    assert finished[0].verdict == "no_face" and finished[1].error_message.startswith("The video")


def test_the_reaper_requeues_then_fails_and_the_hook_sees_the_failure(detector, finished, settings):
    settings.DFD_MAX_ATTEMPTS = 2
    analysis = AnalysisFactory(detector=detector)
    for attempt in (1, 2):
        lifecycle.analysis_claim(analysis_id=analysis.id)
        Analysis.objects.filter(id=analysis.id).update(heartbeat_at=timezone.now() - timedelta(seconds=10))
        requeued, failed = lifecycle.analyses_reap(stale_after_seconds=5, queued_after_seconds=900)
        assert (requeued, failed) == (([analysis.id], []) if attempt == 1 else ([], [analysis.id]))
    assert Analysis.objects.get(id=analysis.id).status == "failed"
    assert [a.status for a in finished] == ["failed"]


@pytest.mark.parametrize("status", ["queued", "processing"])
def test_running_analyses_cannot_be_retried_and_finished_ones_cannot_be_cancelled(detector, status):
    analysis = AnalysisFactory(detector=detector)
    if status == "processing":
        lifecycle.analysis_claim(analysis_id=analysis.id)
    with pytest.raises(Conflict):
        lifecycle.analysis_retry(analysis_id=analysis.id)
    lifecycle.analysis_cancel(analysis_id=analysis.id)
    with pytest.raises(Conflict):
        lifecycle.analysis_cancel(analysis_id=analysis.id)
    assert lifecycle.analysis_retry(analysis_id=analysis.id).status == "queued"


def test_what_is_gone_is_not_found_for_every_action(detector):
    analysis = AnalysisFactory(detector=detector)
    lifecycle.analysis_delete(analysis_id=analysis.id)
    for action in (lifecycle.analysis_retry, lifecycle.analysis_cancel, lifecycle.analysis_delete):
        with pytest.raises(NotFound):
            action(analysis_id=analysis.id)


def test_a_cancelled_analysis_is_never_claimed(detector):
    analysis = AnalysisFactory(detector=detector)
    lifecycle.analysis_cancel(analysis_id=analysis.id)
    assert lifecycle.analysis_claim(analysis_id=analysis.id) is None


# --- A worker's run, cancelled or deleted under it -------------------------------------------


def _act_at_stage(monkeypatch, stage: str, act):
    """Do `act(analysis)` the first time the run reports `stage`, as an owner's request would."""
    report = lifecycle.analysis_progress
    done = []

    def progress(*, analysis, stage: str, progress: int):
        if stage == stage_wanted and not done:
            done.append(True)
            act(analysis)
        report(analysis=analysis, stage=stage, progress=progress)

    stage_wanted = stage
    monkeypatch.setattr(lifecycle, "analysis_progress", progress)


@pytest.mark.parametrize("stage", ["download", "faces", "save"])
def test_deleting_a_running_analysis_stops_its_worker_and_leaves_nothing(
        alice, detector, face_video_bytes, monkeypatch, caplog, finished, stage):
    analysis = services.analysis_create(owner=alice, file=upload(face_video_bytes), frames=10)
    _act_at_stage(monkeypatch, stage, lambda a: services.analysis_delete(analysis=a))

    with caplog.at_level(logging.INFO):
        assert services.analysis_run(analysis_id=analysis.id) is None

    assert not Analysis.objects.filter(id=analysis.id).exists()
    assert FrameResult.objects.count() == 0
    assert stored_files(settings.MEDIA_ROOT) == [] and stored_folders(settings.MEDIA_ROOT) in ([], ["analyses"])
    assert our_warnings(caplog) == []
    assert any("was deleted while it ran" in r.getMessage() for r in caplog.records)
    assert [(a.id, a.status) for a in finished] == [(analysis.id, "cancelled")]


def test_cancelling_a_running_analysis_keeps_its_video_and_no_results(
        alice, detector, face_video_bytes, monkeypatch, caplog, finished):
    analysis = services.analysis_create(owner=alice, file=upload(face_video_bytes), frames=10)
    _act_at_stage(monkeypatch, "save", lambda a: services.analysis_cancel(analysis=a))

    with caplog.at_level(logging.INFO):
        assert services.analysis_run(analysis_id=analysis.id) is None

    analysis.refresh_from_db()
    assert analysis.status == "cancelled" and analysis.frames.count() == 0
    assert stored_files(settings.MEDIA_ROOT) == [analysis.video.name]
    assert our_warnings(caplog) == []
    assert [a.status for a in finished] == ["cancelled"]
    # And it runs again from scratch.
    services.analysis_retry(analysis=analysis)
    monkeypatch.undo()
    assert services.analysis_run(analysis_id=analysis.id).status == "done"
