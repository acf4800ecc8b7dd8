"""``marlinflow parse`` on a real face clip: the record and npz on good input, and what bad input
does (a failed upstream, a corrupt track, a mismatched pair, missing FaRL weights)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from marlinflow import masking
from marlinflow.cli import main
from marlinflow.face import parsing_step
from marlinflow.face.detect import landmarks_per_frame
from marlinflow.face.parsing_farl import WEIGHTS_NAME
from marlinflow.face.store import PART_LABELS, FaceTrack, ParsingReader, load_parsing
from marlinflow.stages import StageRecord
from marlinflow.video.io import read_frames


def dlib_landmarks(frames, upsample: int = 0) -> np.ndarray:
    return landmarks_per_frame(frames, upsample)


def write_clip(path: Path, frames: np.ndarray, fps: int = 30) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 224, 224, "yuv420p"
        stream.bit_rate = 8_000_000  # near-lossless, so the landmarks see the same face
        for frame in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode())


@pytest.fixture(scope="module")
def faces_dir(tmp_path_factory, carphone) -> Path:
    """A track stage's output for carphone: a 224x224 face clip, its landmarks and its record."""
    import cv2

    folder = tmp_path_factory.mktemp("faces")
    frames = read_frames(carphone, range(0, 120, 2))  # (60, 144, 176, 3)
    # a fixed square around the face (it moves little), scaled up as the tracker's crop would be
    square = frames[:, 14:130, 12:128]
    crops = np.stack([cv2.resize(f, (224, 224), interpolation=cv2.INTER_CUBIC) for f in square])
    write_clip(folder / "car.mp4", crops)
    landmarks = dlib_landmarks(read_frames(folder / "car.mp4", range(len(crops))))
    present = np.isfinite(landmarks).all(axis=(1, 2))
    present[5] = False  # a frame the tracker lost
    n = len(crops)
    FaceTrack(
        present, np.zeros((n, 4)), np.nan_to_num(landmarks), np.ones(n), np.zeros(n, int)
    ).save(folder / "car.json")
    outputs = {"video": str(folder / "car.mp4"), "track": str(folder / "car.json")}
    StageRecord("car", "track", True, outputs=outputs).save(folder / "car.status.json")
    return folder


def test_a_track_record_gives_labels_and_passes_the_clip_on(faces_dir, tmp_path):
    record = parsing_step.parse_video(faces_dir / "car.status.json", tmp_path / "car.status.json")
    assert record.ok, record.reason
    assert record.outputs == {
        "labels": str(tmp_path / "car.npz"),
        "video": str(faces_dir / "car.mp4"),
    }
    assert StageRecord.load(tmp_path / "car.status.json") == record
    labels, present = load_parsing(tmp_path / "car.npz")
    assert labels.shape == (60, 224, 224) and present.shape == (60,)
    assert not labels[5].any() and not present[5]
    assert (labels[present] == PART_LABELS["left_eye"]).any(axis=(1, 2)).all()
    # the loader's Fasking input: which labels each patch of the model's 14x14 grid touches
    with ParsingReader(tmp_path / "car.npz") as reader:
        patches = reader.patches([0, 5, 59], (14, 14))
        assert reader.patches([0], (8, 8)) is None  # another model's grid: read the maps
    expected = masking.presence_of_maps(labels[[0, 5, 59]], (14, 14))
    assert np.array_equal(masking.unpack_presence(patches), expected)
    stats = record.stats
    assert stats["frames"] == 60 and stats["backend"] == "landmarks"
    assert 0.9 < stats["face_fraction"] < 1.0
    assert 0 < stats["bytes_per_frame"] <= 3000
    assert stats["label_coverage"]["skin"] > stats["label_coverage"]["nose"] > 0
    # what the default pretraining mask shows of the clip; the track names no crop mode
    composition = stats["visible_composition"]
    assert list(composition) == ["background", "skin", "parts"]
    assert abs(sum(composition.values()) - 1) < 1e-3 and composition["background"] > 0.5
    assert stats["composition_mask"] == "fasking 0.9, 8x14x14 tokens"
    assert stats["crop_mode"] == "unknown"


def test_a_track_json_can_be_given_directly(faces_dir, tmp_path):
    record = parsing_step.parse_video(faces_dir / "car.json", tmp_path / "car.status.json")
    assert record.ok and record.outputs["video"] == str(faces_dir / "car.mp4")


def test_a_failed_upstream_is_skipped_with_its_reason(tmp_path):
    StageRecord("v", "track", False, "no face found").save(tmp_path / "in" / "v.status.json")
    record = parsing_step.parse_video(tmp_path / "in" / "v.status.json", tmp_path / "v.status.json")
    assert not record.ok and record.reason == "skipped: track: no face found"
    assert not (tmp_path / "v.npz").exists()


def test_a_corrupt_track_marks_the_video_unusable(faces_dir, tmp_path):
    shutil.copy(faces_dir / "car.mp4", tmp_path / "car.mp4")
    (tmp_path / "car.json").write_text('{"present": [true, fal')
    record = parsing_step.parse_video(tmp_path / "car.json", tmp_path / "out" / "car.status.json")
    assert not record.ok
    assert str(tmp_path / "car.json") in record.reason and "face track" in record.reason
    assert StageRecord.load(tmp_path / "out" / "car.status.json").reason == record.reason


def test_a_track_that_does_not_match_its_clip_is_refused(faces_dir, tmp_path):
    shutil.copy(faces_dir / "car.mp4", tmp_path / "car.mp4")
    data = json.loads((faces_dir / "car.json").read_text())
    data = {k: v[:-1] if isinstance(v, list) else v for k, v in data.items()}  # one frame short
    (tmp_path / "car.json").write_text(json.dumps(data))
    record = parsing_step.parse_video(tmp_path / "car.json", tmp_path / "out" / "car.status.json")
    assert not record.ok and "59 frames of landmarks for 60 frames" in record.reason


def cli(*argv: str) -> int:
    return main(["parse", *map(str, argv)])


def test_the_command_writes_the_record(faces_dir, tmp_path):
    assert cli(faces_dir / "car.status.json", tmp_path / "car.status.json") == 0
    assert StageRecord.load(tmp_path / "car.status.json").ok


def test_the_command_measures_the_composition_at_the_mask_it_is_given(faces_dir, tmp_path):
    out = tmp_path / "car.status.json"
    options = ["--mask-strategy", "random", "--mask-ratio", "0.75", "--model", '{"name": "tiny"}']
    assert cli(faces_dir / "car.status.json", out, *options) == 0
    stats = StageRecord.load(out).stats
    assert stats["composition_mask"] == "random 0.75, 4x8x8 tokens"
    # random masking shows the frame as it is: less background than Fasking's choice
    settings = parsing_step.ParseSettings(mask_ratio=0.75, model={"name": "tiny"})
    fasking = parsing_step.parse_video(faces_dir / "car.status.json", out, settings).stats
    assert fasking["composition_mask"] == "fasking 0.75, 4x8x8 tokens"
    background = fasking["visible_composition"]["background"]
    assert stats["visible_composition"]["background"] < background - 0.05


def test_an_unknown_model_is_refused_before_any_record(faces_dir, tmp_path, capsys):
    out = tmp_path / "car.status.json"
    assert cli(faces_dir / "car.status.json", out, "--model", "huge") == 2
    assert "model: unknown model size 'huge'" in capsys.readouterr().err
    assert not out.exists()


def test_the_command_without_farl_weights_names_the_file_and_writes_nothing(
    faces_dir, tmp_path, capsys
):
    weights = tmp_path / WEIGHTS_NAME
    out = tmp_path / "car.status.json"
    assert cli(faces_dir / "car.status.json", out, "--backend", "farl", "--weights", weights) == 2
    assert str(weights) in capsys.readouterr().err
    assert not out.exists()


class RedLabels(torch.nn.Module):
    """The FaRL contract (RGB in [0, 1] -> (logits (B, 11, H, W), aux)) with trivial logits."""

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        levels = torch.arange(11, dtype=images.dtype).view(1, 11, 1, 1)
        return -(images[:, 0:1] * 10.0 - levels).abs(), images.mean()


@pytest.mark.filterwarnings("ignore:`torch.jit.*:DeprecationWarning")
def test_the_farl_backend_streams_the_clip_through_the_network(faces_dir, tmp_path):
    weights = tmp_path / "red.pt"
    torch.jit.script(RedLabels()).save(str(weights))
    out = tmp_path / "car.status.json"
    record = parsing_step.parse_video(
        faces_dir / "car.status.json",
        out,
        parsing_step.ParseSettings(backend="farl", weights=str(weights)),
    )
    assert record.ok and record.stats["backend"] == "farl"
    labels, present = load_parsing(tmp_path / "car.npz")
    assert labels.shape == (60, 224, 224)
    assert not labels[~present].any() and labels[present].any()
