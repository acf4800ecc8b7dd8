"""Video decoding, clip sampling and writing."""

from marlinflow.video.info import VideoInfo
from marlinflow.video.io import iter_frames, iter_timed_frames, prefetch, probe, read_frames
from marlinflow.video.writer import write_video

__all__ = [
    "VideoInfo",
    "iter_frames",
    "iter_timed_frames",
    "prefetch",
    "probe",
    "read_frames",
    "write_video",
]
