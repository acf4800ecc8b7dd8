"""Frames in the YUV 4:2:0 planes most videos are decoded to, for cropping without RGB.

A face clip is encoded as YUV 4:2:0 (``yuv420p``), and most sources decode to it. Cropping the
source's planes straight into the clip's planes skips converting the whole source frame to RGB
and the crop back to YUV: 0.18 ms instead of 0.67 a frame at 480x360, 0.35 instead of 2.0 at
720p. The chroma is resampled once instead of three times, so the crop is closer to the RGB
crop than what the encoder made of it: 48-50 dB against 44 on the samples' faces. Only frames
whose planes mean the same colours as the clip's are cropped so: 8-bit 4:2:0 in the BT.601
matrix (or untagged, which RGB conversion reads as BT.601 too) at limited range, stored
upright. Others are cropped in RGB.

A clip frame is an I420 array: (H * 3 / 2, W) uint8, the Y plane's H rows, then the U and V
planes' H / 4 rows each (``av.VideoFrame.from_ndarray(..., format="yuv420p")``).
"""

from __future__ import annotations

import av
import numpy as np

from marlinflow.video.io import Decoded

# frame.colorspace values whose matrix is BT.601: unspecified (2), BT470BG (5), SMPTE170M (6)
BT601_COLORSPACES = (2, 5, 6)
LIMITED_RANGES = (0, 1)  # unspecified, MPEG


def planes_420(frame: Decoded) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Views (no copies) of the Y (H, W), U and V (ceil(H/2), ceil(W/2)) planes of a decoded
    frame whose planes can be cropped into a clip's; None for any other frame."""
    if not isinstance(frame, av.VideoFrame) or frame.format.name != "yuv420p":
        return None
    if frame.colorspace not in BT601_COLORSPACES or frame.color_range not in LIMITED_RANGES:
        return None
    if int(round(frame.rotation / 90)) % 4:
        return None
    width, height = frame.width, frame.height
    sizes = (
        (width, height),
        ((width + 1) // 2, (height + 1) // 2),
        ((width + 1) // 2, (height + 1) // 2),
    )
    return tuple(
        np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:rows, :cols]
        for plane, (cols, rows) in zip(frame.planes, sizes, strict=True)
    )


def rgb_to_i420(rgb: np.ndarray) -> np.ndarray:
    """An RGB frame (H, W, 3), even sides, as the I420 array the encoder would make of it."""
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    return frame.reformat(format="yuv420p").to_ndarray()
