"""Track the main face of one video and write its aligned 224x224 clip and its face track.

Two streaming passes over the video keep memory independent of its length: the first follows
faces and keeps only their geometry (about 600 bytes per face per frame); the second decodes
again, crops every frame and encodes it. Between them the main face is chosen over the whole
video, gaps are bridged and the track is smoothed, which a single causal pass could not do.
A short video is decoded once: the first pass keeps its decoded frames for the second
(:mod:`marlinflow.video.kept`, within a memory budget).

Both passes use two cores: in the first, decoding and the detection of the next key frame run
in threads beside the following of faces (:mod:`marlinflow.face.track`); in the second, a
thread decodes and crops while this one encodes. Crops are cut straight from the decoder's
YUV planes where these mean the clip's colours (:mod:`marlinflow.video.yuv`), else in RGB.

Output: one crop per source frame, so frame i of the clip is frame i of the source. Frames with
no face hold the last crop window and are marked absent in the track. A variable-frame-rate
source is the exception: its clip is resampled on the frames' timestamps to a constant rate
(:mod:`marlinflow.video.timing`; the data set's ``fps``), and the track's ``source_frames`` says
which source frame each clip frame shows.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from marlinflow.config.settings import settings_class
from marlinflow.errors import Category, InputError, VideoError
from marlinflow.face import align, timeline
from marlinflow.face.detect import FaceDetector, make_detector
from marlinflow.face.identity import IdentityCheck
from marlinflow.face.store import FaceTrack
from marlinflow.face.track import follow_faces
from marlinflow.progress import progress
from marlinflow.video import yuv
from marlinflow.video.io import Decoded, VideoInfo, iter_decoded, prefetch, probe, to_rgb
from marlinflow.video.kept import KeptFrames
from marlinflow.video.timing import is_variable_rate, resample_indices
from marlinflow.video.writer import write_video

PROGRESS_MIN_FRAMES = 1000  # show a progress bar for videos longer than this
RIGID_POINTS = slice(27, 48)  # nose bridge and eyes: they move with the head, not the expression
# x264 on one thread: a 224x224 clip is too small for its frame threads to pay (their CPU
# time is 15% more per frame, and the wall time no less), and the other core crops meanwhile
CLIP_ENCODER_THREADS = 1


TrackConfig = settings_class("track", "TrackConfig")


def _frames(seconds: float, fps: float) -> int:
    return max(0, int(round(seconds * (fps or 25.0))))


def locate_face(
    source: str | Path,
    config: TrackConfig,
    detector: FaceDetector,
    info: VideoInfo,
    kept: KeptFrames | None = None,
) -> tuple[timeline.Timeline, dict[str, Any], list[float]]:
    """First pass: the main face's per-frame geometry in source pixels, smoothed; the counts of
    tracks and cuts; the frames' presentation times (seconds). ``kept`` is offered every
    decoded frame, for the second pass."""
    times: list[float] = []
    frames = _progress(_noting_times(source, times, kept), info, "find faces")
    tracks, cuts, n_frames = follow_faces(
        frames, detector, config.detect_interval, config.cut_threshold
    )
    chains = timeline.link_tracks(tracks, cuts, _frames(config.max_gap, info.fps))
    same_person = IdentityCheck(source) if len(chains) > 1 else None
    main = timeline.choose_main(chains, config.min_frames, same_person)
    line = timeline.build_timeline(main, n_frames)
    # landmarks: a fifth of the crop's window (expressions move faster than heads), >= 5 frames
    window = max(5, _frames(config.smoothing / 5, info.fps) * 2 + 1) if config.smoothing else 1
    line.landmarks = timeline.smooth(line.landmarks, line.segments, window).astype(np.float32)
    counts = {"tracks_found": len(tracks), "tracks_kept": len(main), "cuts": len(cuts)}
    return line, counts, times


def _progress(frames: Iterator[np.ndarray], info: VideoInfo, what: str) -> Iterator[np.ndarray]:
    """Progress on stderr for long videos."""
    return progress(
        frames,
        f"{what} {Path(info.path).name}",
        total=info.n_frames,
        unit="frame",
        enabled=info.n_frames >= PROGRESS_MIN_FRAMES,
    )


def _noting_times(
    source: str | Path, times: list[float], kept: KeptFrames | None
) -> Iterator[np.ndarray]:
    def decoded():  # in the prefetch thread: decoding and conversion to RGB
        for frame_time, frame in iter_decoded(source):
            yield frame_time, frame, to_rgb(frame)

    for frame_time, frame, rgb in prefetch(decoded()):
        times.append(frame_time)
        if kept is not None:
            kept.offer(frame)
        yield rgb


def timing_meta(times: list[float], fps: float, picks: np.ndarray | None) -> dict[str, Any]:
    """Whether the source has a variable frame rate, and then its frames' times, its average
    rate and the source frame each clip frame shows (``picks``)."""
    if picks is None:
        return {"variable_frame_rate": False}
    return {
        "variable_frame_rate": True,
        "source_fps": fps,
        "source_frame_times": np.round(times, 4).tolist(),
        "source_frames": picks.tolist(),
    }


def face_size(line: timeline.Timeline) -> float:
    """The main face's median size in source pixels: the larger side of its box, over the
    frames where it is present."""
    boxes = line.boxes[line.present]
    return float(np.median(np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])))


def crop_windows(line: timeline.Timeline, config: TrackConfig, fps: float) -> np.ndarray:
    """(N, 4) crop windows, smoothed per segment and held over frames without a face."""
    windows = align.windows_for(config.crop_mode, line.boxes, line.landmarks, config.margin)
    windows[:, 3] = np.unwrap(windows[:, 3])
    windows = timeline.smooth(windows, line.segments, _frames(config.smoothing, fps) | 1)
    return timeline.hold_windows(windows, line.present)


def crop_landmarks(line: timeline.Timeline, windows: np.ndarray, config: TrackConfig) -> np.ndarray:
    """(N, 68, 2) landmarks in crop pixels (zero where no face)."""
    out = np.zeros_like(line.landmarks)
    for i in np.flatnonzero(line.present):
        matrix = align.crop_matrix(windows[i], config.crop_mode, config.size)
        out[i] = align.to_crop_coords(line.landmarks[i], matrix)
    return out


def jitter(windows: np.ndarray, landmarks: np.ndarray, line: timeline.Timeline, size: int) -> dict:
    """Shake of the crop and of the face inside it, in crop pixels per frame.

    Both are mean second differences over time (acceleration), so steady motion costs nothing:
    ``crop_jitter_px`` of the window centre, ``face_jitter_px`` of the rigid landmarks.
    """
    crop, face = [], []
    for start, end in timeline.segment_runs(line.segments):
        if end - start < 3:
            continue
        scale = size / (2 * windows[start + 1 : end - 1, 2:3])  # crop pixels per source pixel
        crop.append(np.linalg.norm(np.diff(windows[start:end, :2], 2, axis=0) * scale, axis=1))
        rigid = landmarks[start:end, RIGID_POINTS]
        face.append(np.linalg.norm(np.diff(rigid, 2, axis=0), axis=2).mean(axis=1))
    return {"crop_jitter_px": _mean(crop), "face_jitter_px": _mean(face)}


def _mean(parts: list[np.ndarray]) -> float | None:
    return round(float(np.concatenate(parts).mean()), 3) if parts else None


def track_video(
    source: str | Path,
    out_video: str | Path,
    out_track: str | Path,
    config: TrackConfig | None = None,
    detector: FaceDetector | None = None,
    fps: float | None = None,
) -> dict[str, Any]:
    """Write the aligned clip and the face track of ``source``; returns the stage's stats.

    ``fps``: the rate a variable-frame-rate source is resampled to (None: its average rate).
    Raises :class:`InputError` for videos that cannot be used (unreadable, too short, no face,
    a face too small).
    """
    config = config or TrackConfig()
    started = time.perf_counter()
    info = probe(source)
    if info.n_frames < config.min_frames:
        reason = f"too short: {info.n_frames} frames < {config.min_frames} (min_frames)"
        raise InputError(source, reason, Category.TOO_SHORT)
    detector = detector or make_detector(config.backend, config.detect_size)
    kept = KeptFrames(info.n_frames)  # a short video is decoded once
    line, counts, times = locate_face(source, config, detector, info, kept)
    _check_face_fraction(source, line, config)
    size = face_size(line)
    _check_face_size(source, size, config)
    windows = crop_windows(line, config, info.fps)
    picks = resample_indices(times, fps or info.fps) if is_variable_rate(times, info.fps) else None
    rate = info.fps if picks is None else fps or info.fps  # the clip's frame rate
    written = write_clip(source, out_video, windows, config, info, picks, rate, kept)
    landmarks = crop_landmarks(line, windows, config)
    shake = jitter(windows, landmarks, line, config.size)  # over the source's frames
    meta = {"backend": detector.name, **timing_meta(times, info.fps, picks)}
    if picks is not None:  # the track follows the clip: one row per clip frame
        line, landmarks = line.take(picks), landmarks[picks]
    _save_track(out_track, line, landmarks, info, config, rate, meta)
    stats = {"frames": written, "face_fraction": round(line.face_fraction, 4), **counts, **shake}
    stats["face_size_px"] = round(size, 1)
    stats["frames_per_s_processed"] = round(written / (time.perf_counter() - started), 1)
    return stats


def _check_face_size(source: str | Path, size: float, config: TrackConfig) -> None:
    if size < config.min_face_size:
        reason = f"face too small: {size:.0f} px median < {config.min_face_size} px (min_face_size)"
        raise InputError(source, reason, Category.FACE_TOO_SMALL)


def _check_face_fraction(source: str | Path, line: timeline.Timeline, config: TrackConfig) -> None:
    if line.face_fraction < config.min_face_fraction or not line.present.any():
        raise InputError(
            source,
            f"no face in enough frames: {line.face_fraction:.0%} "
            f"< {config.min_face_fraction:.0%} (min_face_fraction)",
            Category.NO_FACE,
        )


def write_clip(
    source: str | Path,
    out_video: str | Path,
    windows: np.ndarray,
    config: TrackConfig,
    info: VideoInfo,
    picks: np.ndarray | None = None,
    fps: float | None = None,
    kept: KeptFrames | None = None,
) -> int:
    """Second pass: crop every frame with its window and encode the clip; returns its length.

    ``picks``: the source frame of each clip frame, at ``fps`` (a resampled variable rate);
    None is every source frame once, at the source's rate. ``kept``: the first pass's decoded
    frames, when it kept them all; else the video is decoded again. Frames are cropped from
    their YUV planes where these can be (:mod:`marlinflow.video.yuv`), else in RGB.
    """
    repeats = (
        np.ones(len(windows), int) if picks is None else np.bincount(picks, minlength=len(windows))
    )
    if kept is not None and kept.complete:
        frames = kept.take()
    else:
        frames = (frame for _, frame in iter_decoded(source))
    frames, pix_fmt = _clip_format(frames, config)
    crops = (
        crop
        for frame, window, count in zip(frames, windows, repeats, strict=False)
        if count  # a frame the resampling drops is not cropped at all
        for crop in itertools.repeat(_crop(frame, window, config, pix_fmt), count)
    )
    # decoding and cropping in a background thread, encoding here: two cores at work
    crops = _progress(prefetch(crops), info, "crop")
    written = write_video(
        out_video, crops, fps or info.fps, threads=CLIP_ENCODER_THREADS, pix_fmt=pix_fmt
    )
    if written != repeats.sum():  # the decoder gave another count the second time
        Path(out_video).unlink(missing_ok=True)
        reason = f"decoded {len(windows)} frames, then too few for {repeats.sum()} clip frames"
        raise VideoError(source, reason, Category.CORRUPT)
    return written


def _clip_format(frames: Iterator[Decoded], config: TrackConfig) -> tuple[Iterator[Decoded], str]:
    """The frames, and the format their crops are made in: YUV 4:2:0 planes when the first
    frame's can be cropped as they are (:mod:`marlinflow.video.yuv`), else RGB."""
    first = next(frames, None)
    if first is None:
        return iter(()), "rgb24"
    direct = config.crop_mode == "similarity" and yuv.planes_420(first) is not None
    return itertools.chain([first], frames), "yuv420p" if direct else "rgb24"


def _crop(frame: Decoded, window: np.ndarray, config: TrackConfig, pix_fmt: str) -> np.ndarray:
    """One clip frame in ``pix_fmt``; a frame whose planes cannot be cropped directly (a stream
    that changes format) is cropped in RGB and converted."""
    if pix_fmt == "yuv420p" and (planes := yuv.planes_420(frame)) is not None:
        return align.crop_planes(planes, window, config.size)
    crop = align.crop_frame(to_rgb(frame), window, config.crop_mode, config.size)
    return yuv.rgb_to_i420(crop) if pix_fmt == "yuv420p" else crop


def _save_track(
    path, line, landmarks, info: VideoInfo, config: TrackConfig, fps: float, extra: dict
) -> None:
    """The track, one row per clip frame; ``fps`` is the clip's rate."""
    meta = {
        "source": {"name": Path(info.path).name, "width": info.width, "height": info.height},
        "fps": fps,
        "n_frames": len(line.present),
        **{k: v for k, v in asdict(config).items() if k != "backend"},
        **extra,
    }
    FaceTrack(line.present, line.boxes, landmarks, line.scores, line.segments, meta).save(path)
