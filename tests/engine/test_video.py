import math
import shutil
import threading

import numpy as np
import pytest

from detection.engine import video
from detection.engine.errors import VideoError
from tests import videos

SIZES = [(320, 240), (640, 480), (240, 320)]  # landscape and portrait


@pytest.mark.parametrize("codec", list(videos.CODECS))
@pytest.mark.parametrize("fps", [10, 24, 30])
def test_probe_reads_codecs_and_frame_rates(tmp_path, codec, fps):
    path = videos.face_video(tmp_path / f"clip{videos.CODECS[codec][1]}", fps=fps, seconds=1.0, codec=codec)

    info = video.probe(path)

    assert info.fps == pytest.approx(fps, rel=1e-3)
    assert info.frame_count == fps
    assert info.duration == pytest.approx(1.0, rel=1e-3)
    assert (info.width, info.height) == (320, 240)
    assert info.rotation == 0
    assert not info.fps_guessed and not info.frame_count_counted


@pytest.mark.parametrize("width,height", SIZES)
def test_read_frames_returns_bgr_frames_at_the_sampled_indices(tmp_path, width, height):
    path = videos.face_video(
        tmp_path / "clip.avi", width=width, height=height, fps=25, seconds=2, codec="mjpg"
    )
    info = video.probe(path)
    indices = video.sample_indices(info.frame_count, 20, "uniform")

    frames = video.read_frames(path, indices)

    assert [f.index for f in frames] == indices
    for frame in frames:
        assert frame.image.shape == (height, width, 3)
        assert frame.image.dtype == np.uint8
        assert frame.timestamp == pytest.approx(frame.index / 25, abs=1e-3)


def test_frames_stay_bgr(tmp_path):
    """A pure blue frame written by OpenCV comes back with its blue in channel 0."""
    blue = np.zeros((240, 320, 3), np.uint8)
    blue[..., 0] = 255
    path = videos.write_video(tmp_path / "blue.avi", [blue] * 3, codec="mjpg")

    (frame,) = video.read_frames(path, [1])

    assert frame.image[..., 0].mean() > 200
    assert frame.image[..., 2].mean() < 50


def test_read_frames_ignores_duplicates_order_and_indices_past_the_end(face_clip):
    frames = video.read_frames(face_clip, [5, 1, 1, 500, -3])
    assert [f.index for f in frames] == [1, 5]


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotated_video_is_returned_upright(tmp_path, rotation):
    from detection.engine.faces import FaceDetector

    path = videos.rotated_face_video(tmp_path / "phone.mp4", rotation, width=240, height=320)

    info = video.probe(path)
    frames = video.read_frames(path, video.sample_indices(info.frame_count, 10))

    assert info.rotation == rotation
    assert (info.width, info.height) == (240, 320)
    assert all(f.image.shape == (320, 240, 3) for f in frames)
    # HOG only finds upright faces: a sideways or upside-down frame would have none.
    detector = FaceDetector()
    assert sum(detector.locate(f.image) is not None for f in frames) >= 9


def test_one_frame_video(tmp_path):
    path = videos.face_video(tmp_path / "one.mp4", frame_count=1)

    info = video.probe(path)
    frames = video.read_frames(path, video.sample_indices(info.frame_count, 20))

    assert info.frame_count == 1
    assert [f.index for f in frames] == [0]


@pytest.mark.parametrize("announced", [0, 10**9])
def test_unusable_header_frame_count_falls_back_to_counting(tmp_path, announced):
    path = videos.face_video(tmp_path / "clip.avi", codec="mjpg", fps=25, seconds=1)
    videos.set_avi_frame_count(path, announced)

    info = video.probe(path)

    assert info.frame_count == 25
    assert info.frame_count_counted


def test_destroyed_mp4_header_still_yields_frames_with_a_counted_frame_count(tmp_path, face_clip):
    """FFmpeg finds the index at the end of the file but reports an absurd frame count."""
    path = videos.corrupt_header_copy(face_clip, tmp_path / "damaged.mp4", size=64)

    info = video.probe(path)
    frames = video.read_frames(path, video.sample_indices(info.frame_count, 10))

    assert info.frame_count_counted
    assert 0 < info.frame_count <= 38
    assert len(frames) == 10


def test_truncated_avi_returns_the_frames_that_exist(tmp_path):
    """The header announces 50 frames; only the first part of the file is there."""
    source = videos.face_video(tmp_path / "full.avi", codec="mjpg", fps=25, seconds=2)
    path = videos.truncated_copy(source, tmp_path / "cut.avi", 0.5)

    info = video.probe(path)
    frames = video.read_frames(path, range(info.frame_count))

    assert info.frame_count == 50  # the header's claim
    assert 10 < len(frames) < 50
    assert [f.index for f in frames] == list(range(len(frames)))
    assert video.count_frames(path) == len(frames)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d, src: videos.zero_byte_file(d / "empty.mp4"), "empty"),
        (lambda d, src: videos.text_file(d / "notes.mp4"), "could not be opened"),
        (lambda d, src: videos.random_bytes_file(d / "noise.mp4"), "could not be opened"),
        (lambda d, src: videos.truncated_copy(src, d / "half.mp4", 0.5), "could not be opened"),
        (
            lambda d, src: videos.corrupt_header_copy(src.with_suffix(".avi"), d / "bad.avi"),
            "could not be opened",
        ),
        (lambda d, src: d / "missing.mp4", "does not exist"),
        (lambda d, src: d, "not a file"),
    ],
    ids=["zero-byte", "text", "random-bytes", "truncated-mp4", "corrupt-avi", "missing", "directory"],
)
def test_unreadable_input_raises_video_error(tmp_path, make, message):
    source = videos.face_video(tmp_path / "source.mp4")
    videos.face_video(tmp_path / "source.avi", codec="mjpg")
    target = tmp_path / "case"
    target.mkdir()
    path = make(target, source)

    with pytest.raises(VideoError, match=message) as caught:
        video.probe(path)
    text = str(caught.value)
    assert text.endswith(".") and text[0].isupper()
    assert str(tmp_path) not in text  # messages are shown to people; temp paths mean nothing to them


def test_read_frames_also_raises_video_error_for_non_videos(tmp_path):
    with pytest.raises(VideoError):
        video.read_frames(videos.text_file(tmp_path / "x.mp4"), [0])


def test_uniform_sampling_spreads_over_the_whole_video():
    indices = video.sample_indices(250, 20, "uniform")

    assert len(indices) == len(set(indices)) == 20
    assert indices == sorted(indices)
    assert indices[0] < 250 / 20 and indices[-1] >= 250 - 250 / 20
    assert indices[-1] < 249  # never the last frame, which some containers cannot decode
    gaps = np.diff(indices)
    assert gaps.min() >= 12 and gaps.max() <= 13


def test_contiguous_sampling_takes_the_first_frames():
    assert video.sample_indices(250, 20, "contiguous") == list(range(20))


@pytest.mark.parametrize("strategy", ["uniform", "contiguous"])
def test_short_videos_give_all_their_frames(strategy):
    assert video.sample_indices(7, 20, strategy) == list(range(7))
    assert video.sample_indices(0, 20, strategy) == []


def test_sampling_rejects_bad_arguments():
    with pytest.raises(ValueError, match="at least 1"):
        video.sample_indices(100, 0)
    with pytest.raises(ValueError, match="unknown sampling strategy"):
        video.sample_indices(100, 10, "random")


def test_header_sanity_rules():
    assert video._sane_fps(29.97) == (29.97, False)
    for bad in (0.0, -1.0, math.nan, math.inf, 90000.0):
        assert video._sane_fps(bad) == (video.DEFAULT_FPS, True)
    assert video._plausible_frame_count(250, 25.0, 10**6)
    for bad in (0, -1.9e14, math.nan, 10**9):
        assert not video._plausible_frame_count(bad, 25.0, 10**6)
    assert not video._plausible_frame_count(5000, 25.0, 4000)  # more frames than bytes


def test_probe_does_not_modify_the_file(tmp_path, face_clip):
    path = tmp_path / "copy.mp4"
    shutil.copy(face_clip, path)
    before = path.read_bytes()
    video.probe(path)
    video.read_frames(path, [0, 3])
    assert path.read_bytes() == before


# -- seeking: frames reached by jumping to a keyframe are the frames sequential decoding gives --

SEEK_CASES = {
    # name: (builder, whether the seeking reader is expected to serve it)
    "h264-gop25-bframes": (
        lambda d: videos.write_h264(d / "h.mp4", videos.face_frames(320, 240, 130), gop=25, bframes=3),
        True,
    ),
    "h264-gop25-no-bframes": (
        lambda d: videos.write_h264(d / "p.mp4", videos.face_frames(320, 240, 130), gop=25, bframes=0),
        True,
    ),
    "mp4v": (lambda d: videos.face_video(d / "c.mp4", seconds=4), True),
    "mjpg-avi": (lambda d: videos.face_video(d / "c.avi", seconds=4, codec="mjpg"), True),
    "xvid-avi": (lambda d: videos.face_video(d / "c.avi", seconds=4, codec="xvid"), True),
    "vp8-webm": (lambda d: videos.face_video(d / "c.webm", seconds=4, codec="vp8"), True),
    "ffv1-mkv": (lambda d: videos.face_video(d / "c.mkv", seconds=4, codec="ffv1"), False),  # RGB: sequential
    "rotated-mp4": (lambda d: videos.rotated_face_video(d / "r.mp4", 90, seconds=4), True),
}


@pytest.fixture
def sequential_calls(monkeypatch):
    """The index lists the sequential reader was asked for."""
    calls = []
    real = video._iter_sequential

    def recording(path, wanted):
        calls.append(list(wanted))
        return real(path, wanted)

    monkeypatch.setattr(video, "_iter_sequential", recording)
    return calls


@pytest.mark.parametrize("case", list(SEEK_CASES))
def test_seeking_gives_exactly_the_frames_of_sequential_decoding(tmp_path, case, sequential_calls):
    if case.startswith("h264") and not videos.h264_available():
        pytest.skip("PyAV with libx264 is not installed")
    build, served_by_seeking = SEEK_CASES[case]
    path = build(tmp_path)
    info = video.probe(path)
    everything = {f.index: f for f in video.read_frames(path, range(info.frame_count), seek=False)}
    assert len(everything) == info.frame_count
    sequential_calls.clear()
    last = info.frame_count - 1
    index_sets = [
        video.sample_indices(info.frame_count, 10),
        [0, 1, 2, 40, 41, 77, last],  # runs, jumps across keyframes, the very last frame
        [26, 27, 60, 99],  # frames just past a keyframe, mid-GOP, and before one
        [last - 3, 5],  # order does not matter
    ]

    for indices in index_sets:
        frames = video.read_frames(path, indices, seek=True)

        assert [f.index for f in frames] == sorted(set(indices))
        for frame in frames:
            reference = everything[frame.index]
            assert np.array_equal(frame.image, reference.image), f"frame {frame.index} differs"
            assert frame.timestamp == pytest.approx(reference.timestamp, abs=1e-6)
    if served_by_seeking:
        assert all(call == [] for call in sequential_calls)
    else:
        assert sequential_calls


def test_default_seeks_for_sparse_frames_and_reads_dense_ones_sequentially(tmp_path, sequential_calls):
    path = videos.face_video(tmp_path / "clip.mp4", seconds=4)

    video.read_frames(path, video.sample_indices(100, 10))
    assert all(call == [] for call in sequential_calls)

    video.read_frames(path, range(20))  # the contiguous strategy: nothing to skip
    assert sequential_calls[-1] == list(range(20))

    video.read_frames(path, video.sample_indices(100, 10), seek=False)
    assert sequential_calls[-1] == video.sample_indices(100, 10)


def test_a_frame_not_where_the_index_says_hands_over_to_sequential_decoding(
    tmp_path, monkeypatch, sequential_calls
):
    path = videos.face_video(tmp_path / "clip.mp4", seconds=4)
    wanted = [3, 30, 60, 90]
    expected = video.read_frames(path, wanted, seek=False)
    real_build = video._SeekIndex.build

    def lying_build(p):
        index = real_build(p)
        # from frame 50 on, the index is off by one frame
        index.pts = index.pts[:50] + [pts + 1 for pts in index.pts[50:]]
        index.index_of = {pts: i for i, pts in enumerate(index.pts)}
        return index

    monkeypatch.setattr(video._SeekIndex, "build", staticmethod(lying_build))

    frames = video.read_frames(path, wanted)

    assert [f.index for f in frames] == wanted
    assert all(np.array_equal(a.image, b.image) for a, b in zip(frames, expected, strict=True))
    assert sequential_calls[-1] == [60, 90]  # what the seeking reader could not vouch for


def test_seeking_stops_quietly_past_the_end(tmp_path):
    path = videos.face_video(tmp_path / "clip.mp4", seconds=2)

    frames = video.read_frames(path, [10, 40, 49, 50, 500], seek=True)

    assert [f.index for f in frames] == [10, 40, 49]


def test_a_caller_that_stops_early_stops_the_second_decoder(tmp_path):
    path = videos.face_video(tmp_path / "clip.mp4", seconds=4)
    frames = video.iter_frames(path, video.sample_indices(100, 10))

    first = next(frames)
    frames.close()  # what a cancelled analysis does

    assert first.index == video.sample_indices(100, 10)[0]
    assert not [t for t in threading.enumerate() if t.daemon and t.is_alive() and "read_later" in repr(t)]
