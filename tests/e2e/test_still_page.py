"""The result page of a photo, in Chromium: the photo with a numbered, scored box over each face
that stays on the face at any width, each box leading to its face, the verdict said to be the
most suspicious face's, and the Content Credentials in a panel of their own."""

import pytest

from tests.e2e.conftest import ARTIFACTS, axe_violations, sideways_scroll, widest_elements

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def photo_analysis(alice, detector):
    from detection import services
    from tests import stills
    from tests.helpers import upload

    signed = stills.sign(stills.encode(stills.face_photo(faces=2), ".jpg"), "image/jpeg")
    analysis = services.analysis_create(owner=alice, file=upload(signed, "press-photo.jpg"))
    return services.analysis_run(analysis_id=analysis.id)


def box_inside(page, number: int) -> dict:
    """Where face ``number``'s box sits on the shown photo, as shares of its width and height."""
    return page.evaluate("""n => {
      const image = document.querySelector(".still__image").getBoundingClientRect();
      const box = document.querySelector(`a.still__box[href="#face-${n}"]`).getBoundingClientRect();
      return {left: (box.left - image.left) / image.width, right: (box.right - image.left) / image.width,
              top: (box.top - image.top) / image.height, bottom: (box.bottom - image.top) / image.height};
    }""", number)


def test_photo_result_page_with_a_box_per_face(open_page, alice, photo_analysis):
    assert photo_analysis.status == "done" and photo_analysis.frames.count() == 2
    for viewport in ("desktop", "phone"):
        page = open_page(user=alice, viewport=viewport)
        page.goto(f"/analyses/{photo_analysis.id}/")
        page.wait_for_function("document.querySelector('.still__image').complete")
        assert page.locator("video").count() == 0 and page.locator("#photo img").is_visible()
        boxes = page.locator("a.still__box")
        assert boxes.count() == 2
        scores = {frame.index + 1: round(frame.probability_fake * 100) for frame in photo_analysis.frames.all()}
        for number, score in scores.items():
            box = page.locator(f'a.still__box[href="#face-{number}"]')
            assert " ".join(box.inner_text().split()) == f"Face {number} · {score} (manipulation score)"
        # The heads sit at 20-320 and 330-630 px of a 640x320 photo, their faces in the middle of each.
        left, right = box_inside(page, 1), box_inside(page, 2)
        assert 0.03 < left["left"] < left["right"] < 0.5 < right["left"] < right["right"] < 0.97, (left, right)
        assert 0.1 < left["top"] < left["bottom"] < 0.9
        top = max(scores, key=scores.get)
        basis = page.locator("#verdict-basis").inner_text()
        assert f"the verdict is that of the most suspicious one, face {top}" in basis
        panel = page.locator("#provenance")
        assert "Signed, but the signer is not on a trust list." in panel.locator("#provenance-state").inner_text()
        assert "Test Camera" in panel.inner_text() and page.locator("#provenance-ai").is_visible()
        assert page.locator("#verdict").locator("#provenance").count() == 0  # apart from the verdict
        assert sideways_scroll(page) == 0, widest_elements(page)
        assert axe_violations(page) == []
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"result-photo-{viewport}.png"), full_page=True)
    page.locator('a.still__box[href="#face-2"]').click()
    page.wait_for_url("**#face-2")
    assert page.evaluate("document.querySelector(':target').id") == "face-2"
