"""What Fasking shows the encoder, per crop: the visible-token composition of real face videos.

Each in-the-wild sample video (``video0*.mp4``) is tracked with every ``track.crop_mode`` and
parsed (dlib landmarks, landmark-drawn labels: the offline defaults); its official crop from the
official repository (``cropped0*.mp4``, the same speaker and scene framed by the official rule
around a RetinaFace box) is parsed as it is. The parse records' ``visible_composition`` is the
share of background, skin and facial parts among the visible tokens of the pretraining mask
(default: Fasking at 0.9 on ViT-S/B/L's 8x14x14 tokens). Also printed: the median distance
between the eye centres in crop pixels, which says how tightly each crop frames the face.
Prints one markdown table row per (video, crop):

    | video | crop | frames | background % | skin % | parts % | eye distance px |

Run: ``.venv/bin/python bench/bench_composition.py [--samples DIR] [--frames N]``
"""

from __future__ import annotations

import argparse
import tempfile
from itertools import islice
from pathlib import Path

import numpy as np

from marlinflow.face.align import MODES
from marlinflow.face.detect import landmarks_per_frame
from marlinflow.face.parsing_step import parse_video
from marlinflow.face.pipeline import TrackConfig
from marlinflow.face.store import FaceTrack
from marlinflow.face.track_step import track_step
from marlinflow.masking import TOKEN_CLASSES
from marlinflow.video.io import iter_frames, probe, read_frames
from marlinflow.video.writer import write_video

DEFAULT_SAMPLES = Path(__file__).resolve().parents[1].parent / "shared/data/marlin-samples"
# iBUG 68-point indices of each eye's contour
RIGHT_EYE, LEFT_EYE = slice(36, 42), slice(42, 48)


def excerpt(source: Path, folder: Path, frames: int | None) -> Path:
    """The video itself, or its first ``frames`` frames."""
    if frames is None:
        return source
    path = folder / source.name
    write_video(path, islice(iter_frames(source), frames), probe(source).fps)
    return path


def eye_distance(track: FaceTrack) -> float:
    """The median distance between the eye centres, in crop pixels."""
    points = track.landmarks[track.present]
    gaps = points[:, RIGHT_EYE].mean(axis=1) - points[:, LEFT_EYE].mean(axis=1)
    return float(np.median(np.linalg.norm(gaps, axis=1)))


def tracked(clip: Path, folder: Path, mode: str) -> tuple[dict, FaceTrack]:
    faces = folder / mode / "faces" / f"{clip.stem}.status.json"
    record = track_step(clip, faces, TrackConfig(crop_mode=mode))
    if not record.ok:
        raise SystemExit(f"{clip}: {record.reason}")
    parsed = parse_video(faces, folder / mode / "parsing" / faces.name)
    return parsed.stats, FaceTrack.load(record.outputs["track"])


def as_cropped(clip: Path, folder: Path) -> tuple[dict, FaceTrack]:
    """A clip that is already a face crop, parsed as it is (landmarks found on its frames)."""
    frames = read_frames(clip, range(probe(clip).n_frames))
    landmarks = landmarks_per_frame(frames, 0)
    present = np.isfinite(landmarks).all(axis=(1, 2))
    n = len(frames)
    track = FaceTrack(
        present, np.zeros((n, 4)), np.nan_to_num(landmarks), np.ones(n), np.zeros(n, int)
    )
    (folder / "as_is").mkdir(parents=True, exist_ok=True)
    track_path = folder / "as_is" / f"{clip.stem}.json"
    track.save(track_path)
    clip_copy = track_path.with_suffix(".mp4")
    clip_copy.write_bytes(clip.read_bytes())
    parsed = parse_video(track_path, folder / "as_is" / "parsing" / f"{clip.stem}.status.json")
    return parsed.stats, track


def row(video: str, crop: str, stats: dict, track: FaceTrack) -> str:
    shares = stats["visible_composition"]
    cells = [f"{100 * shares[name]:.0f}" for name in TOKEN_CLASSES]
    return (
        f"| {video} | {crop} | {stats['frames']} | "
        + " | ".join(cells)
        + f" | {eye_distance(track):.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--frames", type=int, default=None, help="only the first N frames")
    args = parser.parse_args()
    videos = sorted(args.samples.glob("video0*.mp4"))
    if not videos:
        print(f"no sample videos in {args.samples} (give --samples): nothing measured")
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for video in videos:
            clip = excerpt(video, folder, args.frames)
            for mode in MODES:
                print(row(video.name, mode, *tracked(clip, folder, mode)), flush=True)
            official = args.samples / video.name.replace("video", "cropped")
            if official.is_file():
                crop = excerpt(official, folder / "official_crops", args.frames)
                print(
                    row(official.name, "official code's crop", *as_cropped(crop, folder)),
                    flush=True,
                )


if __name__ == "__main__":
    main()
