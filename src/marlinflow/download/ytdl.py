"""Fetch a YouTube video (or any page yt-dlp understands) through yt-dlp's Python API.

The format preferred is mp4 at most 720p: enough for 224x224 face crops, and the size most
sources keep. Without an ffmpeg binary yt-dlp cannot merge separate video and audio streams, so
it is then asked for single-file formats only (a video-only stream is fine: the pipeline reads
frames). Start/end cuts are made afterwards with PyAV, which needs no ffmpeg either.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from marlinflow.errors import InputError
from marlinflow.progress import progress

log = logging.getLogger(__name__)
FORMAT_MERGED = "bv*[height<=?720][ext=mp4]+ba[ext=m4a]/b[height<=?720][ext=mp4]/b[height<=?720]/b"
FORMAT_SINGLE = "b[height<=?720][ext=mp4]/bv*[height<=?720][ext=mp4]/b[height<=?720]/b"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class YtdlOptions:
    socket_timeout: float = 30.0
    retries: int = 4


def fetch_ytdl(url: str, folder: Path, options: YtdlOptions = YtdlOptions()) -> Path:
    """Download ``url`` into the empty ``folder``; the path of the file written."""
    params = {
        "format": FORMAT_MERGED if shutil.which("ffmpeg") else FORMAT_SINGLE,
        "merge_output_format": "mp4",
        "outtmpl": str(folder / "video.%(ext)s"),
        "noplaylist": True,
        "socket_timeout": options.socket_timeout,
        "retries": options.retries,
        "fragment_retries": options.retries,
        "extractor_retries": min(options.retries, 3),
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": _Quiet(),
    }
    import yt_dlp  # here, not at the top: every download job and workflow parse imports this module

    with progress(what=f"download {url}", unit="B", unit_scale=True) as bar:
        params["progress_hooks"] = [_advancing(bar)]
        try:
            with yt_dlp.YoutubeDL(params) as ydl:
                ydl.download([url])
        except yt_dlp.utils.DownloadError as err:
            raise InputError(url, f"yt-dlp: {clean_message(str(err))}") from err
    return _written(url, folder)


def _advancing(bar):
    """A yt-dlp progress hook that shows the bytes of the file being fetched on ``bar`` (from 0
    again for each file: the video, then the audio when they come apart)."""
    fetching = {"file": None}

    def advance(status: dict) -> None:
        total = status.get("total_bytes") or status.get("total_bytes_estimate")
        if status.get("filename") != fetching["file"]:
            fetching["file"] = status.get("filename")
            bar.reset(total=total)
        elif total and bar.total != total:
            bar.total = total
        done = status.get("downloaded_bytes") or 0
        bar.update(max(0, done - bar.n))

    return advance


def _written(url: str, folder: Path) -> Path:
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.endswith((".part", ".ytdl"))]
    if len(files) != 1:
        raise InputError(url, f"yt-dlp left {len(files)} files instead of one video")
    return files[0]


def clean_message(message: str) -> str:
    """yt-dlp's error text without colours, the ERROR: tag or the extractor prefix."""
    message = ANSI.sub("", message).strip()
    message = re.sub(r"^ERROR:\s*", "", message)
    message = re.sub(r"^\[[\w:]+\]\s*[\w-]+:\s*", "", message)  # "[youtube] abc: Video ..."
    message = message.splitlines()[0] if message else "download failed"
    return re.sub(r"\s*\(caused by .*$", "", message)  # the same text again, wrapped


class _Quiet:
    """Route yt-dlp's messages into logging instead of the terminal."""

    def debug(self, msg: str) -> None:
        log.debug(msg)

    def info(self, msg: str) -> None:
        log.debug(msg)

    def warning(self, msg: str) -> None:
        log.info(msg)

    def error(self, msg: str) -> None:
        log.info(msg)
