"""Sharing in Chromium: the owner makes a link on the result page, someone without an account opens
it on a phone and sees the result (and downloads the report), the owner revokes it, and the link
answers 404."""

from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import axe_violations, sideways_scroll

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_owner_shares_a_result_then_revokes_the_link(open_page, alice, finished_analysis):
    owner = open_page(user=alice)
    owner.goto(f"/analyses/{finished_analysis.id}/", wait_until="networkidle")
    owner.select_option("#id_expires_in_days", "1")
    assert not owner.is_checked("#id_include_video")  # the video is shared only when asked
    owner.fill("#id_note", "for the fact-checkers")
    owner.click("#share-form button[type=submit]")
    url = owner.input_value("#new-share-link")
    path = urlsplit(url).path
    assert path.startswith("/shared/") and "for the fact-checkers" in owner.text_content("#share-links")
    assert axe_violations(owner) == []

    visitor = open_page(viewport="phone")  # a context of its own: no account, no cookie
    response = visitor.goto(url, wait_until="networkidle")
    assert response.status == 200 and response.headers["x-robots-tag"] == "noindex, nofollow"
    assert "Shared by alice" in visitor.text_content("#shared-by")
    assert visitor.text_content("#verdict-sentence").strip()
    assert visitor.locator("svg.chart circle").count() == finished_analysis.frames.count()
    faces = visitor.locator("#faces img")
    assert faces.count() == finished_analysis.frames.count()
    faces.first.scroll_into_view_if_needed()  # faces load lazily
    visitor.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=faces.first.element_handle())
    assert visitor.locator("video").count() == 0
    assert sideways_scroll(visitor) == 0 and axe_violations(visitor) == []
    with visitor.expect_download() as download:
        visitor.click("text=Download the report (PDF)")
    with open(download.value.path(), "rb") as report:
        assert report.read(5) == b"%PDF-"

    owner.click("#share-links button:has-text('Revoke')")
    assert "Revoked" in owner.text_content("#share-links")
    visitor.problems.expect_status(path, 404)
    gone = visitor.goto(url)
    assert gone.status == 404 and visitor.text_content("h1").strip() == "Not found"
