import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from tests.helpers import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_sign_up_sign_out_and_sign_in_in_a_real_browser(page, screenshot):
    page.goto("/")
    assert "/accounts/login/" in page.url  # everything requires sign-in
    screenshot("sign-in")
    page.get_by_role("link", name="Create an account").click()

    page.fill("#id_username", "dana")
    page.fill("#id_email", "dana@example.org")
    page.fill("#id_password1", "short")
    page.fill("#id_password2", "short")
    page.get_by_role("button", name="Create account").click()
    # The form comes back at the same address: wait for the answer, not for a URL.
    expect(page.locator(".field__error").first).to_be_visible()
    assert "too short" in page.locator(".field--error").first.inner_text()

    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/")
    assert "Welcome, dana" in page.locator("h1").inner_text()
    assert get_user_model().objects.filter(username="dana").exists()
    screenshot("dashboard-empty")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/")

    page.fill("#id_username", "dana")
    page.fill("#id_password", "not-the-password")
    page.get_by_role("button", name="Sign in").click()
    assert "correct username and password" in page.locator(".alert--error").inner_text()

    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")
    assert page.get_by_role("link", name="dana").is_visible()
