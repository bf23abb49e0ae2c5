"""Audit: every route of the site and the API that names a person's object answers 404 to
anyone else, whatever the method. A new route that takes an id fails this test until it is
listed with the object it names."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from accounts import services as account_services
from detection import services
from detection.models import Analysis, Batch
from sharing.services import share_link_create
from tests.helpers import endpoint_with_log, upload
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db

# Routes with an id parameter, and what it names. Routes without one are listed lists or
# pages of one's own (profile, history, tokens) or public (detectors, health, docs).
OWNED = {
    "analysis_id": "analysis",
    "batch_id": "batch",
    "token_id": "token",
    "link_id": "share link",
    "uidb64": None,  # password reset links: the signed token in the link is the authorisation
    "token": None,  # and share links: the random token in the link is the authorisation
    "detector_id": None,  # detectors are shared by everyone on the platform
    "endpoint_id": "webhook endpoint",
}


def routes(resolver=None, prefix=""):
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            yield from routes(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def fill(route: str, values: dict) -> str:
    for name, value in values.items():
        for converter in ("uuid", "int", "str", ""):
            token = f"<{converter}:{name}>" if converter else f"<{name}>"
            route = route.replace(token, str(value))
    return "/" + route.lstrip("^").rstrip("$")


@pytest.fixture
def alices_things(alice, detector, face_video_bytes):
    analysis = services.analysis_create(owner=alice, file=upload(face_video_bytes), frames=10)
    analysis = services.analysis_run(analysis_id=analysis.id)
    frame = analysis.frames.exclude(heatmap="").first()
    token, _ = account_services.token_create(user=alice, name="alice's")
    link, _ = share_link_create(analysis=analysis)
    batch = Batch.objects.create(owner=alice, name="alice's batch")
    Analysis.objects.filter(id=analysis.id).update(batch=batch)
    endpoint = endpoint_with_log(alice)
    return {"analysis_id": analysis.id, "index": frame.index, "token_id": token.id, "link_id": link.id,
            "batch_id": batch.id, "endpoint_id": endpoint.id}


def test_every_route_with_a_persons_object_is_404_for_anyone_else(client, bob, alices_things):
    client.force_login(bob)
    checked = []
    for route, pattern in routes():
        if route.startswith("admin/"):
            continue  # staff only: checked below
        names = set(pattern.pattern.converters) | set(getattr(pattern.pattern, "regex").groupindex)
        owned = [name for name in names if OWNED.get(name)]
        unknown = names - set(OWNED) - {"index", "path"}
        assert not unknown, f"{route}: add its parameters {unknown} to OWNED with the object they name"
        if not owned:
            continue
        url = fill(route, alices_things)
        for method in ("get", "post", "delete"):
            response = getattr(client, method)(url)
            assert response.status_code in (404, 405), f"{method.upper()} {url}: {response.status_code}"
        assert client.get(url).status_code in (404, 405)
        checked.append(url)
    # Pages, files, status, retry, delete; API detail, files, retry; token revoke and API token; webhook
    # pages and API.
    assert len(checked) >= 25, checked
    assert Batch.objects.filter(id=alices_things["batch_id"]).exists()
    assert Analysis.objects.filter(id=alices_things["analysis_id"]).exists()
    assert WebhookEndpoint.objects.filter(id=alices_things["endpoint_id"], is_active=True).exists()
    admin = client.get(f"/admin/detection/analysis/{alices_things['analysis_id']}/change/")
    assert admin.status_code == 302 and "/admin/login/" in admin.url  # not staff: no admin at all
