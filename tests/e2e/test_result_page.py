"""The result page for people who know no machine learning: a verdict that explains itself, and
video and evidence that work together."""

import re

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("band, probability, title, sentence", [
    ("manipulated", 0.892, "Manipulation likely", "manipulated videos"),
    ("inconclusive", 0.5, "Inconclusive", "cannot tell"),
    ("no_manipulation", 0.06, "No manipulation found", "authentic videos"),
])
def test_verdict_explains_itself_with_one_number(open_page, alice, detector, finished_analysis, band, probability,
                                                  title, sentence):
    type(finished_analysis).objects.filter(id=finished_analysis.id).update(
        verdict="fake" if probability >= 0.5 else "real", band=band, probability_fake=probability,
        confidence=max(probability, 1 - probability))
    page = open_page(user=alice)
    page.goto(f"/analyses/{finished_analysis.id}/")
    box = page.locator("#verdict")
    text = box.inner_text()
    assert box.locator(".verdict__title").inner_text() == title
    assert sentence in page.locator("#verdict-sentence").inner_text()
    assert page.locator("#verdict-score").inner_text() == str(round(probability * 100))
    # One number: no percentages, no second "confidence" figure beside the score.
    summary = box.locator(".verdict__main").inner_text()
    assert "%" not in summary and "confiden" not in summary.lower()
    for heading in ("What the score means", "What it does not mean", "Where it is blind"):
        assert box.get_by_role("heading", name=heading).is_visible()
    assert "heavily compressed" in text and "not in its training data" in text
    if band == "no_manipulation":
        assert "not that the video is genuine" in text
    box.get_by_role("link", name=re.compile(f"About {detector.name}")).click()
    page.wait_for_url(f"**/detectors/{detector.id}/#model-card")


@pytest.fixture
def playable_analysis(alice, detector, tmp_path):
    """An analysis of a 2-second H.264 clip (Chromium plays it), run in this process."""
    from detection import services
    from detection.models import FrameResult
    from tests.helpers import upload
    from tests.videos import face_frames, write_h264

    video = write_h264(tmp_path / "talk.mp4", face_frames(320, 240, 50), fps=25)
    analysis = services.analysis_create(owner=alice, file=upload(video.read_bytes(), "talk.mp4"), frames=10)
    analysis = services.analysis_run(analysis_id=analysis.id)
    # Random weights score every face alike: make the faces with heat maps the suspicious ones.
    FrameResult.objects.filter(analysis=analysis).exclude(heatmap="").update(probability_fake=0.9)
    FrameResult.objects.filter(analysis=analysis, heatmap="").update(probability_fake=0.2)
    return analysis


def player_time(page) -> float:
    page.wait_for_function("() => !document.getElementById('player').seeking")
    return page.evaluate("document.getElementById('player').currentTime")


def test_faces_heat_maps_and_chart_points_seek_the_player(open_page, alice, playable_analysis):
    frames = list(playable_analysis.frames.order_by("index"))
    suspicious = [frame for frame in frames if frame.heatmap]
    page = open_page(user=alice)
    page.goto(f"/analyses/{playable_analysis.id}/")
    player = page.locator("#player")
    assert player.bounding_box()["y"] < page.locator("svg.chart").bounding_box()["y"]  # the video comes first
    assert player.get_attribute("src").endswith("#t=0.1")  # a frame shows before it plays, not black
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")

    page.locator("#faces .face__seek").nth(3).click()
    assert player_time(page) == pytest.approx(frames[3].timestamp, abs=0.05)
    page.locator("svg.chart circle").last.click()
    assert player_time(page) == pytest.approx(frames[-1].timestamp, abs=0.05)

    # Heat maps: only the faces that pushed towards "manipulated", and they enlarge.
    assert page.locator(".heatmap").count() == len(suspicious)
    page.locator(".heatmap__open").first.click()
    dialog = page.get_by_role("dialog", name="Face and heat map")
    assert dialog.is_visible()
    page.wait_for_function("() => document.getElementById('heatmap-dialog-heatmap').naturalWidth > 0")
    assert dialog.locator("#heatmap-dialog-heatmap").bounding_box()["width"] > 200
    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    page.locator(".heatmap__open").first.click()
    dialog.get_by_role("button", name="Show in the video").click()
    assert not dialog.is_visible()
    assert player_time(page) == pytest.approx(suspicious[0].timestamp, abs=0.05)
