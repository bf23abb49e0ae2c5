"""One's data: the export zip (JSON and files) and deleting the account with everything in it,
on local disk and on a real S3 server (SeaweedFS); other people's data stays."""

import io
import json
import zipfile

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from accounts.models import ApiToken
from detection.models import Analysis, Batch, FrameResult, UploadLedgerEntry
from sharing.models import ShareLink
from sharing.services import share_link_create
from tests.factories import AnalysisFactory
from tests.helpers import PASSWORD, auth, endpoint_with_log, finished_analysis, stored_files, token_for
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def stored_row(owner, detector, content: bytes, **fields) -> Analysis:
    """A row whose video is really stored, without running anything."""
    analysis = AnalysisFactory.build(owner=owner, detector=detector, **fields)
    analysis.video.name = default_storage.save(analysis.video.name, ContentFile(content))
    analysis.save()
    return analysis


def exported(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.content[:500] if not response.streaming else response.status_code
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    content = b"".join(response.streaming_content)
    assert len(content) == int(response["Content-Length"])
    return zipfile.ZipFile(io.BytesIO(content))


def check_export(archive: zipfile.ZipFile, done: Analysis, queued: Analysis, video: bytes) -> None:
    index = json.loads(archive.read("index.json"))
    assert index["account"]["username"] == "alice"
    assert [entry["id"] for entry in index["analyses"]] == [str(done.id), str(queued.id)]  # oldest first
    entry = index["analyses"][0]
    facts = json.loads(archive.read(entry["analysis"]))
    assert facts["id"] == str(done.id) and facts["verdict"] == done.verdict and facts["status"] == "done"
    assert len(facts["frames"]) == done.frames.count() and facts["file_name"] == done.original_name
    report = json.loads(archive.read(entry["report"]))  # the report's facts too, for a done one
    assert report["schema"] == "dfd-report/1" and report["analysis"]["id"] == str(done.id)
    assert report["verdict"]["probability_fake"] == done.probability_fake
    assert index["analyses"][1]["report"] is None  # still queued: no verdict to report
    frames = list(done.frames.all())
    expected = {done.video.name, done.poster.name, *(f.thumbnail.name for f in frames),
                *(f.heatmap.name for f in frames if f.heatmap)}
    assert set(entry["files"]) == expected and set(archive.namelist()) >= expected
    assert archive.read(done.video.name) == video
    for name in expected - {done.video.name}:
        assert archive.read(name)[:3] == b"\xff\xd8\xff", name  # every face and heat map, as JPEG
    assert index["analyses"][1]["files"] == [queued.video.name]
    assert archive.testzip() is None


def alices_account(alice, detector, face_video_bytes):
    """Alice with a finished analysis (shared by a link), a queued one, a token, a batch and webhooks."""
    done = finished_analysis(alice, face_video_bytes, "interview.mp4")
    queued = stored_row(alice, detector, face_video_bytes, original_name="queued.mp4")
    batch = Batch.objects.create(owner=alice, name="election clips")
    Analysis.objects.filter(id=queued.id).update(batch=batch)
    token = token_for(alice)
    endpoint_with_log(alice)
    share_link_create(analysis=done)
    return done, queued, token


def check_deleted(client, alice, bob_analysis, done) -> None:
    response = client.post("/accounts/delete/", {"password": "not-it"})
    assert response.status_code == 400 and Analysis.objects.filter(owner=alice).count() == 2
    response = client.post("/accounts/delete/", {"password": PASSWORD})
    assert response.status_code == 302 and response.url == "/accounts/login/"
    assert not type(alice).objects.filter(username="alice").exists()
    assert list(Analysis.objects.all()) == [bob_analysis]
    assert not FrameResult.objects.filter(analysis_id=done.id).exists()
    assert not ApiToken.objects.filter(user_id=alice.id).exists() and not Batch.objects.exists()
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()
    assert not ShareLink.objects.exists()
    assert not UploadLedgerEntry.objects.filter(owner_id=alice.id).exists()


def test_export_then_delete_the_account_on_local_disk(client, alice, bob, detector, face_video_bytes):
    done, queued, token = alices_account(alice, detector, face_video_bytes)
    bobs = stored_row(bob, detector, b"bob's video", original_name="bob.mp4")
    client.force_login(alice)
    other_device = type(client)()
    other_device.force_login(alice)

    profile = client.get("/accounts/profile/").content.decode()
    assert 'action="/accounts/export/"' in profile and 'href="/accounts/delete/"' in profile
    check_export(exported(client.post("/accounts/export/")), done, queued, face_video_bytes)
    check_export(exported(client.get("/api/v1/account/export/", headers=auth(token))), done, queued, face_video_bytes)
    assert client.get("/accounts/export/").status_code == 405  # a POST with CSRF: no cross-site starts

    page = client.get("/accounts/delete/").content.decode()
    assert "2 analyses" in page and "1 API token" in page and "1 webhook endpoint" in page
    check_deleted(client, alice, bobs, done)
    assert stored_files(settings.MEDIA_ROOT) == [bobs.video.name]
    # Signed out here and on every other device; the token no longer works.
    assert client.get("/accounts/profile/").status_code == 302
    assert other_device.get("/accounts/profile/").status_code == 302
    assert client.get("/api/v1/analyses/", headers=auth(token)).status_code == 401


@pytest.mark.services
def test_export_then_delete_the_account_on_s3(client, alice, bob, detector, face_video_bytes, s3_storage):
    done, queued, _ = alices_account(alice, detector, face_video_bytes)
    bobs = stored_row(bob, detector, b"bob's video", original_name="bob.mp4")

    def keys():
        listing = s3_storage["client"].list_objects_v2(Bucket=s3_storage["bucket"])
        return sorted(item["Key"] for item in listing.get("Contents", []))

    assert done.poster.name in keys()
    client.force_login(alice)
    check_export(exported(client.post("/accounts/export/")), done, queued, face_video_bytes)
    check_deleted(client, alice, bobs, done)
    assert keys() == [bobs.video.name]
