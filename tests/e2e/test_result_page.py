"""The result page for people who know no machine learning: a verdict that explains itself, and
video and evidence that work together."""

import re

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("verdict, probability", [("fake", 0.692), ("real", 0.06)])
def test_verdict_explains_itself_with_one_number(open_page, alice, detector, finished_analysis, verdict, probability):
    type(finished_analysis).objects.filter(id=finished_analysis.id).update(
        verdict=verdict, probability_fake=probability, confidence=max(probability, 1 - probability))
    page = open_page(user=alice)
    page.goto(f"/analyses/{finished_analysis.id}/")
    box = page.locator("#verdict")
    text = box.inner_text()
    expected = "manipulated videos" if verdict == "fake" else "authentic videos"
    assert expected in page.locator("#verdict-sentence").inner_text()
    assert page.locator("#verdict-score").inner_text() == str(round(probability * 100))
    # One number: no percentages, no second "confidence" figure beside the score.
    summary = box.locator(".verdict__main").inner_text()
    assert "%" not in summary and "confiden" not in summary.lower()
    for heading in ("What the score means", "What it does not mean", "Where it is blind"):
        assert box.get_by_role("heading", name=heading).is_visible()
    assert "heavily compressed" in text and "not in its training data" in text
    if verdict == "real":
        assert "not that the video is genuine" in text
    box.get_by_role("link", name=re.compile(f"About {detector.name}")).click()
    page.wait_for_url(f"**/detectors/{detector.id}/#model-card")
