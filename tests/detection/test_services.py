"""Services on real videos, real face detection and a real (random-weight) model, in process."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from detection import services
from detection.models import Analysis, FrameResult
from dfdsite.errors import DomainError
from tests import videos
from tests.helpers import stored_files, upload

pytestmark = pytest.mark.django_db


def test_create_stores_video_and_metadata(alice, detector, face_video_bytes):
    analysis = services.analysis_create(owner=alice, file=upload(face_video_bytes, "../../etc/My clip.mp4"),
                                        frames=12)
    assert analysis.status == Analysis.Status.QUEUED
    assert analysis.original_name == "My clip.mp4"  # no path from the client survives
    assert analysis.video.name == f"analyses/{analysis.id}/video.mp4"
    assert analysis.size_bytes == len(face_video_bytes)
    assert len(analysis.sha256) == 64
    assert (analysis.width, analysis.height, analysis.container) == (320, 240, "mp4")
    assert analysis.duration_seconds == pytest.approx(1.0, abs=0.1)
    assert analysis.detector == detector
    assert stored_files(settings.MEDIA_ROOT) == [analysis.video.name]


@pytest.mark.parametrize("make, message", [
    (lambda d: videos.text_file(d / "notes.mp4"), "not a video or photo"),
    (lambda d: videos.zero_byte_file(d / "empty.mp4"), "empty"),
    (lambda d: videos.truncated_copy(videos.face_video(d / "ok.mp4", seconds=1), d / "cut.mp4", 0.3), "cannot be read"),
    (lambda d: videos.random_bytes_file(d / "noise.mp4"), "not a video or photo"),
])
def test_bad_files_are_refused_and_nothing_is_stored(alice, detector, tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(DomainError) as error:
        services.analysis_create(owner=alice, file=upload(path.read_bytes(), path.name))
    assert message in error.value.message
    assert Analysis.objects.count() == 0
    assert stored_files(settings.MEDIA_ROOT) == []


def test_size_and_duration_limits(alice, detector, tmp_path, face_video_bytes):
    with override_settings(DFD_MAX_UPLOAD_BYTES=len(face_video_bytes) - 1):
        with pytest.raises(DomainError, match="larger than the limit"):
            services.analysis_create(owner=alice, file=upload(face_video_bytes))
    long_video = videos.face_video(tmp_path / "long.mp4", seconds=3, fps=10).read_bytes()
    with override_settings(DFD_MAX_DURATION_SECONDS=2):
        with pytest.raises(DomainError, match="lasts 3 s; the limit is 2 s"):
            services.analysis_create(owner=alice, file=upload(long_video))
    assert Analysis.objects.count() == 0
    assert stored_files(settings.MEDIA_ROOT) == []


def test_options_are_validated(alice, detector, face_video_bytes):
    with pytest.raises(DomainError, match="between 10 and 100"):
        services.analysis_create(owner=alice, file=upload(face_video_bytes), frames=5)
    with pytest.raises(DomainError, match="Unknown strategy"):
        services.analysis_create(owner=alice, file=upload(face_video_bytes), strategy="random")


def test_no_detector_installed_is_a_clear_error(alice, face_video_bytes):
    with pytest.raises(DomainError, match="install_model"):
        services.analysis_create(owner=alice, file=upload(face_video_bytes))
    assert stored_files(settings.MEDIA_ROOT) == []


def test_run_writes_results_and_is_idempotent(alice, detector, face_video_bytes):
    analysis = services.analysis_create(owner=alice, file=upload(face_video_bytes), frames=10)
    done = services.analysis_run(analysis_id=analysis.id)
    assert done.status == Analysis.Status.DONE, done.error_message
    assert done.verdict in ("real", "fake")
    assert 0.0 <= done.probability_fake <= 1.0
    assert done.confidence == pytest.approx(max(done.probability_fake, 1 - done.probability_fake))
    assert done.progress == 100 and done.attempts == 1
    assert done.frames_analysed >= 9  # a face in at least 90% of the sampled frames
    assert set(done.timings) >= {"decode", "faces", "model", "total"}
    frames = list(done.frames.all())
    assert len(frames) == done.frames_analysed
    assert all(0.0 <= f.probability_fake <= 1.0 for f in frames)
    assert [f.index for f in frames] == sorted(f.index for f in frames)
    assert any(f.heatmap for f in frames)
    assert done.poster.name == max(frames, key=lambda f: f.probability_fake).thumbnail.name
    files = stored_files(settings.MEDIA_ROOT)
    assert {f.thumbnail.name for f in frames} <= set(files)
    assert {f.heatmap.name for f in frames if f.heatmap} <= set(files)

    # A re-delivered task for a finished analysis does nothing.
    assert services.analysis_run(analysis_id=analysis.id) is None
    done.refresh_from_db()
    assert done.attempts == 1 and FrameResult.objects.filter(analysis=done).count() == len(frames)


def test_run_on_a_video_without_faces_gives_no_face(alice, detector, tmp_path):
    content = videos.no_face_video(tmp_path / "wall.mp4", seconds=1).read_bytes()
    analysis = services.analysis_create(owner=alice, file=upload(content), frames=10)
    done = services.analysis_run(analysis_id=analysis.id)
    assert done.status == Analysis.Status.DONE
    assert done.verdict == Analysis.Verdict.NO_FACE
    assert done.probability_fake is None and done.frames_analysed == 0
    assert stored_files(settings.MEDIA_ROOT) == [analysis.video.name]


def test_run_failure_keeps_a_message_and_no_result_files(alice, detector, face_video_bytes):
    analysis = services.analysis_create(owner=alice, file=upload(face_video_bytes), frames=10)
    detector.path.rename(detector.path.with_suffix(".moved"))
    try:
        failed = services.analysis_run(analysis_id=analysis.id)
    finally:
        detector.path.with_suffix(".moved").rename(detector.path)
    assert failed.status == Analysis.Status.FAILED
    assert "detector is unavailable" in failed.error_message and "/" not in failed.error_message
    assert stored_files(settings.MEDIA_ROOT) == [analysis.video.name]

    retried = services.analysis_retry(analysis=failed)
    assert retried.status == Analysis.Status.QUEUED and retried.error_message == ""
    assert services.analysis_run(analysis_id=analysis.id).status == Analysis.Status.DONE


def test_retry_of_a_running_analysis_is_refused(alice, detector, face_video_bytes):
    analysis = services.analysis_create(owner=alice, file=upload(face_video_bytes), frames=10)
    with pytest.raises(DomainError, match="still running"):
        services.analysis_retry(analysis=analysis)


def test_delete_removes_every_file(alice, detector, face_video_bytes):
    analysis = services.analysis_create(owner=alice, file=upload(face_video_bytes), frames=10)
    services.analysis_run(analysis_id=analysis.id)
    assert len(stored_files(settings.MEDIA_ROOT)) > 2
    services.analysis_delete(analysis=analysis)
    assert not Analysis.objects.exists() and not FrameResult.objects.exists()
    assert stored_files(settings.MEDIA_ROOT) == []


def test_reaper_requeues_a_silent_analysis_once_then_fails_it(alice, detector, face_video_bytes):
    analysis = services.analysis_create(owner=alice, file=upload(face_video_bytes), frames=10)
    long_ago = timezone.now() - timedelta(seconds=settings.DFD_HEARTBEAT_STALE_SECONDS + 5)
    Analysis.objects.filter(id=analysis.id).update(status="processing", attempts=1, heartbeat_at=long_ago)
    # A fresh heartbeat is left alone.
    Analysis.objects.filter(id=analysis.id).update(heartbeat_at=timezone.now())
    assert services.analyses_reap_stale().requeued == []

    Analysis.objects.filter(id=analysis.id).update(heartbeat_at=long_ago)
    report = services.analyses_reap_stale()
    assert report.requeued == [analysis.id] and report.failed == []
    analysis.refresh_from_db()
    assert analysis.status == Analysis.Status.QUEUED

    Analysis.objects.filter(id=analysis.id).update(status="processing", attempts=2, heartbeat_at=long_ago)
    report = services.analyses_reap_stale()
    assert report.failed == [analysis.id]
    analysis.refresh_from_db()
    assert analysis.status == Analysis.Status.FAILED
    assert "stopped responding" in analysis.error_message


def test_reaper_resends_queued_analyses_whose_message_was_lost(
    alice, detector, face_video_bytes, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        analysis = services.analysis_create(owner=alice, file=upload(face_video_bytes), frames=10)
    assert len(callbacks) == 1  # the task is sent only once the row is committed
    assert services.analyses_reap_stale().requeued == []  # just sent
    Analysis.objects.filter(id=analysis.id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert services.analyses_reap_stale().requeued == [analysis.id]
    assert services.analyses_reap_stale().requeued == []  # not again straight away


def test_per_user_limits_on_running_analyses_and_daily_uploads(alice, bob, detector, face_video_bytes, settings):
    settings.DFD_MAX_RUNNING_PER_USER = 2
    settings.DFD_MAX_UPLOADS_PER_DAY = 3
    first = services.analysis_create(owner=alice, file=upload(face_video_bytes), frames=10)
    services.analysis_create(owner=alice, file=upload(face_video_bytes), frames=10)
    with pytest.raises(DomainError) as error:
        services.analysis_create(owner=alice, file=upload(face_video_bytes), frames=10)
    assert error.value.code == "too_many_running" and "2 analyses waiting or running" in error.value.message
    services.analysis_create(owner=bob, file=upload(face_video_bytes), frames=10)  # bob has his own limits

    Analysis.objects.filter(id=first.id).update(status="done")
    services.analysis_create(owner=alice, file=upload(face_video_bytes), frames=10)
    Analysis.objects.filter(owner=alice).update(status="done")
    with pytest.raises(DomainError) as error:
        services.analysis_create(owner=alice, file=upload(face_video_bytes), frames=10)
    assert error.value.code == "daily_limit"
    assert Analysis.objects.filter(owner=alice).count() == 3
    assert len([f for f in stored_files(settings.MEDIA_ROOT) if f.endswith("video.mp4")]) == 4
