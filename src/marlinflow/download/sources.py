"""What a manifest's ``source`` names: a local file, a folder of frames, a URL or a YouTube video.

A manifest row says where its video comes from in one string. The kinds are told apart by form
alone, so the same manifest means the same thing on every machine:

- ``http://``, ``https://`` URLs: a direct download (except YouTube's hosts, below);
- ``file://`` URLs and paths: a local file, or a folder of frame images;
- an 11-character YouTube id, or a youtube.com / youtu.be URL: fetched with yt-dlp;
- ``ytdl:<url>``: any page yt-dlp understands (Vimeo, a site's embedded player, ...).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

YOUTUBE_ID = re.compile(r"[A-Za-z0-9_-]{11}")
YOUTUBE_HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com", "youtu.be", "music.youtube.com"}
YTDL_PREFIX = "ytdl:"


class Kind(enum.Enum):
    LOCAL = "local"
    FRAMES = "frames"
    HTTP = "http"
    YTDL = "ytdl"


@dataclass(frozen=True)
class Source:
    """A resolved source: its kind and where to get it (a path for local kinds, a URL otherwise)."""

    kind: Kind
    location: str

    @property
    def path(self) -> Path:
        return Path(self.location)


def youtube_url(video_id: str) -> str:
    """The watch page of a YouTube id (what yt-dlp is given)."""
    return f"https://www.youtube.com/watch?v={video_id}"


def resolve(source: str, base: str | Path | None = None) -> Source:
    """Tell what ``source`` is; relative paths are taken inside ``base`` (default: the cwd)."""
    source = source.strip()
    if source.startswith(YTDL_PREFIX):
        return Source(Kind.YTDL, source[len(YTDL_PREFIX) :])
    url = urlparse(source)
    if url.scheme in ("http", "https"):
        host = (url.hostname or "").lower()
        return Source(Kind.YTDL if host in YOUTUBE_HOSTS else Kind.HTTP, source)
    if url.scheme == "file":
        return _local(Path(url2pathname(url.path)))  # which also decodes %20 etc.
    path = Path(source).expanduser()
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    if YOUTUBE_ID.fullmatch(source) and not path.exists():
        return Source(Kind.YTDL, youtube_url(source))
    return _local(path)


def _local(path: Path) -> Source:
    return Source(Kind.FRAMES if path.is_dir() else Kind.LOCAL, str(path))
