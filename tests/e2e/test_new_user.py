"""What a new user tripped on (issue 13, "What a new user hit"), one test per item, each in Chromium
against the live server."""

import pytest

from detection.models import Analysis
from tests.helpers import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DROP_FILES = """([names, base64]) => {
  const bytes = Uint8Array.from(atob(base64), c => c.charCodeAt(0));
  const data = new DataTransfer();
  names.forEach(name => data.items.add(new File([bytes], name, {type: "video/mp4"})));
  document.getElementById("dropzone").dispatchEvent(
    new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
}"""


def test_1_two_dropped_videos_make_a_batch_of_two(open_page, alice, detector, face_video_bytes):
    """Dropping two files used to analyse one (then to refuse both): now each is analysed, in a batch."""
    import base64

    from tests.e2e.conftest import axe_violations

    page = open_page(user=alice)
    page.goto("/analyses/new/")
    page.evaluate(DROP_FILES, [["first.mp4", "second.mp4"], base64.b64encode(face_video_bytes).decode()])
    assert page.evaluate("document.querySelector('input[type=file]').files.length") == 2
    assert page.locator("#dropzone-file").inner_text().startswith("2 videos, sent as one batch: first.mp4, second.mp4")
    page.get_by_label("Batch name").fill("Two interviews")
    page.get_by_role("button", name="Upload and analyse").click()
    page.wait_for_url("**/analyses/batches/*/")
    assert page.get_by_role("heading", level=1).inner_text() == "Two interviews"
    rows = page.locator("#batch-analyses tbody tr")
    assert rows.count() == 2 and rows.nth(0).inner_text().startswith("first.mp4")
    assert page.get_by_role("link", name="second.mp4").count() == 1
    assert "0 of 2" in page.locator("#batch-summary h2").inner_text()
    assert axe_violations(page) == []
    assert Analysis.objects.filter(batch__name="Two interviews").count() == 2


def test_2_live_page_follows_the_worker_in_plain_words(open_page, alice, make_analysis):
    analysis = make_analysis(status="queued")
    page = open_page(user=alice)
    page.goto(f"/analyses/{analysis.id}/")
    assert "Waiting for a worker" in page.locator("#live-heading").inner_text()
    assert page.locator("#analysis-stage").inner_text() == "Waiting for a worker"

    Analysis.objects.filter(id=analysis.id).update(status="processing", stage="faces", progress=53)
    page.wait_for_function("() => document.getElementById('analysis-stage').textContent === 'Finding faces'")
    assert page.locator("#live-heading").inner_text() == "Analysing…"
    assert page.locator("#status-badge").inner_text().lower() == "processing"
    assert page.locator("#analysis-progress").inner_text() == "53"
    assert page.get_by_role("progressbar").get_attribute("aria-valuenow") == "53"

    Analysis.objects.filter(id=analysis.id).update(stage="cam", progress=88)
    page.wait_for_function("() => document.getElementById('analysis-stage').textContent === 'Drawing heat maps'")


def test_3_history_pages_are_named_for_any_sort(open_page, alice, make_analysis):
    for _ in range(21):
        make_analysis(status="done", verdict="real", probability_fake=0.2, confidence=0.8)
    page = open_page(user=alice)
    page.goto("/analyses/?sort=oldest")
    pages = page.get_by_role("navigation", name="Pages")
    assert not pages.get_by_role("link", name="Older").count()
    pages.get_by_role("link", name="Next page").click()
    assert "Page 2 of 2" in page.get_by_role("navigation", name="Pages").inner_text()
    assert page.get_by_role("navigation", name="Pages").get_by_role("link", name="Previous page").count() == 1


MODEL_CARD = """# demo-detector

**A screening aid, not a verdict.**

| group | AUC |
|---|---:|
| DFDC | 0.85 |

## Known weak spots
- heavily compressed video
- Trained from /srv/secret/data/train

<script>document.title = "pwned"</script>
"""


def test_4_model_card_is_html_without_server_paths(open_page, alice, detector):
    detector.description = MODEL_CARD
    detector.training_data = "/work/shared/data/train (5,522 files)"
    detector.save()
    page = open_page(user=alice)
    page.goto(f"/detectors/{detector.id}/")
    card = page.locator("#model-card")
    assert card.locator("table td").first.inner_text() == "DFDC"
    assert card.locator("strong").first.inner_text() == "A screening aid, not a verdict."
    assert card.get_by_role("heading", name="Known weak spots").count() == 1
    text = page.locator("main").inner_text()
    assert "**" not in text and "|---" not in text
    assert "/work/" not in text and "/srv/" not in text
    assert "Trained on" in text and "train (5,522 files)" in text
    assert page.title() != "pwned" and card.locator("script").count() == 0


def test_5_no_face_advice_and_run_again_with_other_settings(open_page, alice, detector, make_analysis):
    import torch

    from detection import registry
    from detection.engine.checkpoint import CheckpointMetadata, save_checkpoint
    from detection.engine.model import BackboneLSTM

    torch.manual_seed(1)
    path = detector.path.with_name("second.pt")
    save_checkpoint(BackboneLSTM(variant="temporal", hidden_size=8), path,
                    CheckpointMetadata(variant="temporal", hidden_size=8, training_data="random (tests)"), half=True)
    other = registry.detector_register(path=path, name="Second detector")
    analysis = make_analysis(status="done", verdict="no_face", frames_requested=20, strategy="contiguous")
    page = open_page(user=alice)
    page.goto(f"/analyses/{analysis.id}/")
    advice = page.locator("#verdict").inner_text()
    assert "Try more frames" not in advice and "larger" in advice

    assert page.locator("#retry").get_attribute("open") is not None  # no face: other settings come first
    form = page.locator("#retry-form")
    assert form.locator("#id_retry-frames").input_value() == "20"
    form.locator("#id_retry-frames").fill("40")
    form.locator("#id_retry-strategy").select_option("uniform")
    form.locator("#id_retry-detector").select_option(label=other.name)
    form.get_by_role("button", name="Run again").click()
    page.wait_for_selector("#live-status")
    assert "queued again" in page.locator(".messages").inner_text()
    analysis.refresh_from_db()
    assert (analysis.status, analysis.frames_requested, analysis.strategy, analysis.detector_id) == (
        "queued", 40, "uniform", other.id)

    Analysis.objects.filter(id=analysis.id).update(status="failed")
    page.goto(f"/analyses/{analysis.id}/")
    page.get_by_text("Run again with other settings").click()
    page.locator("#id_retry-frames").fill("5000")
    page.locator("#retry-form").get_by_role("button", name="Run again").click()
    assert "between" in page.locator(".messages").inner_text()
    analysis.refresh_from_db()
    assert (analysis.status, analysis.frames_requested) == ("failed", 40)


def test_6_profile_says_what_a_password_change_does(open_page, alice):
    here, there = open_page(user=alice), open_page(user=alice)
    here.goto("/accounts/profile/")
    security = here.locator("section", has=here.get_by_role("heading", name="Security")).inner_text()
    assert "stay signed in until they expire" not in security
    assert "signs out your other sessions" in security and "API tokens" in security

    here.get_by_role("link", name="Change password").click()
    here.fill("#id_old_password", PASSWORD)
    here.fill("#id_new_password1", "another-horse-battery-7")
    here.fill("#id_new_password2", "another-horse-battery-7")
    here.get_by_role("button", name="Change password").click()
    here.wait_for_url("**/password/change/done/")
    there.goto("/accounts/profile/")
    assert "/accounts/login/" in there.url  # the other browser was signed out, as the page says


def test_7_menu_on_a_phone_is_reachable_by_keyboard(open_page, alice):
    page = open_page(user=alice, viewport="phone")
    page.goto("/")
    toggle = page.get_by_role("button", name="Menu")
    assert toggle.get_attribute("aria-expanded") == "false"
    page.keyboard.press("Tab")  # skip link
    page.keyboard.press("Tab")  # logo
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('aria-controls')") == "main-nav"
    page.keyboard.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "true"
    reached = []
    for _ in range(7):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.textContent.trim()"))
    assert {"Dashboard", "History", "Detectors", "New analysis", "alice", "Sign out"} <= set(reached)
    page.keyboard.press("Escape")
    assert toggle.get_attribute("aria-expanded") == "false"


def test_8_history_fits_a_phone(open_page, alice, make_analysis):
    for i in range(3):
        make_analysis(status="done", verdict="fake", probability_fake=0.9, confidence=0.9,
                      original_name=f"a-rather-long-file-name-from-a-phone-camera-{i}.mp4")
    page = open_page(user=alice, viewport="phone")
    page.goto("/analyses/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    overflowing = page.evaluate("""() => Array.from(document.querySelectorAll('main *'))
        .filter(el => { const r = el.getBoundingClientRect(); return r.width && (r.left < 0 || r.right > 390); })
        .map(el => el.tagName + '#' + el.id + '.' + el.className)""")
    assert not overflowing
    assert page.evaluate("(c => c.scrollWidth <= c.clientWidth)(document.querySelector('#history').parentElement)")
    name = page.get_by_role("link", name="a-rather-long-file-name-from-a-phone-camera-0.mp4")
    assert name.bounding_box()["width"] > 150  # not three characters a line
    score = page.locator("#history tbody tr").first.locator("[data-label=Score]")
    assert score.is_visible() and "90" in score.inner_text()


def test_9_score_chart_labels_fit_and_are_legible(open_page, alice, finished_analysis):
    Analysis.objects.filter(id=finished_analysis.id).update(duration_seconds=125.0)  # long time labels
    for viewport in ("desktop", "phone"):
        page = open_page(user=alice, viewport=viewport)
        page.goto(f"/analyses/{finished_analysis.id}/")
        chart = page.locator("svg.chart").bounding_box()
        for label in page.locator("svg.chart text").all():
            box = label.bounding_box()
            assert chart["x"] <= box["x"] and box["x"] + box["width"] <= chart["x"] + chart["width"] + 0.5, (
                viewport, label.text_content(), box, chart)
            assert box["height"] >= 11, f"{viewport}: axis text {box['height']:.1f} px tall"


def test_10_api_docs_load_everything_from_this_site(open_page, alice):
    for user in (None, alice):
        page = open_page(user=user)
        for path in ("/api/v1/redoc/", "/api/v1/docs/"):
            page.goto(path, wait_until="networkidle")
            page.wait_for_timeout(300)  # Redoc renders its footer after the schema
            assert not page.problems.take(), path
        assert page.locator("html").get_attribute("lang") == "en"


def test_11_branded_error_pages(open_page, alice, make_analysis, settings):
    analysis = make_analysis(status="done", verdict="real", probability_fake=0.1, confidence=0.9)
    deleted = f"/analyses/{analysis.id}/"
    analysis.delete()
    page = open_page(user=alice)

    settings.DEBUG = True  # what `make run` has: a deleted analysis is no bug, so no debug page
    page.problems.expect_status(deleted, 404)
    assert page.goto(deleted).status == 404
    assert page.locator("h1").inner_text() == "Not found" and "URLconf" not in page.content()
    assert page.get_by_role("link", name="History").count() >= 1

    settings.DEBUG = False
    settings.ROOT_URLCONF = "tests.e2e.error_urls"
    for path, status, heading in [("/no-such-page/", 404, "Not found"), ("/test-errors/403/", 403, "Not allowed"),
                                  ("/test-errors/500/", 500, "Something went wrong on our side")]:
        page.problems.expect_status(path, status)
        assert page.goto(path).status == status
        assert page.locator("h1").inner_text() == heading
        assert page.locator("link[rel=stylesheet]").count() == 1  # branded: our stylesheet, logo, way home
        assert page.locator(".brand").is_visible()


def test_11_an_expired_form_gets_a_branded_page(open_page, alice):
    page = open_page(user=alice)
    page.goto("/")
    page.context.clear_cookies(name="csrftoken")  # what signing out in another tab amounts to
    page.problems.expect_status("/accounts/logout/", 403)
    page.get_by_role("button", name="Sign out").click()
    assert page.locator("h1").inner_text() == "This form expired"
    assert page.locator(".brand").is_visible()
