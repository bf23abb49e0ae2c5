"""Pages through the Django test client: upload, result, history, files, and who may see what."""

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse

from detection import services
from detection.models import Analysis
from tests import videos
from tests.helpers import stored_files, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished(alice, detector, face_video_bytes):
    analysis = services.analysis_create(owner=alice, file=upload(face_video_bytes, "alice-clip.mp4"), frames=10)
    return services.analysis_run(analysis_id=analysis.id)


def owner_urls(analysis):
    frame = analysis.frames.filter(heatmap__gt="").first()
    return [
        reverse("detection:analysis_detail", args=[analysis.id]),
        reverse("detection:analysis_status", args=[analysis.id]),
        reverse("detection:analysis_video", args=[analysis.id]),
        reverse("detection:analysis_poster", args=[analysis.id]),
        reverse("detection:frame_thumbnail", args=[analysis.id, frame.index]),
        reverse("detection:frame_heatmap", args=[analysis.id, frame.index]),
    ]


def test_upload_page_and_form_post(alice_client, detector, face_video_bytes):
    page = alice_client.get(reverse("detection:analysis_new"))
    assert page.status_code == 200
    assert b"Drop videos here" in page.content and b'id="no-detector"' not in page.content
    assert b'name="detector"' not in page.content  # one detector: nothing to choose
    response = alice_client.post(reverse("detection:analysis_new"),
                                 {"file": upload(face_video_bytes), "frames": 15, "strategy": "contiguous"})
    analysis = Analysis.objects.get()
    assert response.status_code == 302 and response.url == reverse("detection:analysis_detail", args=[analysis.id])
    assert (analysis.frames_requested, analysis.strategy) == (15, "contiguous")


def test_upload_by_xhr_answers_json(alice_client, detector, face_video_bytes):
    url = reverse("detection:analysis_new")
    ok = alice_client.post(url, {"file": upload(face_video_bytes), "frames": 20, "strategy": "uniform"},
                           headers={"X-Requested-With": "XMLHttpRequest"})
    assert ok.status_code == 201 and ok.json()["url"].startswith("/analyses/")
    bad = alice_client.post(url, {"file": upload(b"not a video", "x.mp4"), "frames": 200, "strategy": "uniform"},
                            headers={"X-Requested-With": "XMLHttpRequest"})
    assert bad.status_code == 400
    error = bad.json()["error"]  # the API's one error shape
    assert (error["status"], error["code"]) == (400, "invalid") and "100" in error["fields"]["frames"][0]


@pytest.mark.parametrize("make, message", [
    (lambda d: videos.text_file(d / "notes.mp4"), "not a video or photo"),
    (lambda d: videos.truncated_copy(videos.face_video(d / "ok.mp4", seconds=1), d / "cut.mp4", 0.3), "cannot be read"),
    (lambda d: videos.zero_byte_file(d / "empty.mp4"), "empty"),
])
def test_bad_uploads_show_a_form_error_and_store_nothing(alice_client, detector, tmp_path, make, message):
    path = make(tmp_path)
    response = alice_client.post(reverse("detection:analysis_new"),
                                 {"file": upload(path.read_bytes(), path.name), "frames": 20, "strategy": "uniform"})
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors["file"])
    assert message.encode() in response.content
    assert not Analysis.objects.exists() and stored_files(settings.MEDIA_ROOT) == []


def test_over_the_size_limit_is_refused_before_reading_the_body(alice_client, detector, face_video_bytes):
    with override_settings(DFD_MAX_UPLOAD_BYTES=1024):
        response = alice_client.post(reverse("detection:analysis_new"),
                                     {"file": upload(face_video_bytes * 200), "frames": 20, "strategy": "uniform"})
    assert response.status_code == 413
    assert b"larger than the limit" in response.content
    assert not Analysis.objects.exists() and stored_files(settings.MEDIA_ROOT) == []


def test_over_the_duration_limit_is_refused(alice_client, detector, tmp_path):
    content = videos.face_video(tmp_path / "long.mp4", seconds=3, fps=10).read_bytes()
    with override_settings(DFD_MAX_DURATION_SECONDS=2):
        response = alice_client.post(reverse("detection:analysis_new"),
                                     {"file": upload(content), "frames": 20, "strategy": "uniform"})
    assert response.status_code == 400 and b"the limit is 2 s" in response.content
    assert not Analysis.objects.exists() and stored_files(settings.MEDIA_ROOT) == []


def test_pages_without_a_detector_say_how_to_install_one(alice_client):
    for name in ("home", "detection:analysis_new"):
        page = alice_client.get(reverse(name))
        assert b'id="no-detector"' in page.content
        assert b"manage.py install_model" in page.content


def test_result_page_shows_verdict_chart_faces_and_heatmaps(alice_client, finished):
    page = alice_client.get(reverse("detection:analysis_detail", args=[finished.id]))
    assert page.status_code == 200
    html = page.content.decode()
    title = {"manipulated": "Manipulation likely", "no_manipulation": "No manipulation found"}[finished.band]
    assert 'id="verdict"' in html and f'<h2 class="verdict__title">{title}</h2>' in html
    assert html.count('class="chart__dot') == finished.frames_analysed
    assert html.count("/thumbnail.jpg") >= finished.frames_analysed
    assert "Test detector" in html and finished.sha256 in html
    # Heat maps explain "manipulated": shown for the faces that pushed the verdict that way only.
    suspicious = finished.frames.filter(probability_fake__gte=0.5).exclude(heatmap="").count()
    assert html.count("/heatmap.jpg") == 2 * suspicious  # the image and its enlarge button's data


def test_status_endpoint(alice_client, finished):
    data = alice_client.get(reverse("detection:analysis_status", args=[finished.id])).json()
    assert data["status"] == "done" and data["finished"] is True and data["progress"] == 100
    assert data["verdict"] == finished.verdict


def test_files_are_served_to_their_owner_only(alice_client, finished, client, bob):
    for url in owner_urls(finished)[2:]:
        response = alice_client.get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content)
        assert body[:4] in (b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xdb") or body[4:8] == b"ftyp"
        assert response["Cache-Control"] == "private, max-age=3600"
    assert not any(url.startswith(settings.MEDIA_URL) for url in owner_urls(finished))


def test_another_user_gets_404_everywhere(finished, client, bob):
    client.force_login(bob)
    for url in owner_urls(finished):
        assert client.get(url).status_code == 404, url
    for name in ("detection:analysis_delete", "detection:analysis_retry"):
        assert client.post(reverse(name, args=[finished.id])).status_code == 404
    assert Analysis.objects.filter(id=finished.id).exists()
    history = client.get(reverse("detection:analysis_list"))
    assert b"alice-clip.mp4" not in history.content


def test_anonymous_visitors_are_sent_to_sign_in(finished, client):
    for url in owner_urls(finished):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response.url


def test_history_lists_filters_searches_and_sorts(alice_client, alice, detector, face_video_bytes, tmp_path):
    for name in ("interview.mp4", "speech.mp4", "beach.mp4"):
        services.analysis_create(owner=alice, file=upload(face_video_bytes, name), frames=10)
    Analysis.objects.filter(original_name="interview.mp4").update(status="done", verdict="fake", probability_fake=0.9,
                                                                 confidence=0.9)
    Analysis.objects.filter(original_name="speech.mp4").update(status="done", verdict="real", probability_fake=0.2,
                                                              confidence=0.8)
    url = reverse("detection:analysis_list")

    def names(**query):
        page = alice_client.get(url, query)
        assert page.status_code == 200
        return [a.original_name for a in page.context["page"].object_list]

    assert sorted(names()) == ["beach.mp4", "interview.mp4", "speech.mp4"]
    assert names(verdict="fake") == ["interview.mp4"]
    assert names(status="queued") == ["beach.mp4"]
    assert names(q="SPEE") == ["speech.mp4"]
    assert names(sort="most_fake") == ["interview.mp4", "speech.mp4", "beach.mp4"]
    assert names(sort="name") == ["beach.mp4", "interview.mp4", "speech.mp4"]
    assert names(created_from="2000-01-01", created_to="2000-01-02") == []
    empty = alice_client.get(url, {"q": "nothing-like-this"})
    assert b"Nothing matches these filters" in empty.content


def test_history_is_paginated(alice_client, alice, detector, face_video_bytes):
    analysis = services.analysis_create(owner=alice, file=upload(face_video_bytes), frames=10)
    copies = [Analysis(**{f.name: getattr(analysis, f.name) for f in Analysis._meta.fields if f.name != "id"})
              for _ in range(24)]
    Analysis.objects.bulk_create(copies)
    first = alice_client.get(reverse("detection:analysis_list"))
    assert len(first.context["page"].object_list) == 20 and b"Page 1 of 2" in first.content
    second = alice_client.get(reverse("detection:analysis_list"), {"page": 2})
    assert len(second.context["page"].object_list) == 5


def test_empty_history_has_an_empty_state(alice_client):
    page = alice_client.get(reverse("detection:analysis_list"))
    assert b"No analyses yet" in page.content


def test_delete_and_retry_from_the_result_page(alice_client, finished):
    retry = alice_client.post(reverse("detection:analysis_retry", args=[finished.id]))
    assert retry.status_code == 302
    finished.refresh_from_db()
    assert finished.status == "queued" and not finished.frames.exists()
    assert alice_client.get(reverse("detection:analysis_delete", args=[finished.id])).status_code == 405
    response = alice_client.post(reverse("detection:analysis_delete", args=[finished.id]), follow=True)
    assert b"Deleted the analysis" in response.content
    assert not Analysis.objects.exists() and stored_files(settings.MEDIA_ROOT) == []


def test_dashboard_counts_and_recent(alice_client, finished):
    page = alice_client.get(reverse("home"))
    assert page.context["counts"]["total"] == 1
    assert b"alice-clip.mp4" in page.content


def test_video_answers_byte_ranges_so_the_player_can_seek(alice_client, finished, face_video_bytes):
    url = reverse("detection:analysis_video", args=[finished.id])
    size = len(face_video_bytes)
    part = alice_client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 100-199/{size}"
    assert part.content == face_video_bytes[100:200]
    tail = alice_client.get(url, headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.content == face_video_bytes[-50:]
    open_ended = alice_client.get(url, headers={"Range": "bytes=10-"})
    assert open_ended.content == face_video_bytes[10:]
    for not_understood in ("items=1-2", "bytes=-", "bytes=9-5"):
        whole = alice_client.get(url, headers={"Range": not_understood})
        assert whole.status_code == 200 and b"".join(whole.streaming_content) == face_video_bytes
    past_the_end = alice_client.get(url, headers={"Range": "bytes=999999999-"})
    assert past_the_end.status_code == 416 and past_the_end["Content-Range"] == f"bytes */{size}"
    assert part["Accept-Ranges"] == "bytes"
