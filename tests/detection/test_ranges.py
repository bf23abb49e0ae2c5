"""Range headers that cannot be honoured (finding 6): 416 before any file is opened."""

import os

import pytest
from django.urls import reverse

from tests.helpers import finished_analysis

pytestmark = pytest.mark.django_db
NINES = "9" * 4400  # past Python's limit of 4,300 digits for int()


@pytest.fixture
def finished(alice, detector, face_video_bytes):
    return finished_analysis(alice, face_video_bytes, "alice-clip.mp4")


def file_urls(analysis):
    return [reverse("detection:analysis_video", args=[analysis.id]), f"/api/v1/analyses/{analysis.id}/video/",
            reverse("detection:analysis_poster", args=[analysis.id]), f"/api/v1/analyses/{analysis.id}/poster/"]


def open_handles() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("header", [f"bytes={NINES}-", f"bytes={NINES}-{NINES}", "bytes=1" + "0" * 30 + "-"])
def test_a_range_past_any_file_is_416_and_opens_nothing(alice_client, finished, monkeypatch, header):
    """Finding 6: 4,400 nines gave a 500, on pages and the API alike, and left handles open."""
    from django.core.files.storage import FileSystemStorage

    opened = []
    monkeypatch.setattr(FileSystemStorage, "open", lambda self, name, *args, **kwargs: opened.append(name))
    for url in file_urls(finished):
        response = alice_client.get(url, headers={"Range": header})
        assert response.status_code == 416, (url, response.status_code)
        assert response["Content-Range"].startswith("bytes */")
    assert opened == []


def test_a_suffix_longer_than_any_file_is_the_whole_file(alice_client, finished, face_video_bytes):
    response = alice_client.get(file_urls(finished)[0], headers={"Range": f"bytes=-{NINES}"})
    assert response.status_code == 206 and response.content == face_video_bytes


def test_many_hostile_ranges_leave_no_handle_open(alice_client, finished):
    urls = file_urls(finished)
    alice_client.get(urls[0], headers={"Range": "bytes=0-10"})  # warm up: imports, connections
    before = open_handles()
    for number in range(140):
        response = alice_client.get(urls[number % 4], headers={"Range": f"bytes={NINES}-"})
        assert response.status_code == 416
    for number in range(20):  # and well-formed ones, served
        response = alice_client.get(urls[number % 4], headers={"Range": "bytes=0-99"})
        assert response.status_code == 206
    assert open_handles() <= before
