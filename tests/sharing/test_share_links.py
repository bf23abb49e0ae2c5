"""Share links: made by the owner on the page and through the API, stored only as a hash, showing
the result read-only to anyone holding them (files through the link only, the video only when
ticked), and 404 once revoked or expired, like any unknown link."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from detection import services as detection_services
from sharing.models import ShareLink
from tests.factories import AnalysisFactory
from tests.helpers import assert_error, auth, finished_analysis, token_for

pytestmark = pytest.mark.django_db


def created_link(response) -> str:
    assert response.status_code == 200, response.content[:2000]
    [url] = re.findall(r'id="new-share-link"[^>]*value="([^"]+)"', response.content.decode())
    return url


def test_a_share_link_from_creation_to_revocation(alice_client, alice, detector, face_video_bytes):
    done = finished_analysis(alice, face_video_bytes, "press-conference.mp4")
    assert done.status == "done", done.error_message
    page = alice_client.get(f"/analyses/{done.id}/")
    assert f'action="/analyses/{done.id}/share-links/"' in page.content.decode()

    url = created_link(alice_client.post(f"/analyses/{done.id}/share-links/",
                                         {"expires_in_days": "7", "note": "for the newsroom"}))
    token = url.rsplit("/", 2)[-2]
    assert url == f"http://testserver/shared/{token}/" and len(token) == 43
    # Only the token's SHA-256 is stored: no column holds the token itself.
    link = ShareLink.objects.get()
    assert link.digest == hashlib.sha256(token.encode()).hexdigest() and not link.include_video
    row = ShareLink.objects.filter(id=link.id).values().get()
    assert not any(token in str(value) for value in row.values())
    assert timedelta(days=6, hours=23) < link.expires_at - timezone.now() <= timedelta(days=7)
    # The owner's list shows it (not its address) with a revoke button.
    listing = alice_client.get(f"/analyses/{done.id}/share-links/").content.decode()
    assert "for the newsroom" in listing and token not in listing
    assert f"/analyses/{done.id}/share-links/{link.id}/revoke/" in listing

    anonymous = Client()
    shared = anonymous.get(f"/shared/{token}/")
    assert shared.status_code == 200
    assert shared["X-Robots-Tag"] == "noindex, nofollow" and shared["Referrer-Policy"] == "no-referrer"
    html = shared.content.decode()
    assert '<meta name="robots" content="noindex' in html
    assert "Shared by <strong>alice</strong>" in html and "press-conference.mp4" in html
    assert 'id="verdict-sentence"' in html and done.sha256 in html
    # Every address on the page is the link's own, or the site's static files and public pages: no owner URL.
    addresses = set(re.findall(r'(?:href|src|action|data-face|data-heatmap)="([^"#]+)', html))
    assert not [a for a in addresses if "/analyses/" in a or "/detectors/" in a or "delete" in a or "retry" in a]
    frame = done.frames.exclude(heatmap="").first()
    assert f"/shared/{token}/frames/{frame.index}/thumbnail.jpg" in addresses  # heat maps only past 50
    for kind in ("thumbnail", "heatmap"):
        image = anonymous.get(f"/shared/{token}/frames/{frame.index}/{kind}.jpg")
        assert image.status_code == 200 and b"".join(image.streaming_content)[:3] == b"\xff\xd8\xff"
    assert f"/shared/{token}/report.pdf" in addresses
    assert anonymous.get(f"/shared/{token}/report.pdf").content.startswith(b"%PDF-")
    assert anonymous.get(f"/shared/{token}/report.json").json()["analysis"]["id"] == str(done.id)
    # The video was not ticked: neither shown nor served.
    assert "<video" not in html and anonymous.get(f"/shared/{token}/video/").status_code == 404
    # The owner's own URLs stay closed to the anonymous visitor.
    assert anonymous.get(f"/analyses/{done.id}/frames/{frame.index}/thumbnail.jpg").status_code == 302

    # With the video ticked, it plays through the link.
    with_video = created_link(alice_client.post(f"/analyses/{done.id}/share-links/",
                                                {"expires_in_days": "1", "include_video": "on"}))
    video_token = with_video.rsplit("/", 2)[-2]
    assert f'src="/shared/{video_token}/video/#t=0.1"' in anonymous.get(with_video).content.decode()
    assert anonymous.get(f"/shared/{video_token}/video/", headers={"Range": "bytes=0-99"}).status_code == 206

    # Revoked: 404 on the page, its files and its report, like an unknown link.
    revoke = alice_client.post(f"/analyses/{done.id}/share-links/{link.id}/revoke/")
    assert revoke.status_code == 302
    for path in ("", f"frames/{frame.index}/thumbnail.jpg", "report.pdf"):
        assert anonymous.get(f"/shared/{token}/{path}").status_code == 404
    unknown = anonymous.get(f"/shared/{'x' * 43}/")
    assert unknown.status_code == 404 and anonymous.get(f"/shared/{token}/").content == unknown.content
    assert "Revoked" in alice_client.get(f"/analyses/{done.id}/share-links/").content.decode()

    # Expired: the same 404.
    ShareLink.objects.filter(digest=hashlib.sha256(video_token.encode()).hexdigest()).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    assert anonymous.get(with_video).status_code == 404
    assert anonymous.get(f"/shared/{video_token}/video/").status_code == 404

    # Deleting the analysis deletes its links.
    detection_services.analysis_delete(analysis=done)
    assert not ShareLink.objects.exists()


def test_share_links_through_the_api(client, alice, bob, detector):
    done = AnalysisFactory(owner=alice, detector=detector, status="done", verdict="no_face")
    running = AnalysisFactory(owner=alice, detector=detector, status="processing")
    alice_token, bob_token = token_for(alice), token_for(bob)
    api = f"/api/v1/analyses/{done.id}/share-links/"

    created = client.post(api, {"expires_in_days": 30, "include_video": True, "note": "court"},
                          content_type="application/json", headers=auth(alice_token))
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["url"].startswith("http://testserver/shared/") and body["live"] is True
    assert body["include_video"] is True and body["note"] == "court"
    assert Client().get(body["url"]).status_code == 200

    listed = client.get(api, headers=auth(alice_token)).json()
    assert [link["id"] for link in listed] == [body["id"]] and "url" not in listed[0]
    assert_error(client.get(api, headers=auth(bob_token)), 404, "not_found")
    assert_error(client.post(api, {}, content_type="application/json", headers=auth(bob_token)), 404)
    assert_error(client.delete(f"{api}{body['id']}/", headers=auth(bob_token)), 404)
    error = assert_error(client.post(api, {"expires_in_days": 31}, content_type="application/json",
                                     headers=auth(alice_token)), 400, "invalid")
    assert "expires_in_days" in error["fields"]
    assert_error(client.post(f"/api/v1/analyses/{running.id}/share-links/", {}, content_type="application/json",
                             headers=auth(alice_token)), 409, "not_done")

    assert client.delete(f"{api}{body['id']}/", headers=auth(alice_token)).status_code == 204
    assert Client().get(body["url"]).status_code == 404
    assert client.get(api, headers=auth(alice_token)).json()[0]["live"] is False
