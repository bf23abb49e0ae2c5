"""Analyses through the API: upload, list, detail, files, delete, retry; who may see what."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from detection.models import Analysis
from tests import videos
from tests.helpers import assert_error, stored_files, upload

pytestmark = pytest.mark.django_db

URL = "/api/v1/analyses/"


def detail_url(analysis) -> str:
    return f"{URL}{analysis.id}/"


# --- Upload --------------------------------------------------------------------------------------


def test_upload_answers_202_with_the_analysis_and_where_to_poll(api, detector, face_video_bytes):
    response = api.post(URL, {"file": upload(face_video_bytes, "holiday.mp4"), "frames": 15,
                              "strategy": "contiguous"})
    assert response.status_code == 202, response.content
    analysis = Analysis.objects.get()
    body = response.json()
    expected = f"http://testserver/api/v1/analyses/{analysis.id}/"
    assert response["Location"] == expected and body["status_url"] == expected and body["url"] == expected
    assert body["status"] == "queued" and body["finished"] is False and body["verdict"] is None
    assert (body["file_name"], body["frames_requested"], body["strategy"]) == ("holiday.mp4", 15, "contiguous")
    assert body["detector"] == {"id": detector.id, "name": "Test detector", "variant": "temporal"}
    assert body["web_url"] == f"http://testserver/analyses/{analysis.id}/"
    assert analysis.owner.username == "alice"


def test_upload_defaults_and_a_chosen_detector(api, detector, face_video_bytes):
    response = api.post(URL, {"file": upload(face_video_bytes), "detector": detector.id})
    assert response.status_code == 202
    assert (response.json()["frames_requested"], response.json()["strategy"]) == (20, "uniform")


@pytest.mark.parametrize("make, code, message", [
    (lambda d: videos.text_file(d / "notes.mp4"), "not_video", "not a video or photo"),
    (lambda d: videos.truncated_copy(videos.face_video(d / "ok.mp4", seconds=1), d / "cut.mp4", 0.3),
     "unreadable", "cannot be read"),
    (lambda d: videos.zero_byte_file(d / "empty.mp4"), "invalid", "The submitted file is empty."),
])
def test_bad_uploads_are_400_with_the_form_messages(api, detector, tmp_path, make, code, message):
    path = make(tmp_path)
    error = assert_error(api.post(URL, {"file": upload(path.read_bytes(), path.name)}), 400, code)
    assert message in " ".join(error["fields"]["file"])
    assert not Analysis.objects.exists() and stored_files(settings.MEDIA_ROOT) == []


def test_field_errors_match_the_web_form(api, detector, face_video_bytes):
    from detection.forms import AnalysisUploadForm

    data = {"frames": 200, "strategy": "sideways"}
    error = assert_error(api.post(URL, {**data, "detector": 9999}), 400, "invalid")
    web = AnalysisUploadForm(data, {})
    assert not web.is_valid()
    for field in ("file", "frames", "strategy"):
        assert error["fields"][field] == web.errors[field]
    assert error["fields"]["detector"] == ["Select a valid choice. That choice is not one of the available choices."]
    assert error["message"] == error["fields"]["file"][0]
    text = assert_error(api.post(URL, {"file": upload(face_video_bytes), "frames": "many"}), 400)
    assert text["fields"]["frames"] == AnalysisUploadForm({"frames": "many"}).errors["frames"]


def test_no_detector_installed_is_a_400_on_detector(api, face_video_bytes):
    error = assert_error(api.post(URL, {"file": upload(face_video_bytes)}), 400)
    assert "No detector is installed" in error["fields"]["detector"][0]


def test_too_large_by_declared_length_is_413_before_reading(api, detector, face_video_bytes):
    with override_settings(DFD_MAX_UPLOAD_BYTES=1024):
        response = api.post(URL, {"file": upload(face_video_bytes * 20)})
    error = assert_error(response, 413, "too_large")
    assert error["fields"] == {"file": ["The file is larger than the limit of 0 MB."]}
    assert not Analysis.objects.exists() and stored_files(settings.MEDIA_ROOT) == []


def test_too_large_found_while_reading_is_413(api, detector, face_video_bytes):
    # Within the slack allowed for the multipart envelope, so the service finds it.
    with override_settings(DFD_MAX_UPLOAD_BYTES=len(face_video_bytes) // 2):
        error = assert_error(api.post(URL, {"file": upload(face_video_bytes)}), 413, "too_large")
    assert "larger than the limit" in error["fields"]["file"][0]
    assert not Analysis.objects.exists() and stored_files(settings.MEDIA_ROOT) == []


def test_upload_needs_authentication(client, detector, face_video_bytes):
    assert_error(client.post(URL, {"file": upload(face_video_bytes)}), 401)
    assert not Analysis.objects.exists()


def test_upload_as_json_is_415(api, detector):
    assert_error(api.post(URL, {"frames": 10}, content_type="application/json"), 400)
    assert_error(api.post(URL, "<xml/>", content_type="application/xml"), 415, "unsupported_media_type")


# --- Reading -----------------------------------------------------------------------------------------


def test_detail_of_a_finished_analysis(api, done):
    response = api.get(detail_url(done))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "done" and body["finished"] is True and body["progress"] == 100
    assert body["verdict"] in ("real", "fake") and body["verdict"] == done.verdict
    assert body["probability_fake"] == pytest.approx(done.probability_fake)
    assert body["confidence"] == pytest.approx(done.confidence)
    assert set(body["timings"]) == {"decode", "faces", "model", "cam", "total"}
    assert body["frames_analysed"] == len(body["frames"]) == done.frames.count() >= 9
    frame = body["frames"][0]
    assert set(frame) == {"index", "timestamp", "probability_fake", "box", "thumbnail_url", "heatmap_url"}
    assert frame["thumbnail_url"] == f"http://testserver{URL}{done.id}/frames/{frame['index']}/thumbnail/"
    assert set(frame["box"]) == {"x", "y", "width", "height"}
    with_heatmap = [f for f in body["frames"] if f["heatmap_url"]]
    assert with_heatmap and len(with_heatmap) == done.frames.exclude(heatmap="").count()
    assert body["poster_url"] == f"http://testserver{URL}{done.id}/poster/"
    assert body["video_url"] == f"http://testserver{URL}{done.id}/video/"
    assert body["detector"]["name"] == "Test detector"
    assert body["started_at"] and body["finished_at"] and body["created_at"]


def test_files_stream_to_their_owner(api, done):
    body = api.get(detail_url(done)).json()
    frame = next(f for f in body["frames"] if f["heatmap_url"])
    for url, content_type, magic in [
        (body["poster_url"], "image/jpeg", b"\xff\xd8\xff"),
        (frame["thumbnail_url"], "image/jpeg", b"\xff\xd8\xff"),
        (frame["heatmap_url"], "image/jpeg", b"\xff\xd8\xff"),
        (body["video_url"], "video/mp4", None),
    ]:
        response = api.get(url, headers={"Accept": "image/avif,image/webp,*/*"})
        assert response.status_code == 200, url
        assert response["Content-Type"] == content_type
        content = b"".join(response.streaming_content)
        assert magic is None or content.startswith(magic)
    assert_error(api.get(f"{URL}{done.id}/frames/99999/thumbnail/"), 404, "not_found")


def test_other_peoples_analyses_are_404_like_missing_ones(api, done, bobs):
    missing = f"{URL}00000000-0000-0000-0000-000000000000/"
    for suffix in ("", "poster/", "video/", "frames/0/thumbnail/", "frames/0/heatmap/"):
        missing_error = assert_error(api.get(f"{missing}{suffix}"), 404, "not_found")
        other = assert_error(api.get(f"{detail_url(bobs)}{suffix}"), 404, "not_found")
        assert other == missing_error
    assert_error(api.delete(detail_url(bobs)), 404)
    assert_error(api.post(f"{detail_url(bobs)}retry/"), 404)
    bobs.refresh_from_db()
    assert bobs.status == "done"


def test_files_and_detail_need_authentication(client, done):
    for suffix in ("", "poster/", "video/"):
        assert_error(client.get(f"{detail_url(done)}{suffix}"), 401)


# --- Listing -------------------------------------------------------------------------------------


@pytest.fixture
def history(alice, bob, detector, face_video_bytes):
    """Four analyses of alice's in different states, on different days; one of bob's.
    Results are written directly: listing needs no detector runs."""
    from detection import services

    def create(owner, name, **fields):
        analysis = services.analysis_create(owner=owner, file=upload(face_video_bytes, name), frames=10)
        Analysis.objects.filter(id=analysis.id).update(**fields)
        return analysis

    done = {"status": "done", "progress": 100, "finished_at": timezone.now()}
    first = create(alice, "beach-day.mp4", **done, verdict="fake", probability_fake=0.9, confidence=0.9,
                   created_at=timezone.now() - timedelta(days=10))
    second = create(alice, "Interview.mp4", **done, verdict="real", probability_fake=0.2, confidence=0.8)
    queued = create(alice, "queued-one.mp4")
    failed = create(alice, "broken.mp4", status="failed", error_message="boom")
    create(bob, "bob-secret.mp4", **done, verdict="fake", probability_fake=0.99, confidence=0.99)
    return {"first": first, "second": second, "queued": queued, "failed": failed}


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["file_name"] for item in response.json()["results"]]


def test_list_only_own_newest_first_with_pagination(api, history):
    response = api.get(URL)
    body = response.json()
    assert body["count"] == 4 and body["next"] is None and body["previous"] is None
    assert names(response) == ["broken.mp4", "queued-one.mp4", "Interview.mp4", "beach-day.mp4"]
    assert "bob-secret.mp4" not in response.content.decode()
    item = body["results"][0]
    assert "frames" not in item and item["url"].endswith(f"/api/v1/analyses/{history['failed'].id}/")
    page = api.get(URL, {"page_size": 3}).json()
    assert len(page["results"]) == 3 and page["next"].endswith("page=2&page_size=3")
    second = api.get(URL, {"page_size": 3, "page": 2}).json()
    assert [r["file_name"] for r in second["results"]] == ["beach-day.mp4"] and second["previous"]
    assert_error(api.get(URL, {"page": 9}), 404)


@pytest.mark.parametrize("query, expected", [
    ({"status": "done"}, ["Interview.mp4", "beach-day.mp4"]),
    ({"status": "failed"}, ["broken.mp4"]),
    ({"verdict": "fake"}, ["beach-day.mp4"]),
    ({"verdict": ""}, ["broken.mp4", "queued-one.mp4", "Interview.mp4", "beach-day.mp4"]),
    ({"search": "INTER"}, ["Interview.mp4"]),
    ({"ordering": "file_name"}, ["Interview.mp4", "beach-day.mp4", "broken.mp4", "queued-one.mp4"]),
    ({"ordering": "created_at"}, ["beach-day.mp4", "Interview.mp4", "queued-one.mp4", "broken.mp4"]),
    ({"ordering": "-probability_fake"}, ["beach-day.mp4", "Interview.mp4", "broken.mp4", "queued-one.mp4"]),
    ({"ordering": "probability_fake"}, ["Interview.mp4", "beach-day.mp4", "broken.mp4", "queued-one.mp4"]),
])
def test_list_filters_and_ordering(api, history, query, expected):
    assert names(api.get(URL, query)) == expected


def test_list_created_range(api, history):
    today = timezone.now().date()
    old = (timezone.now() - timedelta(days=10)).date()
    assert names(api.get(URL, {"created_to": str(old)})) == ["beach-day.mp4"]
    assert len(names(api.get(URL, {"created_from": str(today)}))) == 3
    assert names(api.get(URL, {"created_from": str(old), "created_to": str(old), "verdict": "fake"})) == [
        "beach-day.mp4"]


def test_list_bad_filters_are_400_with_field_messages(api, history):
    error = assert_error(api.get(URL, {"status": "sleeping", "created_from": "yesterday", "ordering": "size",
                                       "page_size": 1000}), 400, "invalid")
    assert set(error["fields"]) == {"status", "created_from", "ordering", "page_size"}
    assert error["fields"]["status"] == ["Select a valid choice. sleeping is not one of the available choices."]


# --- Delete and retry ---------------------------------------------------------------------------


def test_delete_removes_the_analysis_and_its_files(api, done):
    assert stored_files(settings.MEDIA_ROOT)
    response = api.delete(detail_url(done))
    assert response.status_code == 204 and response.content == b""
    assert not Analysis.objects.exists() and stored_files(settings.MEDIA_ROOT) == []
    assert_error(api.get(detail_url(done)), 404)


def test_retry_queues_a_finished_analysis_again(api, done):
    response = api.post(f"{detail_url(done)}retry/")
    assert response.status_code == 202, response.content
    body = response.json()
    assert response["Location"] == body["status_url"] == f"http://testserver{detail_url(done)}"
    assert body["status"] == "queued" and body["frames"] == [] and body["verdict"] is None
    # Still queued: a second retry conflicts.
    error = assert_error(api.post(f"{detail_url(done)}retry/"), 409, "running")
    assert error["message"] == "This analysis is still running."


def test_methods_not_allowed_are_405(api, done):
    assert_error(api.put(detail_url(done), {}), 405, "method_not_allowed")
    assert_error(api.get(f"{detail_url(done)}retry/"), 405)


def test_a_finished_analysis_has_a_verdict_band_to_filter_on(api, done):
    body = api.get(detail_url(done)).json()
    # The test detector carries no calibration: two bands, split at 0.5.
    expected = "manipulated" if body["probability_fake"] >= 0.5 else "no_manipulation"
    assert body["band"] == expected
    assert [item["id"] for item in api.get(URL, {"band": expected}).json()["results"]] == [str(done.id)]
    other = "no_manipulation" if expected == "manipulated" else "manipulated"
    assert api.get(URL, {"band": other}).json()["results"] == []
    assert_error(api.get(URL, {"band": "maybe"}), 400, "invalid")
