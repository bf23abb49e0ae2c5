"""Per-person limits that retries and deletions cannot get around (findings 3 and 4). The race
of parallel uploads against a live server is in tests/faults/test_abuse_live.py."""

import pytest
from django.urls import reverse

from detection.models import Analysis, UploadLedgerEntry
from tests.factories import AnalysisFactory
from tests.helpers import assert_error, upload

pytestmark = pytest.mark.django_db
URL = "/api/v1/analyses/"


def retry(api, analysis):
    return api.post(f"{URL}{analysis.id}/retry/")


def test_retries_count_against_the_running_limit(api, alice, detector, settings):
    """Finding 3: twelve retries of finished analyses were all queued, past the limit of 5."""
    finished = AnalysisFactory.create_batch(12, owner=alice, detector=detector, status=Analysis.Status.DONE,
                                            verdict="real", probability_fake=0.2)
    answers = [retry(api, analysis).status_code for analysis in finished]
    assert answers == [202] * 5 + [429] * 7
    assert Analysis.objects.filter(owner=alice, status=Analysis.Status.QUEUED).count() == 5
    error = assert_error(retry(api, finished[-1]), 429, "too_many_running")
    assert "5 analyses waiting or running" in error["message"]
    refused = Analysis.objects.get(id=finished[-1].id)
    assert (refused.status, refused.verdict) == ("done", "real")  # a refused retry changes nothing


def test_retries_count_against_the_daily_limit(api, alice, detector, settings, face_video_bytes):
    settings.DFD_MAX_UPLOADS_PER_DAY = 3
    finished = AnalysisFactory.create_batch(3, owner=alice, detector=detector, status=Analysis.Status.FAILED)
    assert api.post(URL, {"file": upload(face_video_bytes)}).status_code == 202
    assert [retry(api, analysis).status_code for analysis in finished] == [202, 202, 429]
    assert_error(retry(api, finished[2]), 429, "daily_limit")
    assert sorted(UploadLedgerEntry.objects.values_list("kind", flat=True)) == ["retry", "retry", "upload"]


def test_a_retry_of_a_running_analysis_is_still_a_conflict(api, alice, detector):
    running = AnalysisFactory(owner=alice, detector=detector, status=Analysis.Status.PROCESSING)
    assert_error(retry(api, running), 409, "running")
    assert not UploadLedgerEntry.objects.exists()  # the refused retry took nothing from the limits


def test_deleting_analyses_does_not_reset_the_daily_limit(api, alice, detector, settings, face_video_bytes):
    """Finding 4: with a limit of 3, deleting after each upload let 6 (and more) in."""
    settings.DFD_MAX_UPLOADS_PER_DAY = 3
    answers = []
    for _ in range(6):
        response = api.post(URL, {"file": upload(face_video_bytes)})
        answers.append(response.status_code)
        if response.status_code == 202:
            assert api.delete(f"{URL}{response.json()['id']}/").status_code == 204
    assert answers == [202, 202, 202, 429, 429, 429]
    assert not Analysis.objects.exists() and UploadLedgerEntry.objects.filter(owner=alice).count() == 3


def test_the_ledger_counts_the_last_24_hours(api, alice, detector, settings, face_video_bytes):
    from datetime import timedelta

    from django.utils import timezone

    settings.DFD_MAX_UPLOADS_PER_DAY = 1
    old = UploadLedgerEntry.objects.create(owner=alice, kind="upload",
                                           created_at=timezone.now() - timedelta(days=1, minutes=1))
    assert api.post(URL, {"file": upload(face_video_bytes)}).status_code == 202
    assert not UploadLedgerEntry.objects.filter(id=old.id).exists()  # pruned: the ledger stays a day deep
    assert_error(api.post(URL, {"file": upload(face_video_bytes)}), 429, "daily_limit")


def test_the_retry_button_says_when_a_limit_is_reached(alice_client, alice, detector, settings):
    settings.DFD_MAX_RUNNING_PER_USER = 1
    AnalysisFactory(owner=alice, detector=detector)  # queued
    finished = AnalysisFactory(owner=alice, detector=detector, status=Analysis.Status.DONE)
    page = alice_client.post(reverse("detection:analysis_retry", args=[finished.id]), follow=True)
    assert page.status_code == 200 and b"You already have 1 analyses waiting or running" in page.content
