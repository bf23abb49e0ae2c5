"""Screenshots of the main pages, desktop and phone, for the README (copied by hand from
test-artifacts/ into docs/screenshots/)."""

import pytest

from tests.e2e.conftest import ARTIFACTS, REPO_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def showcase(alice, detector, make_analysis, tmp_path):
    """A result worth showing (a played-back H.264 clip, suspicious faces with heat maps), a
    history with every kind of row, and the default model card."""
    from detection import services
    from detection.models import Analysis, FrameResult
    from tests.helpers import upload
    from tests.videos import face_frames, write_h264

    video = write_h264(tmp_path / "interview.mp4", face_frames(480, 360, 75), fps=25)
    analysis = services.analysis_create(owner=alice, file=upload(video.read_bytes(), "interview.mp4"), frames=16)
    analysis = services.analysis_run(analysis_id=analysis.id)
    for i, frame in enumerate(analysis.frames.order_by("index")):
        FrameResult.objects.filter(id=frame.id).update(probability_fake=0.9 if frame.heatmap else 0.35 + 0.02 * i)
    Analysis.objects.filter(id=analysis.id).update(verdict="fake", probability_fake=0.74, confidence=0.74)
    for name, fields in [
        ("press-conference-2024.mp4", dict(status="done", verdict="real", probability_fake=0.08, confidence=0.92)),
        ("street-interview.mov", dict(status="done", verdict="no_face", frames_requested=20)),
        ("phone-clip.webm", dict(status="processing", stage="faces", progress=53)),
        ("old-upload.mkv", dict(status="failed", error_message="The video could not be analysed.")),
    ]:
        make_analysis(original_name=name, **fields)
    detector.description = (REPO_ROOT / "models" / "dfd-efficientnet-lite0-v1.md").read_text()
    detector.save()
    return analysis


def test_screenshots_desktop_and_phone(open_page, alice, detector, showcase):
    pages = {"upload": "/analyses/new/", "result": f"/analyses/{showcase.id}/", "history": "/analyses/",
             "detector": f"/detectors/{detector.id}/"}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for viewport in ("desktop", "phone"):
        page = open_page(user=alice, viewport=viewport)
        for name, path in pages.items():
            page.goto(path, wait_until="networkidle")
            page.evaluate("() => document.querySelectorAll('img[loading=lazy]').forEach(img => img.loading = 'eager')")
            page.wait_for_function("() => Array.from(document.images).every(img => img.complete)")
            if name == "result":
                page.wait_for_function("() => document.getElementById('player').readyState >= 2")
            page.screenshot(path=str(ARTIFACTS / f"{name}-{viewport}.png"), full_page=name != "detector")
