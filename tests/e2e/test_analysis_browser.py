"""A person in Chromium: sign in, upload a video, watch it work, read the verdict, find it in
history, delete it. Screenshots of each page are kept as test artifacts (the README uses them)."""

import pytest

from detection.models import Analysis
from tests.helpers import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_upload_watch_verdict_history_and_delete(page, screenshot, alice, detector, start_worker, tmp_path):
    from tests.videos import face_video

    video = face_video(tmp_path / "interview.mp4", width=480, height=360, seconds=2, fps=25)
    start_worker()

    page.goto("/accounts/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")

    page.get_by_role("link", name="New analysis").click()
    page.wait_for_url("**/analyses/new/")
    page.set_input_files("input[type=file]", str(video))
    assert "interview.mp4" in page.locator("#dropzone-file").inner_text()
    page.fill("#id_frames", "16")
    screenshot("upload")
    page.get_by_role("button", name="Upload and analyse").click()

    page.wait_for_url("**/analyses/*-*/", timeout=30_000)
    analysis = Analysis.objects.get()
    # The result page polls until the worker is done, then shows the verdict.
    page.wait_for_selector("#verdict", timeout=120_000)
    analysis.refresh_from_db()
    assert analysis.status == "done"
    verdict_text = page.locator(".verdict__title").inner_text()
    assert verdict_text == {"manipulated": "Manipulation likely", "inconclusive": "Inconclusive",
                            "no_manipulation": "No manipulation found"}[analysis.band]
    assert page.locator("#faces figure").count() == analysis.frames_analysed >= 15
    # Faces far down the page load lazily: ask for all of them, then every image must have loaded.
    page.evaluate("() => document.querySelectorAll('img[loading=lazy]').forEach(img => { img.loading = 'eager'; })")
    page.wait_for_function("() => Array.from(document.images).every(img => img.complete && img.naturalWidth > 0)")
    # Heat maps are shown for the faces that pushed the verdict towards "manipulated" only.
    suspicious = analysis.frames.filter(probability_fake__gte=0.5).exclude(heatmap="").count()
    assert page.locator(".heatmap").count() == suspicious
    assert page.locator("svg.chart circle").count() == analysis.frames_analysed
    screenshot("result")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    page.wait_for_url("**/analyses/")
    row = page.locator("#history tbody tr")
    assert row.count() == 1 and "interview.mp4" in row.inner_text()
    page.wait_for_function("() => Array.from(document.images).every(img => img.complete && img.naturalWidth > 0)")
    screenshot("history")

    row.get_by_role("link", name="interview.mp4").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url("**/analyses/")
    assert "Deleted the analysis" in page.locator(".messages").inner_text()
    assert "No analyses yet" in page.content()
    assert not Analysis.objects.exists()
