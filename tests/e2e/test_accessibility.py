"""What axe-core cannot see: focus that shows, progress that is announced, a dark mode that is dark."""

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_keyboard_focus_is_always_visible(open_page, alice, detector):
    page = open_page(user=alice)
    page.goto("/analyses/new/")
    for _ in range(12):
        page.keyboard.press("Tab")
        style = page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
            return [document.activeElement.tagName, s.outlineStyle, parseFloat(s.outlineWidth), s.boxShadow]; }""")
        tag, outline, width, shadow = style
        assert (outline != "none" and width >= 2) or shadow != "none", f"{tag} shows no focus: {style}"


def test_progress_is_announced_politely(open_page, alice, make_analysis):
    analysis = make_analysis(status="processing", stage="decode", progress=12)
    page = open_page(user=alice)
    page.goto(f"/analyses/{analysis.id}/")
    assert page.locator("#analysis-stage").get_attribute("aria-live") == "polite"
    bar = page.get_by_role("progressbar", name="Analysing…")
    assert bar.get_attribute("aria-valuenow") == "12"


def test_dark_mode_follows_the_system(open_page, alice):
    colours = {}
    for scheme in ("light", "dark"):
        page = open_page(user=alice, color_scheme=scheme)
        page.goto("/")
        colours[scheme] = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert colours["light"] != colours["dark"]
    assert colours["dark"] == "rgb(17, 19, 28)"
