"""Hostile uploads: what a file claims, fuzzed with hypothesis. Whatever the bytes, an upload
ends as a stored analysis or a DomainError with a message, and a refusal stores nothing."""

import struct

import pytest
from django.conf import settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from detection import services
from detection.models import Analysis
from detection.uploads import declared_frame_size, display_name, sniff_container
from dfdsite.errors import DomainError
from tests import videos
from tests.helpers import stored_files, upload

FUZZ = hypothesis_settings(max_examples=40, deadline=None, derandomize=True,
                           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def test_sniff_container_reads_magic_bytes_not_names():
    assert sniff_container(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00") == "mp4"
    assert sniff_container(b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00") == "mov"
    assert sniff_container(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm") == "webm"
    assert sniff_container(b"RIFF\x00\x00\x00\x00AVI LIST") == "avi"
    assert sniff_container(b"hello, this is text") is None
    assert sniff_container(b"") is None


@pytest.mark.parametrize("codec", ["mp4v", "mjpg", "vp8", "ffv1"])
def test_declared_frame_size_of_real_videos(tmp_path, codec):
    path = videos.face_video(tmp_path / f"clip{videos.CODECS[codec][1]}", width=320, height=240, codec=codec)
    container = sniff_container(path.read_bytes()[:64])
    assert declared_frame_size(path, container) == (320, 240)


def claim_size(path, width: int, height: int) -> bytes:
    """The same MP4 with its track and sample entry headers claiming another frame size."""
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    size = struct.unpack(">I", data[at - 4: at])[0]
    data[at - 4 + size - 8: at - 4 + size] = struct.pack(">II", width << 16, height << 16)
    at = data.find(b"stsd")
    data[at + 4 + 8 + 32: at + 4 + 8 + 36] = struct.pack(">HH", width, height)
    return bytes(data)


@pytest.mark.django_db
def test_a_small_file_claiming_huge_frames_is_refused_before_decoding(alice, detector, tmp_path):
    content = claim_size(videos.face_video(tmp_path / "small.mp4"), 60000, 60000)
    assert len(content) < 200_000
    with pytest.raises(DomainError) as error:
        services.analysis_create(owner=alice, file=upload(content))
    assert error.value.code == "too_many_pixels"
    assert "60000x60000" in error.value.message  # the header's claim, not a decoded size
    assert not Analysis.objects.exists() and stored_files(settings.MEDIA_ROOT) == []


def assert_stored_or_refused(alice, content: bytes, name: str):
    before = Analysis.objects.count()
    try:
        analysis = services.analysis_create(owner=alice, file=upload(content, name))
    except DomainError as error:
        assert error.message.strip() and error.field == "file"
        assert Analysis.objects.count() == before
        assert len(stored_files(settings.MEDIA_ROOT)) == before
        return None
    assert analysis.video.name == f"analyses/{analysis.id}/video.{analysis.container}".replace(".mov", ".mov")
    assert "/" not in analysis.original_name and "\\" not in analysis.original_name
    services.analysis_delete(analysis=analysis)
    return analysis


@pytest.mark.django_db
@FUZZ
@given(content=st.binary(max_size=4096))
def test_random_bytes(alice, detector, content):
    assert assert_stored_or_refused(alice, content, "random.mp4") is None


@pytest.fixture(scope="module")
def real_video(tmp_path_factory) -> bytes:
    return videos.face_video(tmp_path_factory.mktemp("fuzz") / "real.mp4", seconds=0.6).read_bytes()


@pytest.mark.django_db
@FUZZ
@given(data=st.data())
def test_truncated_and_mutated_real_videos(alice, detector, real_video, data):
    content = bytearray(real_video[: data.draw(st.integers(0, len(real_video)), label="cut")])
    for _ in range(data.draw(st.integers(0, 8), label="mutations")):
        if content:
            content[data.draw(st.integers(0, len(content) - 1))] = data.draw(st.integers(0, 255))
    assert_stored_or_refused(alice, bytes(content), "mutated.mp4")


@pytest.mark.django_db
@FUZZ
@given(prefix=st.sampled_from([b"%PDF-1.7\n", b"GIF89a", b"\x89PNG\r\n\x1a\n", b"PK\x03\x04", b"<?xml "]))
def test_polyglots_are_judged_by_their_first_bytes(alice, detector, real_video, prefix):
    # A video behind another format's magic bytes is not a video we accept.
    assert assert_stored_or_refused(alice, prefix + real_video, "polyglot.mp4") is None


@FUZZ
@given(name=st.text(max_size=600))
def test_display_names_are_bare_printable_and_bounded(name):
    for candidate in (name, f"../../{name}", f"C:\\Windows\\{name}", f"{name}\x00.mp4", f"{name}/"):
        shown = display_name(candidate)
        assert 0 < len(shown) <= 255 and shown.isprintable()
        assert "/" not in shown and "\\" not in shown and shown.strip(".")
    assert display_name("..") == display_name("a/..") == display_name("") == "video"


@pytest.mark.django_db
def test_unicode_and_traversal_names_through_the_upload_form(alice_client, detector, real_video):
    for name in ("../../../etc/passwd.mp4", "vidéo 東京 🎬.mp4", "..\\..\\boot.ini.mp4"):
        response = alice_client.post("/analyses/new/", {"file": upload(real_video, name), "frames": 10,
                                                        "strategy": "uniform"})
        assert response.status_code == 302
    names = sorted(Analysis.objects.values_list("original_name", flat=True))
    assert names == sorted(["passwd.mp4", "vidéo 東京 🎬.mp4", "boot.ini.mp4"])
    assert all(f.startswith("analyses/") for f in stored_files(settings.MEDIA_ROOT))
