"""Manifest builders on small folders laid out as each data set ships (no real data needed)."""

import json

import pytest

from marlinflow import datasets
from marlinflow.config import validate_config
from marlinflow.datasets import build_manifest
from marlinflow.downstream.splits import split_of
from marlinflow.errors import InputError

GATED = {name: dataset for name, dataset in datasets.registered().items() if dataset.gate}


def dataset_config(builder, root=None, **extra):
    return validate_config({"dataset": {"builder": builder, "root": root and str(root), **extra}})[
        "dataset"
    ]


def touch(path, text=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize("builder", sorted(GATED))
def test_missing_download_says_what_and_where(tmp_path, builder):
    with pytest.raises(InputError) as err:
        build_manifest(dataset_config(builder))
    gate = GATED[builder].gate
    assert gate.page in str(err.value) and "dataset.root" in str(err.value)
    with pytest.raises(InputError) as err:
        build_manifest(dataset_config(builder, tmp_path))
    assert str(tmp_path / gate.expect) in str(err.value)
    assert gate.how in str(err.value)


def test_youtube_faces_identity_disjoint_and_natural_order(tmp_path):
    for person in ("Aaron_Eckhart", "Abel_Pacheco", "Zico"):
        for video in (10, 2, 1):
            touch(tmp_path / "frame_images_DB" / person / str(video) / "0.1.jpg")
    table = build_manifest(dataset_config("youtube_faces", tmp_path))
    assert len(table) == 9
    assert table[table.identity == "Zico"]["id"].tolist() == ["Zico__1", "Zico__2", "Zico__10"]
    assert table.groupby("identity")["split"].nunique().max() == 1
    assert table["group"].tolist() == table["identity"].tolist()  # pretraining holds out people
    assert table["source"][0] == "frame_images_DB/Aaron_Eckhart/1"


def test_celebv_hq_labels_and_times(tmp_path):
    clip = {
        "ytb_id": "-0SqUd4M4Dg",
        "duration": {"start_sec": 1.5, "end_sec": 6.0},
        "attributes": {
            "appearance": [1, 0] * 20,
            "action": [0] * 34 + [1],
            "emotion": {"sep_flag": False, "labels": "happy"},
        },
    }
    touch(tmp_path / "celebvhq_info.json", json.dumps({"clips": {"-0SqUd4M4Dg_0": clip}}))
    row = build_manifest(dataset_config("celebv_hq", tmp_path)).iloc[0]
    assert (row["id"], row["source"], row["start"], row["end"]) == (
        "-0SqUd4M4Dg_0",
        "-0SqUd4M4Dg",
        1.5,
        6.0,
    )
    assert "appearance" not in row  # task labels come from the data set's tasks
    touch(tmp_path / "celebvhq_info.json", "{}")
    with pytest.raises(InputError, match="not CelebV-HQ metadata"):
        build_manifest(dataset_config("celebv_hq", tmp_path))


def test_voxceleb2_speaker_disjoint(tmp_path):
    for part, speaker in (("dev", "id00012"), ("dev", "id00015"), ("test", "id00017")):
        touch(tmp_path / part / "mp4" / speaker / "21Uxsk56VDQ" / "00001.mp4")
    table = build_manifest(dataset_config("voxceleb2", tmp_path)).set_index("identity")
    assert table.loc["id00017", "split"] == "test"
    assert table.loc["id00012", "id"] == "id00012__21Uxsk56VDQ__00001"
    assert table.loc["id00017", "group"] == "id00017"


def test_faceforensics_follows_official_pair_splits(tmp_path):
    for split, pair in (
        ("train", ["071", "054"]),
        ("val", ["001", "002"]),
        ("test", ["003", "004"]),
    ):
        touch(tmp_path / "splits" / f"{split}.json", json.dumps([pair]))
    touch(tmp_path / "original_sequences/youtube/c23/videos/071.mp4")
    touch(tmp_path / "original_sequences/youtube/c23/videos/003.mp4")
    touch(tmp_path / "manipulated_sequences/Deepfakes/c23/videos/054_071.mp4")
    touch(tmp_path / "manipulated_sequences/Deepfakes/c40/videos/003_004.mp4")
    table = build_manifest(dataset_config("faceforensics", tmp_path)).set_index("id")
    assert table.loc["Deepfakes__054_071", ["split", "fake"]].tolist() == ["train", 1]
    assert table.loc["original__003", ["split", "fake"]].tolist() == ["test", 0]
    assert "Deepfakes__003_004" not in table.index  # c40 was not asked for
    touch(tmp_path / "original_sequences/youtube/c23/videos/999.mp4")
    with pytest.raises(InputError, match="none of the split files"):
        build_manifest(dataset_config("faceforensics", tmp_path))


def test_cmu_mosei_and_dfew(tmp_path):
    touch(tmp_path / "mosei/Raw/Videos/Full/Combined/-3g5yACwYnA.mp4")
    mosei = build_manifest(dataset_config("cmu_mosei", tmp_path / "mosei"))
    assert mosei["source"].tolist() == ["Raw/Videos/Full/Combined/-3g5yACwYnA.mp4"]
    dfew = tmp_path / "dfew"
    touch(dfew / "Clip/original/00001.avi")
    touch(dfew / "EmoLabel_DataSplit/train(single-labeled)/set_2.csv", "video_name,label\n1,1\n")
    touch(dfew / "EmoLabel_DataSplit/test(single-labeled)/set_2.csv", "video_name,label\n2,7\n")
    table = build_manifest(dataset_config("dfew", dfew, fold=2)).set_index("id")
    assert table.loc["dfew00002", ["split", "emotion"]].tolist() == ["test", "fear"]
    assert table.loc["dfew00001", "emotion"] == "happy"
    with pytest.raises(InputError, match="set_1.csv"):
        build_manifest(dataset_config("dfew", dfew, fold=1))


def test_user_manifest_and_limit(tmp_path):
    touch(tmp_path / "m.tsv", "id\tsource\tsplit\nb\tb.mp4\ttrain\na\ta.mp4\ttest\nc\tc.mp4\tval\n")
    table = build_manifest(dataset_config("manifest", manifest=str(tmp_path / "m.tsv"), limit=2))
    assert table["id"].tolist() == ["a", "b"]
    with pytest.raises(InputError, match="dataset.manifest"):
        build_manifest(dataset_config("manifest"))


def test_splits_are_stable_and_proportionate():
    splits = [split_of(f"video{i}") for i in range(2000)]
    assert splits == [split_of(f"video{i}") for i in range(2000)]
    assert 0.07 < splits.count("val") / 2000 < 0.13
    reseeded = [split_of(f"video{i}", seed=1) for i in range(2000)]
    assert sum(a != b for a, b in zip(splits, reseeded, strict=True)) > 200


def write_av_clip(path, n_frames=10, fps=25.0):
    """A tiny real mp4 with a sound track, as LRS2's clips are."""
    import numpy as np

    from marlinflow.video.writer import add_audio, write_video

    path.parent.mkdir(parents=True, exist_ok=True)
    silent = path.with_name(path.stem + ".silent.mp4")
    write_video(silent, np.full((n_frames, 32, 32, 3), 100, np.uint8), fps)
    sound = np.sin(np.arange(int(n_frames / fps * 16000)) / 10).astype(np.float32) * 0.1
    add_audio(silent, sound, 16000, path)
    silent.unlink()


@pytest.fixture
def lrs2_root(tmp_path):
    """LRS2 as it unpacks: mvlrs_v1/{main,pretrain}/<programme>/<utterance>.mp4 and the lists."""
    root = tmp_path / "mvlrs_v1"
    clips = {
        "train": ["5535415699068794046/00001", "5535415699068794046/00002"],
        "val": ["6331559613336179781/00011"],
        "test": ["6330311066473698535/00011 NF", "6330311066473698535/00018 MV"],
        "pretrain": ["5535415699068794046/00003", "5540413745006591347/00007"],
    }
    for name, keys in clips.items():
        touch(root / f"{name}.txt", "".join(f"{key}\n" for key in keys))
        for key in keys:
            part = "pretrain" if name == "pretrain" else "main"
            write_av_clip(root / part / f"{key.split()[0]}.mp4")
            touch(root / part / f"{key.split()[0]}.txt", "Text:  HELLO\n")
    return tmp_path


def test_lrs2_official_lists_in_place(lrs2_root):
    from marlinflow.audio.clock import read_audio

    table = build_manifest(dataset_config("lrs2", lrs2_root)).set_index("id")
    assert len(table) == 5  # main only, by default
    row = table.loc["main__6330311066473698535__00018"]
    assert row.split == "test" and row.group == "6330311066473698535"
    assert row.source == "mvlrs_v1/main/6330311066473698535/00018.mp4"
    assert table.groupby("group")["split"].nunique().max() == 1
    assert read_audio(lrs2_root / row.source).seconds == pytest.approx(0.4, abs=0.1)
    both = build_manifest(dataset_config("lrs2", lrs2_root, lrs2_parts=["main", "pretrain"]))
    assert len(both) == 7
    assert set(both[both.id.str.startswith("pretrain__")].split) == {"train"}
    # the unpacked folder itself is a root too
    inner = build_manifest(dataset_config("lrs2", lrs2_root / "mvlrs_v1"))
    assert inner.source.iloc[0].startswith("main/")


def test_lrs2_refuses_missing_clips_lists_and_double_listing(lrs2_root):
    root = lrs2_root / "mvlrs_v1"
    (root / "main/6331559613336179781/00011.mp4").unlink()
    with pytest.raises(InputError, match="listed in val.txt but not found"):
        build_manifest(dataset_config("lrs2", lrs2_root))
    touch(root / "val.txt", "5535415699068794046/00001\n")
    with pytest.raises(InputError, match="also in train.txt"):
        build_manifest(dataset_config("lrs2", lrs2_root))
    (root / "val.txt").unlink()
    with pytest.raises(InputError, match="LRS2 file list missing"):
        build_manifest(dataset_config("lrs2", lrs2_root))
