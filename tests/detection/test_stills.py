"""Photos and Content Credentials at upload: JPEG, PNG and WebP checked by their content and
size, by the API and the form; C2PA manifests read from photos and videos, signed at test time
with a certificate authority of the test's own, and shown apart from the verdict."""

import pytest
from django.conf import settings
from django.urls import reverse

from detection.models import Analysis
from detection.uploads import CONTAINERS
from tests import stills
from tests.helpers import assert_error, stored_files, token_for, upload

pytestmark = pytest.mark.django_db

URL = "/api/v1/analyses/"


@pytest.fixture(scope="module")
def photo():
    return stills.face_photo(faces=2)


@pytest.fixture
def api(client, alice):
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {token_for(alice)}"
    return client


def api_upload(api, data: bytes, name: str) -> dict:
    response = api.post(URL, {"file": upload(data, name)})
    assert response.status_code == 202, response.content[:2000]
    return response.json()


@pytest.mark.parametrize("extension, container, media_type", [
    (".jpg", "jpeg", "image/jpeg"), (".png", "png", "image/png"), (".webp", "webp", "image/webp"),
])
def test_photos_upload_by_the_api_recognised_by_content(api, detector, photo, extension, container, media_type):
    data = stills.encode(photo, extension)
    body = api_upload(api, data, "group.mp4")  # the name says video: the bytes decide
    assert (body["media_kind"], body["container"], body["width"], body["height"]) == ("image", container, 640, 320)
    assert (body["duration_seconds"], body["fps"], body["provenance"]) == (0.0, 0.0, {})
    analysis = Analysis.objects.get()
    assert analysis.video.name == f"analyses/{analysis.id}/image{CONTAINERS[container].extension}"
    served = api.get(body["video_url"])
    assert served["Content-Type"] == media_type and b"".join(served.streaming_content) == data


def test_a_photo_through_the_form_and_its_page_before_it_runs(alice_client, detector, photo):
    response = alice_client.post(reverse("detection:analysis_new"),
                                 {"file": upload(stills.encode(photo, ".png"), "family.png"), "frames": 20,
                                  "strategy": "uniform"})
    assert response.status_code == 302, response.content[:2000]
    analysis = Analysis.objects.get()
    assert (analysis.media_kind, analysis.width, analysis.height, analysis.status) == ("image", 640, 320, "queued")
    page = alice_client.get(response.url).content.decode()
    assert 'id="photo"' in page and "<video" not in page
    assert "No Content Credentials." in page and "Provenance is evidence of another kind" in page
    history = alice_client.get(reverse("detection:analysis_list")).content.decode()
    assert "Photo · 640×320" in history


@pytest.mark.parametrize("make, code, message", [
    (lambda photo: b"Just some notes, whatever the name says.\n" * 40, "not_video", "not a video or photo"),
    (lambda photo: stills.png_claiming(60000, 60000), "too_many_pixels", "The image has too many pixels"),
    (lambda photo: stills.png_claiming(5000, 4000), "too_many_pixels", "The image is 5000x4000 pixels"),
    (lambda photo: stills.encode(photo, ".jpg")[:3000], "unreadable", "The image cannot be read"),
    (lambda photo: b"GIF89a" + b"\x00" * 200, "not_video", "not a video or photo"),
])
def test_bad_photos_are_refused_and_leave_nothing(api, detector, photo, make, code, message):
    error = assert_error(api.post(URL, {"file": upload(make(photo), "photo.jpg")}), 400, code)
    assert message in " ".join(error["fields"]["file"]), error
    assert not Analysis.objects.exists() and stored_files(settings.MEDIA_ROOT) == []


def test_a_photo_over_the_pixel_limit_is_refused_by_its_size(api, detector, photo, settings):
    settings.DFD_MAX_PIXELS = 640 * 320 - 1
    error = assert_error(api.post(URL, {"file": upload(stills.encode(photo, ".webp"), "a.webp")}), 400,
                         "too_many_pixels")
    assert "The image is 640x320 pixels; the limit is 204,799 pixels." in error["fields"]["file"]


# --- Content Credentials ----------------------------------------------------------------------


def test_signed_photo_is_signed_but_not_on_a_trust_list_and_declares_ai(api, alice_client, detector, photo):
    body = api_upload(api, stills.sign(stills.encode(photo, ".jpg"), "image/jpeg"), "signed.jpg")
    provenance = body["provenance"]
    assert provenance["state"] == "untrusted" and provenance["errors"] == []
    assert provenance["signer"]["common_name"] == "Test Camera" and provenance["signer"]["issuer"] == "Test Newsroom"
    assert provenance["claim_generator"] == "dfd-test-signer 1.0" and provenance["manifests"] == 1
    assert provenance["actions"][0]["action"] == "c2pa.created"
    assert provenance["ai_generated"] is True and provenance["ai_markers"] == ["trainedAlgorithmicMedia"]
    assert provenance["library"].startswith("c2pa-python ")
    page = alice_client.get(body["web_url"]).content.decode()
    assert "Signed, but the signer is not on a trust list." in page
    assert "The credentials declare generation by AI" in page and "Test Camera" in page


def test_tampered_photo_credentials_do_not_validate(api, alice_client, detector, photo):
    signed = stills.sign(stills.encode(photo, ".jpg"), "image/jpeg")
    body = api_upload(api, stills.tamper(signed), "tampered.jpg")
    assert body["provenance"]["state"] == "invalid"
    assert "assertion.dataHash.mismatch" in [error["code"] for error in body["provenance"]["errors"]]
    page = alice_client.get(body["web_url"]).content.decode()
    assert "The Content Credentials do not match this file." in page and "assertion.dataHash.mismatch" in page


def test_a_signer_under_a_configured_trust_anchor_is_trusted(api, detector, photo, settings, tmp_path):
    anchors = tmp_path / "anchors.pem"
    anchors.write_text(stills.signing_identity()[2])
    settings.DFD_C2PA_TRUST_ANCHORS = str(anchors)
    body = api_upload(api, stills.sign(stills.encode(photo, ".png"), "image/png", ai=False), "trusted.png")
    assert body["provenance"]["state"] == "trusted" and body["provenance"]["ai_generated"] is False


def test_video_credentials_are_read_and_checked_too(api, detector, face_video_bytes):
    signed = stills.sign(face_video_bytes, "video/mp4")
    body = api_upload(api, signed, "signed.mp4")
    assert body["media_kind"] == "video" and body["provenance"]["state"] == "untrusted"
    assert api_upload(api, stills.tamper(signed), "tampered.mp4")["provenance"]["state"] == "invalid"
    assert api_upload(api, face_video_bytes, "plain.mp4")["provenance"] == {}


def test_someone_elses_photo_and_its_credentials_are_404(client, alice, bob, detector, photo):
    from detection import services

    analysis = services.analysis_create(owner=alice, file=upload(stills.sign(stills.encode(photo, ".jpg"),
                                                                             "image/jpeg"), "a.jpg"))
    client.force_login(bob)
    assert client.get(reverse("detection:analysis_detail", args=[analysis.id])).status_code == 404
    assert client.get(reverse("detection:analysis_video", args=[analysis.id])).status_code == 404
    bob_api = {"HTTP_AUTHORIZATION": f"Token {token_for(bob)}"}
    assert_error(client.get(f"{URL}{analysis.id}/", **bob_api), 404, "not_found")
    assert_error(client.get(f"{URL}{analysis.id}/video/", **bob_api), 404, "not_found")
    listed = client.get(URL, **bob_api).json()
    assert listed["count"] == 0
