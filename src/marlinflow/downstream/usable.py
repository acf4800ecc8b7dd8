"""The videos preprocessing kept: id -> face clip, as the workflow lists them for every protocol.

The workflow writes one list per data set (``usable_faces.txt``: a face clip path a line, from
the parse records), and gives that same file to feature extraction, the probe and fine-tuning,
so that every protocol sees the same videos. By hand, a folder of ``<id>.mp4`` clips does too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from marlinflow.errors import InputError


@dataclass(frozen=True)
class UsableClips:
    clips: dict[str, Path]  # video id -> its face clip
    source: Path  # the list or folder they came from, named in messages

    @classmethod
    def read(cls, path: str | Path) -> UsableClips:
        """A list file (one face clip path a line; the id is the file's stem) or a folder."""
        path = Path(path)
        if path.is_dir():
            return cls({clip.stem: clip for clip in sorted(path.glob("*.mp4"))}, path)
        try:
            lines = path.read_text().splitlines()
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(path, f"not a readable list of face clips ({err})") from err
        clips = [Path(line.strip()) for line in lines if line.strip()]
        return cls({clip.stem: clip for clip in clips}, path)

    def clip(self, video_id: str) -> Path:
        """The video's face clip; InputError if preprocessing did not keep it."""
        if video_id not in self.clips:
            raise InputError(
                self.source,
                f"{video_id}: not usable after preprocessing "
                "(its reason is in the data set's parse summary)",
            )
        return self.clips[video_id]
