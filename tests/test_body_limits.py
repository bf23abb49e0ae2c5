"""Bodies over the limit are refused from their declared length before anything reads them,
on every route (finding 5); file names too long to read get a clear error (finding 9). A slow
sender against a live gunicorn is in tests/faults/test_abuse_live.py."""

import uuid

import pytest
from django.test import Client
from django.urls import reverse

from detection.models import Analysis
from tests.helpers import assert_error, auth, token_for

pytestmark = pytest.mark.django_db
GIB = 1 << 30
CSRF_TOKEN = "k" * 32


class Unreadable:
    """A request body that fails the test if anything reads it."""

    def read(self, *args):
        raise AssertionError("the body was read")

    readline = read


def declared(length: int) -> dict:
    return {"CONTENT_LENGTH": str(length), "CONTENT_TYPE": "multipart/form-data; boundary=x",
            "wsgi.input": Unreadable()}


@pytest.mark.parametrize("url", ["/accounts/login/", "/accounts/signup/", "/accounts/password/reset/",
                                 "/analyses/new/", "/api/v1/auth/token/", "/api/v1/analyses/"])
def test_an_anonymous_oversized_body_is_refused_unread(url):
    """The CSRF check read the whole multipart body (looking for its token) before the view's
    size check ran; anyone has a CSRF cookie from the sign-in page."""
    client = Client(enforce_csrf_checks=True)
    client.cookies["csrftoken"] = CSRF_TOKEN
    response = client.generic("POST", url, headers={"X-CSRFToken": CSRF_TOKEN}, **declared(GIB))
    assert response.status_code == 413
    if url.startswith("/api/"):
        assert response.json()["error"]["code"] == "too_large"
    else:
        assert b"larger than the limit" in response.content


def test_the_upload_routes_take_a_video_and_the_others_a_form(alice, alice_client, settings, detector):
    limit = settings.DFD_MAX_UPLOAD_BYTES
    token = token_for(alice)
    api = alice_client.generic("POST", "/api/v1/analyses/", headers=auth(token), **declared(limit + 2 * 1024 * 1024))
    error = assert_error(api, 413, "too_large")
    assert error["fields"] == {"file": [f"The file is larger than the limit of {limit // (1024 * 1024)} MB."]}
    # The form and the batch route take several videos: the upload limit for each of as many as may run at once.
    batch_limit = limit * settings.DFD_MAX_RUNNING_PER_USER + 1024 * 1024
    page = alice_client.generic("POST", reverse("detection:analysis_new"), **declared(batch_limit + 1),
                                headers={"X-Requested-With": "XMLHttpRequest"})
    batch = alice_client.generic("POST", "/api/v1/batches/", headers=auth(token), **declared(batch_limit + 1))
    for response in (page, batch):
        message = assert_error(response, 413, "too_large")["fields"]["file"][0]
        assert message.startswith(f"The files together are larger than the limit of {batch_limit // (1024 * 1024)} MB")
    # Any other route: a few hundred KB at most.
    over = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1
    for url in (reverse("accounts:profile"), reverse("accounts:tokens"), "/api/v1/auth/token/"):
        response = alice_client.generic("POST", url, **declared(over))
        assert response.status_code == 413, url
    assert "256 KB" in assert_error(alice_client.generic("POST", "/api/v1/auth/token/", **declared(over)),
                                    413, "too_large")["message"]


def test_a_body_without_a_length_is_refused(client):
    response = client.generic("POST", "/api/v1/auth/token/", HTTP_TRANSFER_ENCODING="chunked",
                              CONTENT_TYPE="application/json", **{"wsgi.input": Unreadable()})
    assert assert_error(response, 411, "length_required")["message"].startswith("Send the request with a Content-Length")


def test_bodies_within_the_limits_are_read(client, alice):
    from tests.helpers import PASSWORD

    assert client.post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}).status_code == 201
    assert client.post(reverse("accounts:login"), {"username": "alice", "password": PASSWORD}).status_code == 302


# --- File names ---------------------------------------------------------------------------------


def multipart(file_name: str, content: bytes, **fields) -> tuple[bytes, str]:
    """A form as a browser sends it; the test client itself would shorten the name first."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
             for key, value in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
                 "Content-Type: video/mp4\r\n\r\n".encode() + content + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def post_form(client, url, body_and_type, **headers):
    body, content_type = body_and_type
    return client.generic("POST", url, body, content_type=content_type, headers=headers)


LONG_NAME = "a" * 1000 + ".mp4"


def test_a_file_name_too_long_to_read_is_a_clear_error_for_the_upload_page(alice_client, detector,
                                                                          face_video_bytes):
    """Finding 9: a name of about 1,000 characters got Django's bare "Bad Request (400)",
    also for the upload page's background request, which expects JSON."""
    url = reverse("detection:analysis_new")
    form = multipart(LONG_NAME, face_video_bytes, frames=20, strategy="uniform")
    error = assert_error(post_form(alice_client, url, form, X_Requested_With="XMLHttpRequest"), 400,
                         "file_name_too_long")
    assert error["fields"] == {"file": [error["message"]]} and "Rename the file" in error["message"]
    page = post_form(alice_client, url, form)
    assert page.status_code == 400 and b"Rename the file" in page.content and b"<!doctype html>" in page.content
    assert not Analysis.objects.exists()


def test_a_file_name_too_long_to_read_is_a_clear_error_from_the_api(api_client, detector, face_video_bytes):
    response = post_form(api_client, "/api/v1/analyses/", multipart(LONG_NAME, face_video_bytes))
    error = assert_error(response, 400, "file_name_too_long")
    assert "Rename the file" in error["fields"]["file"][0]


def test_a_long_name_that_can_be_read_is_kept_shortened(alice_client, detector, face_video_bytes):
    name = "b" * 900 + ".mp4"
    url = reverse("detection:analysis_new")
    response = post_form(alice_client, url, multipart(name, face_video_bytes, frames=20, strategy="uniform"),
                         X_Requested_With="XMLHttpRequest")
    assert response.status_code == 201
    analysis = Analysis.objects.get()
    assert len(analysis.original_name) == 255 and analysis.original_name.endswith("bbb.mp4")


@pytest.fixture
def api_client(client, alice):
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {token_for(alice)}"
    return client
