"""A photo judged by a real Celery worker on Redis: every face gets its own score, box, face
and heat map, and the photo's verdict is its most suspicious face."""

import pytest

from detection import services
from detection.models import Analysis
from tests import stills
from tests.helpers import token_for, upload, wait_for_status

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_a_worker_judges_every_face_of_a_photo(client, alice, detector, start_worker):
    start_worker()
    headers = {"HTTP_AUTHORIZATION": f"Token {token_for(alice)}"}
    photo = stills.encode(stills.face_photo(faces=2), ".jpg")
    response = client.post("/api/v1/analyses/", {"file": upload(photo, "two.jpg")}, **headers)
    assert response.status_code == 202, response.content[:2000]
    analysis = wait_for_status(Analysis.objects.get(), {"done", "failed"})
    assert analysis.status == "done", analysis.error_message

    frames = list(analysis.frames.order_by("index"))
    assert [f.index for f in frames] == [0, 1] and {f.timestamp for f in frames} == {0.0}
    left, right = (f.box for f in frames)
    assert left["x"] + left["width"] <= 320 <= right["x"], (left, right)  # one box per head, in reading order
    assert all(60 <= box["width"] <= 200 for box in (left, right))
    top = max(frames, key=lambda f: f.probability_fake)
    assert analysis.probability_fake == pytest.approx(top.probability_fake)
    assert analysis.verdict == ("fake" if top.probability_fake >= 0.5 else "real") and analysis.band
    assert analysis.poster.name == top.thumbnail.name and all(f.heatmap for f in frames)
    assert analysis.frames_analysed == 2 and analysis.media_kind == "image"

    body = client.get(f"/api/v1/analyses/{analysis.id}/", **headers).json()
    assert body["media_kind"] == "image" and len(body["frames"]) == 2
    face = client.get(body["frames"][1]["thumbnail_url"], **headers)
    assert face.status_code == 200 and b"".join(face.streaming_content)[:3] == b"\xff\xd8\xff"


def test_a_photo_without_a_face_is_no_face(alice, detector):
    image = stills.encode(stills.background(400, 300, 0.2), ".png")
    analysis = services.analysis_create(owner=alice, file=upload(image, "wall.png"))
    analysis = services.analysis_run(analysis_id=analysis.id)
    assert (analysis.status, analysis.verdict, analysis.probability_fake) == ("done", "no_face", None)
    assert not analysis.frames.exists() and analysis.poster.name == ""
