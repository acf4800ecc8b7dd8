"""Video decoding, clip sampling and writing."""

from marlinflow.video.io import VideoInfo, iter_frames, probe, read_frames

__all__ = ["VideoInfo", "iter_frames", "probe", "read_frames"]
