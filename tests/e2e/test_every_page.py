"""Every page, signed out and signed in, at four widths from a 320 px phone to a 1920 px monitor,
light and dark: no console error, no Content-Security-Policy violation, no failed request, no
sideways scrolling and no serious accessibility violation (axe-core)."""

import uuid

import pytest

from detection.models import Analysis, Batch
from sharing.services import share_link_create
from tests.e2e.conftest import axe_violations, sideways_scroll, widest_elements
from tests.factories import AnalysisFactory
from tests.helpers import endpoint_with_log

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SIGNED_OUT = [
    "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/", "/accounts/password/reset/sent/",
    "/accounts/password/reset/complete/", "/accounts/password/reset/MQ/not-a-token/",
    "/api/v1/docs/", "/api/v1/redoc/", ("/no-such-page/", 404),
]
# Each width once, each scheme at a phone and a monitor width.
COMBINATIONS = [("desktop", "light"), ("phone", "light"), ("wide", "dark"), ("narrow", "dark")]
# Pages drawn by script after they load (from the schema they fetch): the others are checked at "load",
# which is five times quicker than waiting for the network to be idle.
RENDERED_BY_SCRIPT = ("/api/",)


def signed_in_pages(detector, finished, make_analysis) -> list:
    states = [
        dict(status="queued"),
        dict(status="processing", stage="faces", progress=53),
        dict(status="failed", error_message="The video could not be analysed: it has no frames."),
        dict(status="cancelled"),
        dict(status="done", verdict="no_face", frames_requested=20),
    ]
    others = [make_analysis(**state) for state in states]
    batch = Batch.objects.create(owner=finished.owner, name="Interviews from the press office")
    Analysis.objects.filter(id__in=[finished.id, others[0].id, others[2].id]).update(batch=batch)
    link = AnalysisFactory(owner=finished.owner, detector=detector, batch=batch, video="", size_bytes=None,
                           duration_seconds=None, width=None, height=None, fps=None, sha256="", container="",
                           source_url="https://example.org/clips/interview", original_name="interview")
    _, token = share_link_create(analysis=finished, include_video=True)
    endpoint = endpoint_with_log(finished.owner)
    return [
        "/", "/analyses/", "/analyses/?sort=oldest&status=done", "/analyses/new/",
        f"/analyses/{finished.id}/", *[f"/analyses/{analysis.id}/" for analysis in others],
        f"/analyses/{link.id}/", "/analyses/batches/", f"/analyses/batches/{batch.id}/",
        f"/analyses/{finished.id}/share-links/", f"/shared/{token}/", (f"/shared/{'x' * 43}/", 404),
        "/detectors/", f"/detectors/{detector.id}/",
        "/accounts/profile/", "/accounts/tokens/", "/accounts/password/change/", "/accounts/password/change/done/",
        "/accounts/webhooks/", f"/accounts/webhooks/{endpoint.id}/", "/accounts/delete/",
        (f"/analyses/{uuid.uuid4()}/", 404), ("/no-such-page/", 404),
    ]


def visit_all(page, paths) -> list[str]:
    found = []
    dark = page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
    for path in paths:
        path, status = path if isinstance(path, tuple) else (path, 200)
        page.problems.expect_status(path, status)
        response = page.goto(path, wait_until="networkidle" if path.startswith(RENDERED_BY_SCRIPT) else "load")
        where = f"{path} ({page.viewport_size['width']} px, {'dark' if dark else 'light'})"
        if response.status != status:
            found.append(f"{where}: HTTP {response.status}, not {status}")
        found += [f"{where}: {problem}" for problem in page.problems.take()]
        if (pixels := sideways_scroll(page)) > 0:
            found.append(f"{where}: scrolls {pixels} px sideways ({widest_elements(page)})")
        found += [f"{where}: {violation}" for violation in axe_violations(page)]
    return found


def test_every_page_signed_out(open_page):
    found = []
    for viewport, scheme in COMBINATIONS:
        found += visit_all(open_page(viewport=viewport, color_scheme=scheme), SIGNED_OUT)
    assert not found, "\n".join(found)


def test_every_page_signed_in(open_page, alice, detector, finished_analysis, make_analysis):
    paths = signed_in_pages(detector, finished_analysis, make_analysis)
    found = []
    for viewport, scheme in COMBINATIONS:
        found += visit_all(open_page(viewport=viewport, color_scheme=scheme, user=alice), paths)
    assert not found, "\n".join(found)

