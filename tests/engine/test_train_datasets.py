"""Dataset layouts the trainer reads, and the grouped split (file trees made at test time)."""

import json

import pytest

from detection.engine.datasets import detect_layout, grouped_split, load_samples


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")


def test_faceforensics_layout_with_its_official_split_lists(tmp_path):
    root = tmp_path / "ffpp"
    for vid in ("000", "003", "100", "200"):
        touch(root / "original_sequences/youtube/c23/videos" / f"{vid}.mp4")
    for method in ("Deepfakes", "FaceSwap"):
        touch(root / "manipulated_sequences" / method / "c23/videos/000_003.mp4")
        touch(root / "manipulated_sequences" / method / "c23/videos/100_200.mp4")
    (root / "splits").mkdir()
    (root / "splits/train.json").write_text(json.dumps([["000", "003"]]))
    (root / "splits/test.json").write_text(json.dumps([["100", "200"]]))

    assert detect_layout(root) == "faceforensics"
    samples = load_samples(root)
    assert len(samples) == 8
    fakes = [s for s in samples if s.label == "fake"]
    assert {s.method for s in fakes} == {"Deepfakes", "FaceSwap"}
    assert {s.split for s in samples if "100" in s.path or "200" in s.path} == {"test"}
    train, held = grouped_split(samples, 0.2)
    assert {s.split for s in held} == {"test"} and {s.split for s in train} == {"train"}
    assert next(s for s in fakes if "000_003" in s.path).group == "ffpp:000"


def test_celebdf_layout_with_its_testing_list(tmp_path):
    root = tmp_path / "celebdf"
    touch(root / "Celeb-real/id0_0000.mp4")
    touch(root / "Celeb-real/id1_0000.mp4")
    touch(root / "YouTube-real/00000.mp4")
    touch(root / "Celeb-synthesis/id0_id1_0000.mp4")
    touch(root / "Celeb-synthesis/id1_id0_0000.mp4")
    (root / "List_of_testing_videos.txt").write_text("1 Celeb-real/id1_0000.mp4\n0 Celeb-synthesis/id1_id0_0000.mp4\n")

    samples = load_samples(root)
    assert detect_layout(root) == "celebdf"
    by_name = {s.path.rsplit("/", 1)[-1]: s for s in samples}
    assert by_name["id1_0000.mp4"].split == "test" and by_name["id0_0000.mp4"].split == "train"
    assert by_name["id0_id1_0000.mp4"].group == "celebdf:id0" and by_name["id0_id1_0000.mp4"].label == "fake"
    assert by_name["00000.mp4"].group == "celebdf:yt00000"


def test_real_fake_folders_group_by_subfolder(tmp_path):
    root = tmp_path / "folders"
    touch(root / "real/clip.mp4")
    touch(root / "real/person1/frame1.png")
    touch(root / "real/person1/frame2.png")
    touch(root / "fake/swap.avi")
    touch(root / "fake/notes.txt")
    samples = load_samples(root)
    assert len(samples) == 4
    frames = [s for s in samples if s.kind == "image"]
    assert {s.group for s in frames} == {"real/person1"} and frames[0].unit == frames[1].unit


def test_manifest_corpus_layout(tmp_path):
    root = tmp_path / "corpus"
    touch(root / "images/real/a.png")
    touch(root / "images/fake/b.png")
    (root / "manifest.csv").write_text(
        "file,label,kind,source_repo,manipulation_method,source_video_id\n"
        "images/real/a.png,real,image,x/y,none (original),v1\n"
        "images/fake/b.png,fake,image,x/y,face swap (paired with a.png),v2\n"
    )
    (root / "manifest_extra.csv").write_text("file,group_id,decode_ok\nimages/real/a.png,g1,True\nimages/fake/b.png,g1,True\n")
    samples = load_samples(root)
    assert [(s.label, s.method, s.group, s.source) for s in samples] == [
        ("real", "none", "g1", "x/y"), ("fake", "face swap", "g1", "x/y")]


def test_groups_never_straddle_the_split_and_mixed_groups_are_held_out_first(tmp_path):
    from detection.engine.datasets import Sample

    samples = [Sample(f"/{g}/{label}{i}", label, "image", "src", "", g, g)
               for g in ("a", "b", "c", "d", "e") for label in ("real", "fake") for i in range(2)]
    samples += [Sample(f"/only/{i}", "real", "image", "src", "none", "only-real", "o") for i in range(3)]
    for seed in range(5):
        train, val = grouped_split(samples, 0.2, seed)
        assert not {s.group for s in train} & {s.group for s in val}
        assert {s.label for s in val} == {"real", "fake"}
    with pytest.raises(ValueError):
        grouped_split(samples, 1.5)


def test_unknown_folder_is_a_clear_error(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(ValueError, match="not a dataset"):
        load_samples(tmp_path / "x")
