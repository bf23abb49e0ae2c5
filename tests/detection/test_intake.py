"""How work comes in: batches of files and links instead of files, against a real HTTP server on
loopback, a real Celery worker on Redis and the real detector (issue 16)."""

from __future__ import annotations

import csv
import hashlib
import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from detection import services
from detection.models import Analysis, Batch
from tests.helpers import auth, stored_files, token_for, upload, wait_for_status

PAGE = b"""<!doctype html><html><head><title>An interview</title></head>
<body><h1>An interview</h1><video controls src="/face.mp4"></video></body></html>"""
NOT_A_VIDEO = b"Meeting notes: nothing to see here.\n" * 20


def handler_for(video: bytes):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # a body without Content-Length ends when the connection closes

        def do_GET(self):  # noqa: N802
            if self.path.startswith("/to/"):  # a redirect to wherever the rest of the path says
                self.send_response(302)
                self.send_header("Location", self.path[len("/to/"):])
                self.end_headers()
            elif self.path == "/face.mp4":
                self.answer(video, "video/mp4")
            elif self.path == "/interview.html":
                self.answer(PAGE, "text/html; charset=utf-8")
            elif self.path == "/notes.mp4":
                self.answer(NOT_A_VIDEO, "video/mp4")
            elif self.path == "/huge.mp4":  # declares 10 GB; sends a little
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(10 * 1024 ** 3))
                self.end_headers()
                self.wfile.write(video[:1024])
            elif self.path == "/endless.mp4":  # no length: streams until the client stops reading
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.end_headers()
                try:
                    self.wfile.write(video)
                    for _ in range(4096):
                        self.wfile.write(b"\0" * 65536)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            else:
                self.send_error(404)

        def answer(self, body: bytes, content_type: str):
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture(scope="module")
def video_site(face_video_bytes):
    """A web site on loopback serving a real face video, a page with it, and hostile answers."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(face_video_bytes))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_batch_of_files_and_links_is_analysed_by_a_worker(
        client, alice, bob, detector, face_video_bytes, start_worker, video_site, settings):
    settings.DFD_OUTBOUND_ALLOW_PRIVATE = True
    start_worker(DFD_OUTBOUND_ALLOW_PRIVATE="1")
    token = token_for(alice)
    response = client.post("/api/v1/batches/", headers=auth(token), data={
        "file": [upload(face_video_bytes, "one.mp4"), upload(NOT_A_VIDEO, "notes.mp4")],
        "url": [f"{video_site}/face.mp4", f"{video_site}/interview.html"],
        "name": "Interviews", "frames": 10,
    })
    assert response.status_code == 202, response.content
    body = response.json()
    batch = Batch.objects.get()
    assert response["Location"] == body["batch"]["url"] and body["batch"]["id"] == str(batch.id)
    # The text file is refused, saying why; the other three go ahead.
    [refused] = body["refused"]
    assert (refused["field"], refused["index"], refused["name"], refused["code"], refused["status"]) == (
        "file", 1, "notes.mp4", "not_video", 400)
    assert "not a video" in refused["message"]
    analyses = list(batch.analyses.order_by("created_at"))
    assert len(analyses) == 3 and all(a.owner == alice and a.frames_requested == 10 for a in analyses)
    links = [a for a in analyses if a.source_url]
    assert [a.source_url for a in links] == [f"{video_site}/face.mp4", f"{video_site}/interview.html"]
    assert all(not a.video and a.size_bytes is None for a in links)  # known once the worker fetched it

    for analysis in analyses:
        wait_for_status(analysis, {"done", "failed"}, timeout=180)
        assert analysis.status == "done", analysis.error_message
    sha256 = hashlib.sha256(face_video_bytes).hexdigest()
    assert {a.sha256 for a in analyses} == {sha256}  # the links fetched the very same video
    page_analysis = links[1]
    # Named after the page's title (yt-dlp numbers the videos it finds on a page).
    assert page_analysis.original_name.startswith("An interview") and page_analysis.duration_seconds > 0.5
    assert page_analysis.size_bytes == len(face_video_bytes) and page_analysis.video.name.endswith("video.mp4")

    summary = client.get(body["batch"]["url"], headers=auth(token)).json()
    assert summary["name"] == "Interviews"
    assert summary["summary"]["total"] == summary["summary"]["finished_count"] == 3
    assert summary["summary"]["finished"] is True and summary["summary"]["progress"] == 100
    counts = summary["summary"]["counts"]
    assert counts["status"]["done"] == 3 and counts["status"]["failed"] == 0
    assert sum(counts["verdict"].values()) == 3 and set(counts["verdict"]) == {"real", "fake", "no_face"}
    assert [item["source_url"] for item in summary["analyses"]] == [None, *[a.source_url for a in links]]

    exported = client.get(summary["export_csv_url"], headers=auth(token))
    assert exported["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert [row["name"] for row in rows] == ["one.mp4", "face.mp4", page_analysis.original_name]
    assert {row["status"] for row in rows} == {"done"} and {row["sha256"] for row in rows} == {sha256}
    assert rows[2]["source_url"] == f"{video_site}/interview.html" and rows[0]["source_url"] == ""
    assert all(0 <= float(row["probability_fake"]) <= 1 and row["detector"] == detector.name for row in rows)
    as_json = client.get(summary["export_json_url"], headers=auth(token)).json()
    assert [row["id"] for row in as_json["analyses"]] == [str(a.id) for a in analyses]
    assert as_json["analyses"][1]["probability_fake"] == analyses[1].probability_fake

    # The pages: the batch page with its counts and links, the result page with the link it came from.
    client.force_login(alice)
    page = client.get(reverse("detection:batch_detail", args=[batch.id])).content.decode()
    assert "Finished: 3 of 3" in page and all(reverse("detection:analysis_detail", args=[a.id]) in page
                                              for a in analyses)
    result = client.get(reverse("detection:analysis_detail", args=[page_analysis.id])).content.decode()
    assert 'id="source-url"' in result and f'href="{video_site}/interview.html"' in result
    assert "from 127.0.0.1" in client.get(reverse("detection:analysis_list")).content.decode()
    # Someone else's batch does not exist for bob, on the page or in the API.
    client.force_login(bob)
    assert client.get(reverse("detection:batch_detail", args=[batch.id])).status_code == 404
    assert client.get(body["batch"]["url"], headers=auth(token_for(bob))).status_code == 404


@pytest.mark.django_db
def test_a_batch_with_nothing_acceptable_says_why_for_each_and_keeps_nothing(alice, client, detector, settings):
    token = token_for(alice)
    response = client.post("/api/v1/batches/", headers=auth(token), data={
        "file": [upload(NOT_A_VIDEO, "a.mp4"), upload(b"", "b.mp4")], "url": ["ftp://example.org/c.mp4"],
    })
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and set(error["fields"]) == {"file.0", "file.1", "url.0"}
    assert error["fields"]["file.1"] == ["b.mp4: The file is empty."]
    assert "http:// or https://" in error["fields"]["url.0"][0]
    assert not Batch.objects.exists() and not Analysis.objects.exists()
    assert stored_files(settings.MEDIA_ROOT) == []
    # The single-video route takes one file: two are refused, not one of them silently analysed.
    two = client.post("/api/v1/analyses/", headers=auth(token),
                      data={"file": [upload(b"a", "a.mp4"), upload(b"b", "b.mp4")]})
    assert two.status_code == 400 and two.json()["error"]["code"] == "too_many_files"


@pytest.mark.django_db
def test_per_person_limits_apply_to_each_file_of_a_batch(alice, client, detector, face_video_bytes, settings):
    settings.DFD_MAX_RUNNING_PER_USER = 2
    response = client.post("/api/v1/batches/", headers=auth(token_for(alice)), data={
        "file": [upload(face_video_bytes, f"clip-{n}.mp4") for n in range(3)],
    })
    assert response.status_code == 202
    body = response.json()
    assert [item["file_name"] for item in body["batch"]["analyses"]] == ["clip-0.mp4", "clip-1.mp4"]
    assert [(r["name"], r["code"], r["status"]) for r in body["refused"]] == [("clip-2.mp4", "too_many_running", 429)]


# --- Links: refused when submitted, or failed by the fetch with a plain message -------------------


@pytest.mark.django_db
def test_a_loopback_link_is_refused_at_once_unless_private_addresses_are_allowed(alice, client, detector,
                                                                                 video_site, settings):
    settings.DFD_OUTBOUND_ALLOW_PRIVATE = False
    token = token_for(alice)
    response = client.post("/api/v1/analyses/", headers=auth(token), data={"url": f"{video_site}/face.mp4"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "address_refused" and "loopback" in error["fields"]["url"][0]
    assert not Analysis.objects.exists()

    settings.DFD_OUTBOUND_ALLOW_PRIVATE = True
    response = client.post("/api/v1/analyses/", headers=auth(token), data={"url": f"{video_site}/face.mp4"})
    assert response.status_code == 202
    body = response.json()
    assert body["source_url"] == f"{video_site}/face.mp4" and body["file_name"] == "face.mp4"
    assert body["status"] == "queued" and body["size_bytes"] is None and body["sha256"] == ""


def fetched(owner, url: str) -> Analysis:
    """A link's analysis, run in this process as a worker runs it."""
    analysis = services.analysis_create_from_link(owner=owner, url=url, frames=10)
    return services.analysis_run(analysis_id=analysis.id)


@pytest.mark.django_db
@pytest.mark.parametrize("path, limit_kb, message", [
    ("/to/http://169.254.169.254/latest/meta-data/", None, "169.254.169.254 points to a link-local address"),
    ("/huge.mp4", None, "larger than the limit of"),
    ("/endless.mp4", 1024, "larger than the limit of"),
    ("/notes.mp4", None, "This is not a video or photo we can read"),
    ("/missing.mp4", None, "The site answered HTTP 404"),
])
def test_a_fetch_that_cannot_give_a_video_fails_with_a_plain_message(alice, detector, video_site, settings,
                                                                     path, limit_kb, message):
    settings.DFD_OUTBOUND_ALLOW_PRIVATE = True  # loopback for the test site; link-local stays refused
    if limit_kb:
        settings.DFD_MAX_UPLOAD_BYTES = limit_kb * 1024
    analysis = fetched(alice, video_site + path)
    assert analysis.status == "failed" and message in analysis.error_message, analysis.error_message
    assert not analysis.video and stored_files(settings.MEDIA_ROOT) == []
