"""The data sets' tasks (a config's ``adapter``) on small fixtures in each data set's own layout."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from marlinflow.cli import main
from marlinflow.datasets import celebv_hq, dfew, faceforensics
from marlinflow.datasets import cmu_mosei as mosei
from marlinflow.datasets.user_manifest import from_csv
from marlinflow.downstream.tasks import load_task
from marlinflow.errors import InputError
from marlinflow.manifest import validate_manifest

APPEARANCE = [f"attr{i}" for i in range(40)]
ACTION = [f"act{i}" for i in range(35)]


def celebv_clip(index: int, emotion) -> dict:
    return {
        "ytb_id": f"yt{index}",
        "duration": {"start_sec": 1.0, "end_sec": 4.5},
        "bbox": {"top": 0.0, "bottom": 0.9, "left": 0.1, "right": 0.7},
        "attributes": {
            "appearance": [(index + i) % 2 for i in range(40)],
            "action": [int(i == index) for i in range(35)],
            "emotion": emotion,
        },
        "version": "v0.1",
    }


@pytest.fixture
def celebv_info(tmp_path):
    clips = {
        f"clip{i:02d}_0": celebv_clip(i, {"sep_flag": False, "labels": "happy"}) for i in range(8)
    }
    clips["clip03_0"]["attributes"]["emotion"] = {"sep_flag": False, "labels": "neutral"}
    clips["clip05_0"]["attributes"]["emotion"] = {
        "sep_flag": True,
        "labels": [
            {"emotion": "neutral", "start_sec": 0, "end_sec": 0.28},
            {"emotion": "sad", "start_sec": 1.28, "end_sec": 3.28},
            {"emotion": "neutral", "start_sec": 3.3, "end_sec": 3.5},
        ],
    }
    info = {
        "mete_info": {"appearance_mapping": APPEARANCE, "action_mapping": ACTION},
        "clips": clips,
    }
    path = tmp_path / "celebvhq_info.json"
    path.write_text(json.dumps(info))
    return path


def test_celebv_appearance_is_40_named_multilabel_columns(celebv_info, tmp_path):
    task = celebv_hq.attributes_task(celebv_info, "appearance")
    assert task.kind == "multilabel" and task.classes == APPEARANCE
    assert task.targets().shape == (8, 40)
    assert task.table.loc[task.table["id"] == "clip01_0", "attr0"].item() == 1
    saved = load_task(task.save(tmp_path / "appearance.tsv"))
    assert saved.table.equals(task.table) and saved.classes == APPEARANCE


def test_celebv_split_is_seeded_and_does_not_depend_on_other_clips(celebv_info):
    first = celebv_hq.attributes_task(celebv_info, "action", seed=0).table
    again = celebv_hq.attributes_task(celebv_info, "action", seed=0).table
    assert first["split"].tolist() == again["split"].tolist()
    info = json.loads(celebv_info.read_text())
    del info["clips"]["clip00_0"]
    celebv_info.write_text(json.dumps(info))
    fewer = celebv_hq.attributes_task(celebv_info, "action", seed=0).table
    assert fewer.set_index("id")["split"].equals(first.set_index("id")["split"].drop("clip00_0"))


def celebv_clips(videos: range, per_video: int) -> dict:
    """``per_video`` clips cut from each YouTube video ``yt<v>``, ids as CelebV-HQ's own."""
    return {
        f"yt{v}_{c}": celebv_clip(v, {"sep_flag": False, "labels": "happy"}) | {"ytb_id": f"yt{v}"}
        for v in videos
        for c in range(per_video)
    }


def write_celebv(root, clips: dict):
    info = {"mete_info": {"appearance_mapping": APPEARANCE, "action_mapping": ACTION}}
    root.mkdir(parents=True, exist_ok=True)
    (root / "celebvhq_info.json").write_text(json.dumps(info | {"clips": clips}))
    return root / "celebvhq_info.json"


def celebv_splits(path, seed: int = 0) -> dict[str, dict[str, str]]:
    """Clip -> split, for the manifest and each task."""
    tables = {
        "manifest": celebv_hq.manifest({"root": str(path.parent), "seed": seed}),
        "appearance": celebv_hq.attributes_task(path, "appearance", seed).table,
        "action": celebv_hq.attributes_task(path, "action", seed).table,
        "emotion": celebv_hq.emotion_task(path, seed=seed).table,
    }
    return {name: dict(zip(t["id"], t["split"], strict=True)) for name, t in tables.items()}


def test_celebv_clips_of_one_youtube_video_share_a_split(tmp_path):
    path = write_celebv(tmp_path / "celebvhq", celebv_clips(range(60), per_video=4))
    splits = celebv_splits(path)
    manifest = splits["manifest"]
    assert all(table == manifest for table in splits.values())  # tasks split as the manifest
    by_video = {}
    for clip_id, split in manifest.items():
        by_video.setdefault(clip_id.split("_")[0], set()).add(split)
    assert all(len(found) == 1 for found in by_video.values())  # no video straddles
    assert {"train", "val", "test"} <= {s for found in by_video.values() for s in found}
    table = celebv_hq.manifest({"root": str(path.parent), "seed": 0})
    assert table.set_index("id").loc["yt3_2", "group"] == "yt3"
    validate_manifest(table)  # a straddling group would be refused here
    # Deterministic, seeded, and stable when clips are added: of new videos or of old ones.
    assert celebv_splits(path) == splits
    assert celebv_splits(path, seed=1)["manifest"] != manifest
    grown = celebv_clips(range(60), per_video=5) | celebv_clips(range(60, 90), per_video=2)
    after = celebv_splits(write_celebv(tmp_path / "grown", grown))["manifest"]
    assert {clip_id: after[clip_id] for clip_id in manifest} == manifest
    assert after["yt7_4"] == manifest["yt7_0"]


def test_celebv_clip_without_its_youtube_video_is_named(tmp_path):
    clips = celebv_clips(range(3), per_video=1)
    del clips["yt1_0"]["ytb_id"]
    path = write_celebv(tmp_path, clips)
    with pytest.raises(InputError, match=r"celebvhq_info\.json.*clip 'yt1_0': no ytb_id"):
        celebv_hq.attributes_task(path, "action")


def test_celebv_emotion_dominant_or_dropped(celebv_info):
    task = celebv_hq.emotion_task(celebv_info)
    labels = task.table.set_index("id")["label"]
    assert labels["clip05_0"] == "sad"  # 2 s of sad beat 0.48 s of neutral
    assert task.classes == ["happy", "neutral", "sad"]
    dropped = celebv_hq.emotion_task(celebv_info, multi="drop")
    assert "clip05_0" not in set(dropped.table["id"])
    assert dropped.excluded == [{"id": "clip05_0", "reason": "3 emotions in the clip"}]


def test_celebv_malformed_clip_names_file_and_clip(celebv_info):
    info = json.loads(celebv_info.read_text())
    info["clips"]["clip02_0"]["attributes"]["appearance"] = [0] * 39
    info["clips"]["clip04_0"]["attributes"]["emotion"] = {"sep_flag": True, "labels": [{"x": 1}]}
    celebv_info.write_text(json.dumps(info))
    with pytest.raises(InputError, match=r"celebvhq_info\.json.*clip02_0.*40"):
        celebv_hq.attributes_task(celebv_info, "appearance")
    with pytest.raises(InputError, match=r"clip04_0.*emotion segment"):
        celebv_hq.emotion_task(celebv_info)


def test_celebv_missing_or_foreign_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        celebv_hq.attributes_task(tmp_path / "celebvhq_info.json", "action")
    (tmp_path / "other.json").write_text('{"videos": []}')
    with pytest.raises(InputError, match="clips"):
        celebv_hq.attributes_task(tmp_path / "other.json", "action")


@pytest.fixture
def ff_root(tmp_path):
    root = tmp_path / "ff"
    pairs = {
        "train": [["071", "054"], ["000", "003"]],
        "val": [["001", "002"]],
        "test": [["004", "005"]],
    }
    (root / "splits").mkdir(parents=True)
    for split, items in pairs.items():
        (root / "splits" / f"{split}.json").write_text(json.dumps(items))
    originals = root / "original_sequences/youtube/c23/videos"
    originals.mkdir(parents=True)
    for number in ("071", "054", "001", "004"):
        (originals / f"{number}.mp4").touch()
    for method in faceforensics.METHODS:
        folder = root / "manipulated_sequences" / method / "c23/videos"
        folder.mkdir(parents=True)
        for name in ("071_054", "002_001", "005_004"):
            (folder / f"{name}.mp4").touch()
    return root


def test_faceforensics_pairs_share_a_split(ff_root):
    task = faceforensics.forgery_task(ff_root, "c23", ("Deepfakes",))
    table = task.table.set_index("id")
    assert task.kind == "binary" and len(table) == 4 + 3
    assert table.loc["Deepfakes__071_054", "split"] == "train"
    assert table.loc["Deepfakes__002_001", "split"] == "val"
    assert (
        table.loc["original__004", "label"] == 0 and table.loc["Deepfakes__005_004", "label"] == 1
    )
    assert len(faceforensics.forgery_task(ff_root).table) == 4 + 3 * len(faceforensics.METHODS)


def test_faceforensics_unknown_video_and_bad_split_file(ff_root):
    with pytest.raises(InputError, match="c40"):
        faceforensics.forgery_task(ff_root, "c40")
    (ff_root / "original_sequences/youtube/c23/videos/999.mp4").touch()
    with pytest.raises(InputError, match="999.mp4"):
        faceforensics.forgery_task(ff_root, "c23", ("Deepfakes",))
    (ff_root / "splits/val.json").write_text('[["001"]]')
    with pytest.raises(InputError, match=r"val\.json.*entry 0"):
        faceforensics.forgery_task(ff_root, "c23", ("Deepfakes",))


def test_faceforensics_honours_the_official_lists(ff_root):
    """Every video lands in the split its pair is listed in, in the task and the manifest alike,
    and the pair is the manifest's group."""
    lists = {
        number: split
        for split in ("train", "val", "test")
        for pair in json.loads((ff_root / "splits" / f"{split}.json").read_text())
        for number in pair
    }
    table = faceforensics.forgery_task(ff_root).table
    for video_id, split in zip(table["id"], table["split"], strict=True):
        numbers = video_id.split("__")[1].split("_")
        assert {lists[n] for n in numbers} == {split}, video_id
    manifest = faceforensics.manifest({"root": str(ff_root), "compression": "c23"})
    assert manifest.set_index("id")["split"].to_dict() == table.set_index("id")["split"].to_dict()
    groups = manifest.set_index("id")["group"]
    assert groups["original__071"] == groups["FaceSwap__071_054"] == "071_054"
    assert manifest.groupby("group")["split"].nunique().max() == 1
    # Swapping two pairs' lists moves their videos, whatever the hash of their numbers.
    train, val = ([["001", "002"], ["000", "003"]], [["071", "054"]])
    (ff_root / "splits/train.json").write_text(json.dumps(train))
    (ff_root / "splits/val.json").write_text(json.dumps(val))
    moved = faceforensics.forgery_task(ff_root, "c23", ("Deepfakes",)).table.set_index("id")
    assert moved.loc["original__071", "split"] == moved.loc["Deepfakes__071_054", "split"] == "val"
    assert moved.loc["original__001", "split"] == "train"


def test_faceforensics_lists_beside_the_videos_are_read_too(ff_root):
    for split in ("train", "val", "test"):
        (ff_root / "splits" / f"{split}.json").rename(ff_root / f"{split}.json")
    (ff_root / "splits").rmdir()
    table = faceforensics.forgery_task(ff_root, "c23", ("Deepfakes",)).table.set_index("id")
    assert table.loc["Deepfakes__002_001", "split"] == "val"


def test_faceforensics_lists_that_split_a_pair_are_refused(ff_root):
    (ff_root / "splits/test.json").write_text(json.dumps([["004", "005"], ["071", "099"]]))
    with pytest.raises(InputError, match=r"test\.json: video 071 is also in train\.json"):
        faceforensics.forgery_task(ff_root, "c23", ("Deepfakes",))
    (ff_root / "splits/test.json").write_text(json.dumps([["004", "005"]]))
    fake = ff_root / "manipulated_sequences/Deepfakes/c23/videos/004_001.mp4"
    fake.touch()  # a fake made of a test face and a val face
    with pytest.raises(InputError, match=r"004_001\.mp4: .*different splits"):
        faceforensics.forgery_task(ff_root, "c23", ("Deepfakes",))


def write_dfew(root, fold: int, train_rows: str, test_rows: str) -> None:
    for part, rows in (("train", train_rows), ("test", test_rows)):
        folder = root / "EmoLabel_DataSplit" / f"{part}(single-labeled)"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"set_{fold}.csv").write_text("video_name,label\n" + rows)


def test_dfew_fold_classes_and_val_carve_out(tmp_path):
    train = "".join(f"{n},{n % 7 + 1}\n" for n in range(1, 61))
    write_dfew(tmp_path, 2, train, "100,3\n101,7\n")
    task = dfew.expression_task(tmp_path, 2)
    table = task.table.set_index("id")
    assert (
        table.loc["dfew00100", "label"] == "neutral" and table.loc["dfew00101", "label"] == "fear"
    )
    assert table.loc["dfew00100", "split"] == "test"
    counts = task.counts()
    assert counts["test"] == 2 and 0 < counts["val"] < 20 and counts["train"] + counts["val"] == 60


def test_dfew_bad_row_and_missing_file(tmp_path):
    write_dfew(tmp_path, 1, "1,1\n2,9\n", "3,1\n")
    with pytest.raises(InputError, match=r"set_1\.csv: row 3"):
        dfew.expression_task(tmp_path, 1)
    with pytest.raises(InputError, match=r"set_4\.csv"):
        dfew.expression_task(tmp_path, 4)


def test_user_csv_fills_missing_splits_and_checks_labels(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("id,split,mood\na,train,calm\nb,,tense\nc,test,calm\n")
    task = from_csv(path, "multiclass", ["mood"])
    assert task.classes == ["calm", "tense"]
    assert task.table.set_index("id").loc["b", "split"] in ("train", "val", "test")
    path.write_text("id,flag\na,1\nb,2\n")
    with pytest.raises(InputError, match=r"(?s)mine\.csv.*row 3.*'b'.*not 0 or 1"):
        from_csv(path, "binary", ["flag"])
    with pytest.raises(InputError, match="missing column"):
        from_csv(path, "binary", ["other"])


FOLDS_PY = """standard_train_fold=['vidA', '12345']
standard_valid_fold=['vidB']
standard_test_fold=['vidC']
"""


def write_mosei_csv(path, rows: list[str]) -> None:
    path.write_text(
        "video,start,end,sentiment,happy,sad,anger,surprise,disgust,fear\n" + "\n".join(rows) + "\n"
    )


MOSEI_ROWS = [
    "vidA,10.0,14.0,1.5,1.0,0,0,0,0,0",
    "vidA,2.0,6.0,-0.4,0,0.3,0,0,0,0",
    "12345,0,3,0,0,0,0,0,0,0",
    "vidB,1,2,-2.6,0,1,2,0,0,0.6",
    "vidC,1,2,3.0,2,0,0,1,0,0",
    "vidZ,1,2,3.0,2,0,0,1,0,0",
]


def write_mosei_csd(path, rows: list[str], width: int = 7) -> None:
    """The SDK's computational-sequence layout: <root>/data/<video>/{features,intervals} and
    <root>/metadata (HDF5 through h5py, as the SDK writes it)."""
    h5py = pytest.importorskip("h5py")
    by_video: dict[str, list[list[float]]] = {}
    for row in rows:
        video, *numbers = row.split(",")
        by_video.setdefault(video, []).append([float(n) for n in numbers])
    with h5py.File(path, "w") as handle:
        root = handle.create_group("All Labels")
        metadata = root.create_group("metadata")
        metadata.create_dataset("root name", data="All Labels")
        for video, values in by_video.items():
            entry = root.create_group(f"data/{video}")
            table = np.array(values, dtype=np.float32)
            entry.create_dataset("intervals", data=table[:, :2].astype(np.float64))
            entry.create_dataset("features", data=table[:, 2 : 2 + width])


@pytest.fixture(params=["csv", "csd"])
def mosei_files(request, tmp_path):
    """The same labels as the CSV export and as the SDK's own ``.csd``."""
    folds = tmp_path / "cmu_mosei_std_folds.py"
    folds.write_text(FOLDS_PY)
    if request.param == "csv":
        labels = tmp_path / "labels.csv"
        write_mosei_csv(labels, MOSEI_ROWS)
    else:
        labels = tmp_path / "CMU_MOSEI_Labels.csd"
        write_mosei_csd(labels, MOSEI_ROWS)
    return labels, folds


def test_mosei_emotion_presence_segments_and_folds(mosei_files):
    labels, folds = mosei.read_labels(mosei_files[0]), mosei.read_folds(mosei_files[1])
    assert folds == {"vidA": "train", "12345": "train", "vidB": "val", "vidC": "test"}
    task = mosei.mosei_task(labels, folds, "emotion")
    table = task.table.set_index("id")
    assert table.loc["vidA__0", "start"] == 2.0  # segments numbered in time order
    assert table.loc["vidA__0", "sad"] == 1 and table.loc["vidA__1", "happy"] == 1
    assert table.loc["vidB__0", ["sad", "anger", "fear", "happy"]].tolist() == [1, 1, 1, 0]
    assert task.excluded == [{"id": "vidZ__0", "reason": "video 'vidZ' is in no standard fold"}]


def test_mosei_sentiment_targets(mosei_files):
    labels, folds = mosei.read_labels(mosei_files[0]), mosei.read_folds(mosei_files[1])
    binary = mosei.mosei_task(labels, folds, "sentiment2").table.set_index("id")["label"]
    assert binary.to_dict() == {
        "12345__0": 1,
        "vidA__0": 0,
        "vidA__1": 1,
        "vidB__0": 0,
        "vidC__0": 1,
    }
    seven = mosei.mosei_task(labels, folds, "sentiment7").table.set_index("id")["label"]
    assert seven.to_dict() == {
        "12345__0": "0",
        "vidA__0": "-1",
        "vidA__1": "2",
        "vidB__0": "-3",
        "vidC__0": "3",
    }
    assert mosei.mosei_task(labels, folds, "sentiment").kind == "regression"


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (-2.5, "-3"),
        (-2.0, "-2"),
        (-1.5, "-2"),
        (-1.0, "-1"),
        (-0.3, "-1"),
        (0.0, "0"),
        (0.3, "1"),
        (1.0, "1"),
        (1.2, "2"),
        (2.0, "2"),
        (2.1, "3"),
        (3.0, "3"),
    ],
)
def test_mosei_seven_class_rounding(score, expected):
    assert mosei.sentiment_class(score) == expected


def test_mosei_bad_rows_and_files(tmp_path):
    path = tmp_path / "labels.csv"
    write_mosei_csv(path, ["vidA,1,2,0.5,0,0,0,0,0,0", "vidA,1,2,high,0,0,0,0,0,0"])
    with pytest.raises(InputError, match=r"labels\.csv: row 3"):
        mosei.read_labels(path)
    path.write_text("video,start\nvidA,1\n")
    with pytest.raises(InputError, match="missing column"):
        mosei.read_labels(path)
    folds = tmp_path / "folds.py"
    folds.write_text("something_else = [1]\n")
    with pytest.raises(InputError, match="standard_train_fold"):
        mosei.read_folds(folds)


def test_mosei_csd_without_h5py_says_what_to_do(tmp_path, monkeypatch):
    path = tmp_path / "CMU_MOSEI_Labels.csd"
    path.write_bytes(b"\x89HDF\r\n")
    monkeypatch.setitem(sys.modules, "h5py", None)  # an environment without h5py
    with pytest.raises(InputError, match="h5py.*CSV"):
        mosei.read_labels(path)


def test_mosei_bad_csd_files_name_the_file_and_the_video(tmp_path):
    path = tmp_path / "CMU_MOSEI_Labels.csd"
    path.write_bytes(b"\x89HDF\r\n\x1a\n cut short")
    with pytest.raises(InputError, match=r"CMU_MOSEI_Labels\.csd: not a readable \.csd"):
        mosei.read_labels(path)
    write_mosei_csd(path, MOSEI_ROWS[:2] + ["vidQ,0,1,0,0,0,0,0,0,0"], width=6)
    with pytest.raises(InputError, match="video 'vidA': expected segments × 7"):
        mosei.read_labels(path)


def run_task_verb(argv: list[str]) -> int:
    return main(["task", *argv])


def test_task_verb_writes_a_loadable_table(celebv_info, mosei_files, tmp_path):
    out = tmp_path / "tasks" / "emotion.tsv"
    assert run_task_verb(["celebv_hq_emotion", str(celebv_info), "--out", str(out)]) == 0
    assert load_task(out).kind == "multiclass"
    labels, folds = mosei_files
    out = tmp_path / "tasks" / "mosei.tsv"
    argv = ["cmu_mosei_sentiment7", str(labels), "--folds", str(folds), "--out", str(out)]
    assert run_task_verb(argv) == 0
    assert load_task(out).classes == list(mosei.SENTIMENT_7)


def test_task_verb_reports_missing_inputs(tmp_path, capsys):
    assert (
        run_task_verb(["dfew", str(tmp_path), "--fold", "3", "--out", str(tmp_path / "t.tsv")]) == 2
    )
    error = capsys.readouterr().err
    assert error.startswith("marlinflow task: error: ") and "set_3.csv" in error
    assert run_task_verb(["cmu_mosei_emotion", str(tmp_path / "l.csv"), "--out", "x.tsv"]) == 2
    assert "--folds" in capsys.readouterr().err


def test_mosei_segment_manifest_is_a_valid_manifest(mosei_files):
    labels, folds = mosei.read_labels(mosei_files[0]), mosei.read_folds(mosei_files[1])
    manifest = validate_manifest(mosei.segment_manifest(mosei.mosei_task(labels, folds, "emotion")))
    row = manifest.set_index("id").loc["vidA__1"]
    assert row["source"] == "Raw/Videos/Full/Combined/vidA.mp4"
    assert (row["start"], row["end"], row["split"]) == (10.0, 14.0, "train")


def test_mosei_data_set_lists_the_segments_its_tasks_label(mosei_files, tmp_path):
    from marlinflow.datasets import build_manifest

    labels_file, folds_file = mosei_files
    root = tmp_path / "mosei"
    videos = root / mosei.VIDEOS
    videos.mkdir(parents=True)
    for video in ("vidA", "vidB", "vidC", "12345"):
        (videos / f"{video}.mp4").write_bytes(b"")  # planning reads no video
    cfg = {"name": "mosei", "builder": "cmu_mosei", "root": str(root), "seed": 0, "limit": None}
    full = build_manifest(cfg)  # no labels under the root yet: the full videos
    assert sorted(full["id"]) == ["12345", "vidA", "vidB", "vidC"]

    name = "CMU_MOSEI_Labels" + labels_file.suffix
    (root / name).write_bytes(labels_file.read_bytes())
    (root / mosei.FOLDS_FILE).write_bytes(folds_file.read_bytes())
    segments = build_manifest(cfg).set_index("id")
    task = mosei.mosei_task(mosei.read_labels(labels_file), mosei.read_folds(folds_file), "emotion")
    assert sorted(segments.index) == sorted(task.table["id"])  # features under the labels' ids
    assert segments.loc["vidA__1", ["start", "end", "split", "group"]].tolist() == [
        10.0,
        14.0,
        "train",
        "vidA",
    ]
    assert segments.loc["vidB__0", "source"] == f"{mosei.VIDEOS}/vidB.mp4"
