"""/favicon.ico answers (browsers ask for it on pages that name no icon), and pages name it."""

from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_favicon_ico_leads_to_a_real_icon_for_anyone(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response.url == "/static/favicon.ico"
    icon = finders.find("favicon.ico")
    assert icon and Path(icon).read_bytes()[:4] == b"\x00\x00\x01\x00"  # the ICO signature


@pytest.mark.parametrize("url", ["/accounts/login/", "/api/v1/redoc/"])
def test_pages_name_the_icon(client, url):
    page = client.get(url).content.decode()
    assert '<link rel="icon" href="/static/favicon.ico"' in page
