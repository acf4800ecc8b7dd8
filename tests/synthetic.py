"""Synthetic face clips with parsing maps and parse-stage records: small, deterministic inputs for
the pretraining tests and the benchmarks, in exactly the on-disk layout the track and parse steps
write.

A "face" is a skin ellipse on a background, with hair, brows, eyes, nose and mouth drawn as
ellipses in FaRL-LaPa labels; it drifts sideways over time so tubelets differ. The video's
colours are a fixed function of the labels plus a gentle gradient, so there is something to learn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from marlinflow.face.store import PART_LABELS, save_parsing
from marlinflow.masking import pack_presence, presence_of_maps
from marlinflow.stages import StageRecord
from marlinflow.video.writer import write_video

# (label, centre x, centre y, half width, half height) in units of the map side; drawn in order.
_FACE_PARTS = (
    ("hair", 0.50, 0.22, 0.30, 0.14),
    ("skin", 0.50, 0.52, 0.26, 0.34),
    ("right_brow", 0.39, 0.38, 0.07, 0.02),
    ("left_brow", 0.61, 0.38, 0.07, 0.02),
    ("right_eye", 0.39, 0.44, 0.05, 0.025),
    ("left_eye", 0.61, 0.44, 0.05, 0.025),
    ("nose", 0.50, 0.55, 0.04, 0.08),
    ("upper_lip", 0.50, 0.67, 0.09, 0.02),
    ("inner_mouth", 0.50, 0.69, 0.08, 0.012),
    ("lower_lip", 0.50, 0.71, 0.09, 0.02),
)
# An RGB colour per label, so the reconstruction target depends on the parts.
_PALETTE = np.array(
    [
        [40, 60, 90],
        [220, 180, 150],
        [60, 40, 30],
        [60, 40, 30],
        [250, 250, 250],
        [250, 250, 250],
        [200, 150, 120],
        [180, 60, 70],
        [60, 10, 20],
        [170, 50, 60],
        [90, 60, 30],
    ],
    dtype=np.float32,
)


def face_label_map(side: int = 224, shift: float = 0.0) -> np.ndarray:
    """A face-like parsing map (side, side) uint8, the face shifted by ``shift`` × side in x."""
    y, x = np.mgrid[0:side, 0:side] / side
    labels = np.zeros((side, side), dtype=np.uint8)
    for name, cx, cy, rx, ry in _FACE_PARTS:
        inside = ((x - cx - shift) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0
        labels[inside] = PART_LABELS[name]
    return labels


def render(labels: np.ndarray, phase: float = 0.0) -> np.ndarray:
    """RGB frame (side, side, 3) uint8 painting each label's colour over a soft gradient."""
    side = labels.shape[0]
    ramp = np.linspace(-20, 20, side, dtype=np.float32)
    shade = ramp[None, :, None] * np.cos(phase) + ramp[:, None, None] * np.sin(phase)
    return np.clip(_PALETTE[labels] + shade, 0, 255).astype(np.uint8)


def write_clip(
    root: str | Path,
    video_id: str,
    n_frames: int = 40,
    side: int = 64,
    no_face: tuple = (),
    grid: tuple[int, int] | None = None,
    keyframe_interval: int = 1,
) -> Path:
    """Write faces/<id>.mp4, parsing/<id>.npz and parsing/<id>.status.json under ``root``.

    Frames listed in ``no_face`` are marked absent in the parsing file. With ``grid`` (h, w) the
    parsing file also holds the per-patch label presence at that token grid, as the parse step
    writes it for the model; without, it is a file of before they were stored. Returns the
    record's path.
    """
    root = Path(root)
    (root / "faces").mkdir(parents=True, exist_ok=True)
    (root / "parsing").mkdir(parents=True, exist_ok=True)
    shifts = 0.08 * np.sin(np.linspace(0, 2 * np.pi, n_frames, endpoint=False))
    labels = np.stack([face_label_map(side, s) for s in shifts])  # (N, S, S)
    frames = np.stack([render(m, 0.1 * i) for i, m in enumerate(labels)])
    present = np.ones(n_frames, dtype=bool)
    present[list(no_face)] = False
    video, parsing = root / "faces" / f"{video_id}.mp4", root / "parsing" / f"{video_id}.npz"
    write_video(video, frames, 25, crf=18, keyframe_interval=keyframe_interval)
    patches = None if grid is None else pack_presence(presence_of_maps(labels, grid))
    save_parsing(parsing, labels, present, patches)
    status = root / "parsing" / f"{video_id}.status.json"
    outputs = {"labels": str(parsing), "video": str(video)}
    StageRecord(video_id, "parse", True, outputs=outputs, stats={"frames": n_frames}).save(status)
    return status


# A talking face: the mouth opens as loud as the sound is, frame by frame.
MOUTH = (0.50, 0.69, 0.08)  # centre x, centre y, half width of the open mouth (map side units)


def speech_envelope(n_frames: int, seed: int = 0) -> np.ndarray:
    """(n_frames,) loudness in [0, 1]: syllables of 2-6 frames, each loud or quiet at random,
    so that every stretch of frames has its own pattern."""
    rng = np.random.default_rng(seed)
    levels: list[float] = []
    while len(levels) < n_frames:
        levels += [float(rng.choice([0.0, 1.0]) * rng.uniform(0.6, 1.0))] * int(rng.integers(2, 7))
    return np.asarray(levels[:n_frames])


def talking_frames(envelope: np.ndarray, side: int = 64) -> np.ndarray:
    """(N, side, side, 3) uint8 faces whose inner mouth opens with ``envelope``."""
    y, x = np.mgrid[0:side, 0:side] / side
    base = face_label_map(side)
    frames = []
    for opening in envelope:
        labels = base.copy()
        cx, cy, rx = MOUTH
        ry = 0.005 + 0.08 * opening
        labels[((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0] = PART_LABELS["inner_mouth"]
        frames.append(render(labels))
    return np.stack(frames)


def speech_audio(
    envelope: np.ndarray, fps: float = 25.0, sample_rate: int = 16000, seed: int = 0
) -> np.ndarray:
    """Mono float samples as long as the frames whose loudness follows ``envelope`` (one value
    per frame): the sample's voice."""
    from marlinflow.sample import voice

    return voice(envelope, fps, sample_rate, seed)


def mouth_opening(faces: np.ndarray) -> np.ndarray:
    """(..., T) share of the lower face painted in the inner mouth's colour: the measured
    opening of each frame."""
    side = faces.shape[-2]
    lower = faces[..., side // 2 :, :, :].astype(np.int16)
    colour = _PALETTE[PART_LABELS["inner_mouth"]].astype(np.int16)
    return (np.abs(lower - colour).sum(axis=-1) < 60).mean(axis=(-1, -2))
