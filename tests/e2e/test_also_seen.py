"""Smaller things a new user noticed (issue 13, "Also seen")."""

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_password_reset_says_where_the_mail_goes_under_make_run(open_page, alice, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"  # what `make run` has
    page = open_page()
    page.goto("/accounts/password/reset/")
    assert "terminal" in page.locator("#email-to-console").inner_text()
    page.fill("#id_email", alice.email)
    page.get_by_role("button", name="Send reset link").click()
    page.wait_for_url("**/password/reset/sent/")
    assert "terminal" in page.locator("#email-to-console").inner_text()

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    page.goto("/accounts/password/reset/")
    assert page.locator("#email-to-console").count() == 0


def test_history_says_when_from_is_after_to(open_page, alice, make_analysis):
    make_analysis(status="done", verdict="real", probability_fake=0.1, confidence=0.9)
    page = open_page(user=alice)
    page.goto("/analyses/?created_from=2026-12-01&created_to=2026-11-01")
    assert "To must be on or after From" in page.locator(".field--created_to").inner_text()
    assert "Nothing matches" not in page.content()


def test_dashboard_tiles_leave_no_orphan_and_scores_do_not_wrap(open_page, alice, make_analysis):
    for i in range(6):
        make_analysis(status="done", verdict="fake", probability_fake=0.92, confidence=0.92)
    for viewport in ("desktop", "phone"):
        page = open_page(user=alice, viewport=viewport)
        page.goto("/")
        tops = [round(tile.bounding_box()["y"]) for tile in page.locator(".tile").all()]
        rows = [tops.count(top) for top in sorted(set(tops))]
        assert len(set(rows)) == 1, f"{viewport}: tiles per row {rows}"
        score = page.locator(".tile__meta .nowrap").first
        assert score.inner_text() == "score 92" and score.bounding_box()["height"] < 30
