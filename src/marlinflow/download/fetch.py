"""Bring one source into one video file, checked to be a real video, written atomically.

Whatever the source, ``dest`` appears only once it is complete, verified (sha256 when given) and
decodable with at least one frame; an interrupted or failed fetch never leaves a file that looks
complete. A download in progress lives in ``<dest>.part`` (kept for the next run to resume).

The stored file is what was fetched, under the suffix of its real container: a WebM stays
``.webm`` and a Matroska ``.mkv`` (``dest``'s suffix is replaced; the stage record names the
file). Only videos made here, cut to a window or encoded from frame images, are H.264 ``.mp4``.
A user's local file is copied (a reflink where the file system can share blocks), never
hard-linked: editing the source afterwards leaves the downloaded copy as it was.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from marlinflow.atomic import atomic_path
from marlinflow.download.encode import cut
from marlinflow.download.frames import YTF_FPS, encode_frames
from marlinflow.download.http import RetryPolicy, download, sha256_of
from marlinflow.download.sources import Kind, resolve
from marlinflow.download.ytdl import YtdlOptions, fetch_ytdl
from marlinflow.errors import Category, InputError, VideoError
from marlinflow.video.io import VideoInfo, container_suffix, probe

DEFAULT_POLICY = RetryPolicy()
MAX_GAPS_LISTED = 20  # a record stays readable; the count covers the rest
ENCODED_SUFFIX = ".mp4"  # what marlinflow.video.writer writes (cut windows, frame folders)
FICLONE = 0x40049409  # Linux ioctl: make a file share another's blocks (btrfs, XFS, bcachefs)


@dataclass
class FetchResult:
    path: Path
    kind: str
    info: VideoInfo
    attempts: int = 1
    gaps: list[tuple[int, int]] = dataclasses.field(default_factory=list)  # frame folders only

    def stats(self) -> dict[str, Any]:
        """What a stage record keeps about the fetched video."""
        stats = {
            "kind": self.kind,
            "bytes": self.path.stat().st_size,
            "frames": self.info.n_frames,
            "video_fps": self.info.fps,
            "width": self.info.width,
            "height": self.info.height,
            "seconds": round(self.info.duration, 3),
            "attempts": self.attempts,
        }
        if self.kind == Kind.FRAMES.value:  # where the numbering jumps: (last, next) numbers
            stats["missing_frames"] = sum(after - before - 1 for before, after in self.gaps)
            stats["gaps"] = [list(gap) for gap in self.gaps[:MAX_GAPS_LISTED]]
        return stats


def fetch(
    source: str,
    dest: str | Path,
    *,
    sha256: str | None = None,
    start: float | None = None,
    end: float | None = None,
    base: str | Path | None = None,
    fps: float = YTF_FPS,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> FetchResult:
    """Fetch ``source`` (see :mod:`marlinflow.download.sources`) into the video file ``dest``,
    its suffix replaced by that of the file's container (the result's ``path``).

    ``start``/``end`` (seconds) keep that window only; ``fps`` is the rate given to frame
    folders; ``policy`` bounds network retries. Bad sources raise :class:`InputError` (or
    :class:`VideoError`) naming the source and the reason.
    """
    _check_window(source, start, end)
    resolved = resolve(source, base)
    dest = Path(dest)
    if resolved.kind is Kind.FRAMES:
        return _from_frames(source, resolved.path, dest, sha256, start, end, fps)
    if resolved.kind is Kind.LOCAL:
        if not resolved.path.is_file():
            raise InputError(resolved.path, "no such file", Category.NOT_FOUND)
        info = _finish(source, resolved.path, dest, sha256, start, end, owned=False)
        return FetchResult(Path(info.path), resolved.kind.value, info)
    if resolved.kind is Kind.HTTP:
        part = dest.with_name(dest.name + ".part")
        dest.parent.mkdir(parents=True, exist_ok=True)
        attempts = download(resolved.location, part, policy)
        name = Path(urlparse(resolved.location).path).name  # its suffix names the container
        info = _finish(source, part, dest, sha256, start, end, owned=True, name=name)
        return FetchResult(Path(info.path), resolved.kind.value, info, attempts)
    options = YtdlOptions(socket_timeout=policy.timeout, retries=policy.retries)
    return _from_ytdl(source, resolved.location, dest, sha256, start, end, options)


def _check_window(source: str, start: float | None, end: float | None) -> None:
    if start is not None and start < 0:
        raise InputError(source, f"start {start} s is negative")
    if end is not None and end <= (start or 0):
        raise InputError(source, f"end {end} s is not after start {start or 0} s")


def _from_frames(source, folder, dest, sha256, start, end, fps) -> FetchResult:
    if sha256:
        raise InputError(source, "a sha256 cannot be checked for a folder of frames")
    dest = dest.with_suffix(ENCODED_SUFFIX)
    with atomic_path(dest) as tmp:
        report = encode_frames(folder, tmp, fps, start, end)
        info = _probe(tmp, source, discard=False)
    info = dataclasses.replace(info, path=str(dest))
    return FetchResult(dest, Kind.FRAMES.value, info, gaps=report.gaps)


def _from_ytdl(source, url, dest, sha256, start, end, options) -> FetchResult:
    dest.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.ytdl."))
    try:
        raw = fetch_ytdl(url, folder, options)
        info = _finish(source, raw, dest, sha256, start, end, owned=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return FetchResult(Path(info.path), Kind.YTDL.value, info)


def _finish(
    source, raw: Path, dest: Path, sha256, start, end, owned: bool, name: str = ""
) -> VideoInfo:
    """Verify ``raw`` and make ``dest`` from it (cut to the window when one is given), under
    the suffix of its container (``name``, else raw's own name, tells the container's family
    apart: .mov or .mp4, .webm or .mkv). The info's path is the file made.

    ``owned``: raw is our own download, deleted when it proves bad and moved when it is good.
    """
    if sha256:
        _verify(source, raw, sha256, owned)
    info = _probe(raw, source, discard=owned)
    if start is None and end is None:
        dest = dest.with_suffix(container_suffix(raw, name or raw.name))
        _place(raw, dest, owned)
        return dataclasses.replace(info, path=str(dest))
    dest = dest.with_suffix(ENCODED_SUFFIX)
    with atomic_path(dest) as tmp:
        try:
            cut(raw, tmp, start, end)
        except VideoError as err:
            if owned:  # the window will not fit on the next run either
                raw.unlink()
            raise VideoError(
                source, f"{err.reason} (the video lasts {info.duration:.2f} s)"
            ) from err
        info = _probe(tmp, source, discard=False)
    if owned:
        raw.unlink()
    return dataclasses.replace(info, path=str(dest))


def _verify(source: str, raw: Path, expected: str, owned: bool) -> None:
    actual = sha256_of(raw)
    if actual != expected.strip().lower():
        if owned:
            raw.unlink()
        reason = f"sha256 mismatch: expected {expected}, got {actual}"
        raise InputError(source, reason, Category.CHECKSUM_MISMATCH)


def _probe(path: Path, source: str, discard: bool) -> VideoInfo:
    """``probe(path)``, with a failure blamed on the source (and a bad download deleted)."""
    try:
        return probe(path)
    except VideoError as err:
        error = err if err.category is Category.CORRUPT else _not_video(path, err.reason)
        if discard:
            path.unlink(missing_ok=True)
        raise VideoError(source, error.reason, error.category) from err


def _not_video(path: Path, reason: str) -> VideoError:
    with open(path, "rb") as body:
        head = body.read(512).lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<?xml", b"{")):
        kind = "an HTML page" if b"html" in head else "a text document"
        reason = f"the body is {kind}"
    return VideoError(path, f"not a video: {reason}", Category.NOT_A_VIDEO)


def _place(raw: Path, dest: Path, owned: bool) -> None:
    """Move our download into place, or copy a user's file, atomically."""
    if owned:
        os.replace(raw, dest)
        return
    with atomic_path(dest) as tmp:
        copy_file(raw, tmp)


def copy_file(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst``: a reflink where the file system shares blocks between files
    (instant, no space used until either changes), else a byte copy. Never a hard link, which
    would make the copy change with its source."""
    if sys.platform == "linux":
        import fcntl

        with open(src, "rb") as source, open(dst, "wb") as target:
            try:
                fcntl.ioctl(target.fileno(), FICLONE, source.fileno())
                return
            except OSError:  # ext4, tmpfs, another file system: no shared blocks
                pass
    shutil.copyfile(src, dst)
