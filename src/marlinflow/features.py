"""Extract MARLIN features from face clips and face videos, with ours or the released weights.

``Marlin`` is the public API (``from marlinflow import Marlin``). It takes the official
``marlin_pytorch`` package's calls, with their argument names, order and defaults, so code
written for it runs unchanged: ``Marlin.from_online(model_name, full_model=False)``,
``Marlin.from_file(model_name, path)``, ``Marlin.clean_cache()``, ``model.extract_features(x,
keep_seq=True)``, ``model.extract_video(video_path, crop_face=False, sample_rate=2, stride=16,
reduction="none", keep_seq=False, detector_device=None)``, ``model.device``. Our additions are
keyword-only. Differences, each deliberate (reference: marlin.md §4.1–4.2, §7.1):

- ``extract_features`` follows the caller's grad mode; the official one runs under ``no_grad``
  whenever the module is in eval mode, which silently freezes a fine-tuned backbone.
- Video windows come from ``plan_windows``, a pure function: the last full window is kept and a
  short video keeps the same temporal sampling, padded by repeating its last frame.
  ``official_compat=True`` reproduces the official windows instead.
- Videos of another size than the model's input are resized rather than refused.
- ``crop_face=True`` runs our face tracker (official square crops, smoothed over time) rather
  than FaceX-Zoo's per-frame detector, cloned at run time.
- Released weights are cached in a user cache folder, not in the working directory.
- ``from_file(path)`` alone takes the geometry the file records, or its shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import torch

from marlinflow.errors import InputError
from marlinflow.models import MarlinModel, ModelSize, get_size
from marlinflow.video.io import probe, read_frames
from marlinflow.weights.checkpoints import load_model, save_encoder
from marlinflow.weights.release import cache_dir, fetch_release, release_file, released_files

# A video path -> its aligned face frames (N, S, S, 3) uint8 RGB, one face per frame, or the
# path of a video of them.
FaceCropper = Callable[[Path], "np.ndarray | str | Path"]
# The cropper ``crop_face=True`` uses when none is passed: our tracker (below).


def track_faces(path: Path) -> np.ndarray:
    """Aligned faces of every frame of ``path``, by our tracker in the official crop mode (the
    square box the released weights were trained on). Holds the clip in memory: 150 KB a frame."""
    import tempfile

    from marlinflow.face.pipeline import TrackConfig, track_video
    from marlinflow.video.io import iter_frames

    with tempfile.TemporaryDirectory(prefix="marlinflow-faces-") as folder:
        clip = Path(folder) / "faces.mp4"
        track_video(path, clip, Path(folder) / "faces.json", TrackConfig(crop_mode="official"))
        return np.stack(list(iter_frames(clip)))


default_face_cropper: FaceCropper | None = track_faces


def plan_windows(
    n_frames: int,
    clip_frames: int = 16,
    sample_rate: int = 2,
    hop: int | None = None,
    official_compat: bool = False,
) -> list[np.ndarray]:
    """Frame indices of each clip cut from a video of ``n_frames`` frames.

    A window takes every ``sample_rate``-th frame, ``clip_frames`` of them; windows start every
    ``hop`` frames (default ``clip_frames * sample_rate``: back to back, as in the official
    package's stride 16 at sample rate 2). Every window that fits is kept; frames after the
    last one are left out. A video too short for one window gives one window with the same
    sampling, padded by repeating the last frame.

    ``official_compat=True`` gives the official windows: the last full window is dropped when
    (n_frames - clip_frames·sample_rate) is a multiple of the hop; a video of at most
    clip_frames·sample_rate frames gives its first ``clip_frames`` consecutive frames (padded
    by repeating the last one when shorter).
    """
    if n_frames < 1 or clip_frames < 1 or sample_rate < 1:
        raise ValueError(f"bad window plan: {n_frames=}, {clip_frames=}, {sample_rate=}")
    hop = clip_frames * sample_rate if hop is None else hop
    if hop < 1:
        raise ValueError(f"hop must be at least 1 frame, got {hop}")
    offsets = np.arange(clip_frames) * sample_rate  # (clip_frames,)
    if official_compat:
        return _official_windows(n_frames, clip_frames, sample_rate, hop, offsets)
    last_start = n_frames - 1 - int(offsets[-1])
    if last_start < 0:
        return [np.minimum(offsets, n_frames - 1)]
    return [start + offsets for start in range(0, last_start + 1, hop)]


def _official_windows(n_frames, clip_frames, sample_rate, hop, offsets) -> list[np.ndarray]:
    if hop % sample_rate:  # the official hop is stride · sample_rate
        raise ValueError(f"official windows need a hop that is a multiple of {sample_rate}")
    span = clip_frames * sample_rate
    if n_frames <= span:
        return [np.minimum(np.arange(clip_frames), n_frames - 1)]
    return [start + offsets for start in range(0, n_frames - span, hop)]


def resize_frames(frames: np.ndarray, img_size: int) -> np.ndarray:
    """(n, H, W, 3) uint8 -> (n, S, S, 3), resized only when H or W differs from S."""
    if frames.shape[1:3] == (img_size, img_size):
        return frames
    import cv2

    shrink = frames.shape[1] > img_size or frames.shape[2] > img_size
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    size = (img_size, img_size)
    return np.stack([cv2.resize(frame, size, interpolation=interpolation) for frame in frames])


def frames_to_clips(frames: np.ndarray, clip_frames: int) -> torch.Tensor:
    """(b·T, S, S, 3) uint8 RGB -> (b, 3, T, S, S) float in [0, 1]; no mean/std normalisation."""
    clips = torch.from_numpy(np.ascontiguousarray(frames)).unflatten(0, (-1, clip_frames))
    return clips.permute(0, 4, 1, 2, 3).float() / 255.0  # (b, T, S, S, 3) -> (b, 3, T, S, S)


FrameReader = Callable[[np.ndarray], np.ndarray]  # frame indices -> (n, H, W, 3) uint8


def read_clips(read: FrameReader, windows: list[np.ndarray], img_size: int) -> torch.Tensor:
    """The clips (b, 3, T, S, S) of ``windows``, decoding and resizing each frame once."""
    indices = np.concatenate(windows)
    unique, position = np.unique(indices, return_inverse=True)
    frames = resize_frames(read(unique), img_size)[position]  # (b·T, S, S, 3)
    return frames_to_clips(frames, len(windows[0]))


def frame_reader(
    path: Path, crop_face: bool, cropper: FaceCropper | None
) -> tuple[FrameReader, int]:
    """How to read frames of ``path`` and how many there are: decoded from the file, or the
    aligned faces that ``cropper`` makes of it when ``crop_face``. A cropper may return the
    faces as an array or, to keep memory bounded, the path of an aligned face video."""
    if crop_face:
        cropper = cropper or default_face_cropper
        if cropper is None:
            raise ValueError("crop_face=True needs face_cropper=<video path -> aligned faces>")
        faces = cropper(path)
        if not isinstance(faces, str | Path):
            return _array_reader(path, np.asarray(faces))
        path = Path(faces)
    n_frames = probe(path).n_frames
    return (lambda indices: read_frames(path, indices.tolist())), n_frames


def _array_reader(path: Path, faces: np.ndarray) -> tuple[FrameReader, int]:
    if faces.ndim != 4 or len(faces) == 0 or faces.shape[-1] != 3:
        raise InputError(path, f"the face cropper gave no face frames (shape {faces.shape})")
    return (lambda indices: faces[indices]), len(faces)


REDUCTIONS = ("none", "mean", "max")


def check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be none, mean or max, not {reduction!r}")


def reduce_windows(features: torch.Tensor, reduction: str) -> torch.Tensor:
    """Window features (n_windows, ...) as they are (``none``), or their mean or maximum."""
    check_reduction(reduction)
    if reduction == "mean":
        return features.mean(dim=0)
    return features.amax(dim=0) if reduction == "max" else features


class Marlin(MarlinModel):
    """A MARLIN model for feature extraction and fine-tuning (an ``nn.Module``).

    Its state dict has the official layout; build it with ``from_file`` or ``from_online``, and
    write it with ``save`` (or ``checkpoints.export_official`` for the official package).
    """

    @classmethod
    def from_file(
        cls,
        model_name: str | Path | ModelSize | Mapping | None,
        path: str | Path | None = None,
        *,
        full: bool | None = None,
        trusted: bool = False,
    ) -> Marlin:
        """Weights from a released ``.pt``, one of ours, or a Lightning ``.ckpt``, loaded
        strictly: ``from_file("marlin_vit_base_ytf", "path/to/marlin.pt")`` as in the official
        package, or ``from_file(path)``.

        ``model_name`` is a released model's name, a registered size (or a ModelSize, or a
        mapping of one), or None; it must agree with the geometry our files record, and gives
        other files theirs (without it, it is read from their shapes, refused when ambiguous).
        ``full=None`` keeps the decoder if the file has one, as the official package does.
        """
        if path is None:  # from_file(path)
            model_name, path = None, model_name
        return load_model(path, model_name, full, model_class=cls, trusted=trusted)

    @classmethod
    def from_online(
        cls, model_name: str, full_model: bool = False, *, cache: str | Path | None = None
    ) -> Marlin:
        """The released weights ``model_name`` (marlin_vit_{small,base,large}_ytf), downloaded
        once into ``cache`` (default ``cache_dir()``); ``full_model`` takes the decoder too."""
        file_name = release_file(model_name, full_model)
        path = fetch_release(file_name, Path(cache) if cache else cache_dir())
        try:
            return cls.from_file(get_size(file_name.split(".")[0]), path, full=full_model)
        except InputError as err:  # e.g. an interrupted or altered copy in the cache
            raise InputError(path, f"{err.reason}; delete it to download it again") from err

    @classmethod
    def clean_cache(cls, verbose: bool = True, *, cache: str | Path | None = None) -> None:
        """Delete the downloaded released weights from ``cache`` (default ``cache_dir()``);
        other files there are left alone."""
        for path in released_files(Path(cache) if cache else cache_dir()):
            path.unlink()
            if verbose:
                print(f"deleted {path}")

    @property
    def device(self) -> torch.device:
        return self.encoder.norm.weight.device

    def save(
        self, path: str | Path, full: bool | None = None, provenance: Mapping | None = None
    ) -> Path:
        """Write the weights with their geometry (``checkpoints.save_encoder``), so that
        ``from_file`` rebuilds exactly this model; ``full=False``: the encoder only, ``None``:
        the decoder too if there is one. ``provenance`` adds to ``{"kind": "saved"}``."""
        full = self.has_decoder if full is None else full
        return save_encoder(self, path, {"kind": "saved", **(provenance or {})}, full=full)

    def extract_features(self, x: torch.Tensor, keep_seq: bool = True) -> torch.Tensor:
        """Clip (B, 3, T, H, W) in [0, 1] -> (B, N, D) per-token features (the official
        default), or (B, D) pooled with ``keep_seq=False``.

        Runs in the caller's grad mode: wrap in ``torch.no_grad()`` to extract, leave it out
        to fine-tune, whether the module is in train or eval mode.
        """
        return self.encoder.extract_features(x, keep_seq=keep_seq)

    def extract_video(
        self,
        video_path: str | Path,
        crop_face: bool = False,
        sample_rate: int = 2,
        stride: int | None = None,
        reduction: str = "none",
        keep_seq: bool = False,
        detector_device: str | None = None,
        *,
        batch_size: int = 4,
        official_compat: bool = False,
        face_cropper: FaceCropper | None = None,
    ) -> torch.Tensor:
        """Features of a face video, one row per window of ``plan_windows``.

        Returns (n_windows, D), or (n_windows, N, D) with ``keep_seq``; ``reduction`` "mean" or
        "max" reduces over windows. Windows take every ``sample_rate``-th frame and start every
        ``stride · sample_rate`` frames, as the official package's; ``stride=None`` is the
        model's clip length, 16 for every released model (the official default), so windows
        are back to back. The video is read as pre-cropped faces, resized to the model's input
        if needed. With ``crop_face``, ``face_cropper`` (or the module's
        ``default_face_cropper``) turns the video into aligned face frames first; our default
        tracker runs on the CPU, so ``detector_device`` (the official detector's device) is
        accepted and has no effect on it. ``batch_size`` clips go through the encoder at once,
        under ``torch.inference_mode``.
        """
        check_reduction(reduction)
        read, n_frames = frame_reader(Path(video_path), crop_face, face_cropper)
        clip_frames = self.size.n_frames
        hop = (clip_frames if stride is None else stride) * sample_rate
        windows = plan_windows(n_frames, clip_frames, sample_rate, hop, official_compat)
        return reduce_windows(
            self.features_of_windows(read, windows, keep_seq, batch_size), reduction
        )

    @torch.inference_mode()
    def features_of_windows(
        self, read: FrameReader, windows: list[np.ndarray], keep_seq: bool, batch_size: int
    ) -> torch.Tensor:
        """(n_windows, D), or (n_windows, N, D) with ``keep_seq``; ``batch_size`` clips at once."""
        features = []
        for first in range(0, len(windows), batch_size):
            clips = read_clips(read, windows[first : first + batch_size], self.size.img_size)
            features.append(self.extract_features(clips.to(self.device), keep_seq=keep_seq))
        return torch.cat(features)
