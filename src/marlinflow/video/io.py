"""Read videos: probe their geometry, stream their frames, or fetch chosen frames by index.

A "video" is a file ffmpeg can read (mp4, webm, mkv, avi, ...) or a folder of frame images
(``0.1.jpg, 0.2.jpg, ...``, ordered by the numbers in their names). Frames are always RGB
``uint8`` arrays of shape (H, W, 3), whatever the source's pixel format (grayscale included),
turned upright by the file's rotation metadata. decord gives exact random access; PyAV streams.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from queue import Empty, Queue

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from marlinflow.errors import Category, VideoError
from marlinflow.video import folder
from marlinflow.video.info import VideoInfo

# The first bytes of the containers face videos come in: a file that starts like one of them but
# does not open is a damaged video (most often a download cut short), not some other file.
SIGNATURES = (
    ("MP4/MOV", 4, (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")),
    ("Matroska/WebM", 0, (b"\x1a\x45\xdf\xa3",)),
    ("AVI", 8, (b"AVI ",)),
    ("FLV", 0, (b"FLV",)),
    ("Ogg", 0, (b"OggS",)),
    ("MPEG", 0, (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")),
)
ISO_BOX_HEADER = 8  # size (4 bytes, big-endian) and type (4 bytes) of an MP4 box
# The usual suffix of a container whose demuxer is not named after one; ISO files are .mov when
# their brand is QuickTime's.
DEMUXER_SUFFIX = {"mov": "mp4", "matroska": "mkv", "mpegts": "ts", "mpeg": "mpg"}
QUICKTIME_BRAND = "qt"


def _open(path: str | Path) -> av.container.InputContainer:
    path = Path(path)
    if not path.is_file():
        raise VideoError(path, "no such file")
    if path.stat().st_size == 0:
        raise VideoError(path, "empty file", Category.CORRUPT)
    try:
        container = av.open(str(path))
    except av.FFmpegError as err:
        raise _unopenable(path, err) from err
    if not container.streams.video:
        container.close()
        raise VideoError(path, "no video stream", Category.NOT_A_VIDEO)
    return container


def _unopenable(path: Path, err: av.FFmpegError) -> VideoError:
    """Why ffmpeg cannot open ``path``: a damaged video of a known container, or no video."""
    message = err.strerror or str(err)  # without the errno and the path ffmpeg adds
    with open(path, "rb") as f:
        head = f.read(16)
    kind = next(
        (name for name, at, magics in SIGNATURES if head[at:].startswith(magics)),
        None,
    )
    if kind is None:
        return VideoError(path, f"not a readable video ({message})", Category.NOT_A_VIDEO)
    detail = _iso_damage(path) if kind == "MP4/MOV" else None
    reason = f"corrupt or truncated {kind} file: {detail or message}"
    return VideoError(path, reason, Category.CORRUPT)


def _iso_damage(path: Path) -> str | None:
    """What is wrong with an MP4's top-level boxes: one running past the end, or no index."""
    size, offset, boxes = path.stat().st_size, 0, []
    with open(path, "rb") as f:
        while offset + ISO_BOX_HEADER <= size:
            f.seek(offset)
            header = f.read(ISO_BOX_HEADER)
            length, box = int.from_bytes(header[:4], "big"), header[4:].decode("latin-1")
            if length == 1:  # a 64-bit size follows the type
                length = int.from_bytes(f.read(8), "big")
            if not (box.isascii() and box.isprintable()):
                after = f" after its '{boxes[-1]}' box" if boxes else ""
                return f"garbage where a box should start at byte {offset}{after}"
            if length < ISO_BOX_HEADER:
                break  # 0 (to the end of the file) or nonsense: stop reading boxes
            boxes.append(box)
            if offset + length > size:
                missing = "" if "moov" in boxes else ", before its index ('moov' box)"
                return f"cut short {offset + length - size} bytes into its '{box}' box{missing}"
            offset += length
    return None if "moov" in boxes else "no index ('moov' box)"


def container_suffix(path: str | Path, name: str | None = None) -> str:
    """The file suffix that names the container of ``path`` (``.mp4``, ``.webm``, ``.mkv``,
    ``.avi`` ...): the suffix of ``name`` (default: the path's own) when the container's demuxer
    reads files of that suffix, which tells apart formats one demuxer reads (.mov and .mp4,
    .webm and .mkv), else the container's usual one."""
    with _open(path) as container:
        names = container.format.name.split(",")
        suffixes = {s.lower() for s in container.format.extensions}
        brand = container.metadata.get("major_brand", "").strip()
    given = Path(name or path).suffix.lower().lstrip(".")
    if given and (given in suffixes or given in names):
        return f".{given}"
    if names[0] == "mov" and brand == QUICKTIME_BRAND:
        return ".mov"
    return f".{DEMUXER_SUFFIX.get(names[0], names[0])}"


def probe(path: str | Path) -> VideoInfo:
    """Geometry (upright) and frame count of a video, counting frames when the header lacks them."""
    if Path(path).is_dir():
        return folder.probe_folder(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        n_frames = stream.frames
        width, height = stream.codec_context.width, stream.codec_context.height
        first = next(_decode(container, path), None)
    if first is not None and int(round(first.rotation / 90)) % 2:
        width, height = height, width
    if not n_frames:  # webm/mkv and some streams do not record it
        with _open(path) as container:
            n_frames = sum(1 for _ in _decode(container, path))
    if n_frames == 0:
        raise VideoError(path, "video has no frames")
    return VideoInfo(str(path), int(n_frames), fps, int(width), int(height))


def _decode(container: av.container.InputContainer, path: str | Path) -> Iterator[av.VideoFrame]:
    try:
        yield from container.decode(video=0)
    except av.FFmpegError as err:
        reason = f"corrupt or truncated video ({err.strerror or err})"
        raise VideoError(path, reason, Category.CORRUPT) from err


def _upright_rgb(frame: av.VideoFrame, reformatter: VideoReformatter | None = None) -> np.ndarray:
    """(H, W, 3) RGB of any pixel format (gray, yuv, odd sizes), turned upright; one
    ``reformatter`` for the frames of a stream keeps its conversion context."""
    if reformatter is None:
        rgb = frame.to_ndarray(format="rgb24")
    else:
        rgb = reformatter.reformat(frame, format="rgb24").to_ndarray()
    quarter_turns = int(round(frame.rotation / 90)) % 4
    return np.ascontiguousarray(np.rot90(rgb, quarter_turns)) if quarter_turns else rgb


def iter_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Stream all frames of a video; memory stays at one frame whatever the video's length.

    A file that decodes to fewer frames than its header promises is reported as truncated.
    """
    if Path(path).is_dir():
        yield from folder.iter_folder(path)
        return
    for _, frame in iter_decoded(path):
        yield to_rgb(frame)


def iter_timed_frames(path: str | Path) -> Iterator[tuple[float, np.ndarray]]:
    """Stream (presentation time in seconds, frame); the times show variable frame rate as is."""
    for frame_time, frame in iter_decoded(path):
        yield frame_time, to_rgb(frame)


Decoded = av.VideoFrame | np.ndarray  # as the decoder made it, or a frame folder's RGB image


def iter_decoded(path: str | Path) -> Iterator[tuple[float, Decoded]]:
    """Stream (presentation time in seconds, decoded frame), the frame as the decoder made it:
    an ``av.VideoFrame`` (in its own pixel format, most often YUV 4:2:0, half the bytes of RGB;
    it stays valid after the file is closed), or the RGB array of a frame folder's image.
    :func:`to_rgb` turns either into the frame :func:`iter_frames` gives. A file that decodes
    to fewer frames than its header promises is reported as truncated."""
    if Path(path).is_dir():
        fps = folder.probe_folder(path).fps
        for index, frame in enumerate(folder.iter_folder(path)):
            yield index / fps, frame
        return
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        expected, decoded = stream.frames, 0
        for frame in _decode(container, path):
            decoded += 1
            yield float(frame.time or 0.0), frame
    if decoded == 0:
        raise VideoError(path, "video has no decodable frames")
    if expected and decoded < expected - max(2, expected // 100):
        reason = f"truncated: decoded {decoded} of {expected} frames"
        raise VideoError(path, reason, Category.CORRUPT)


def to_rgb(frame: Decoded) -> np.ndarray:
    """The upright RGB uint8 (H, W, 3) array of a frame from :func:`iter_decoded`."""
    return frame if isinstance(frame, np.ndarray) else _upright_rgb(frame)


def decoded_bytes(frame: Decoded) -> int:
    """The memory a frame from :func:`iter_decoded` holds."""
    if isinstance(frame, np.ndarray):
        return frame.nbytes
    return sum(plane.buffer_size for plane in frame.planes)


def read_frames(path: str | Path, indices: Sequence[int]) -> np.ndarray:
    """Frames at ``indices`` as (n, H, W, 3) uint8, with exact seeking (decord, upright)."""
    if Path(path).is_dir():
        return folder.read_folder_frames(path, indices)
    import decord

    try:
        reader = decord.VideoReader(str(path), num_threads=1)
    except (RuntimeError, decord.DECORDError) as err:
        raise VideoError(path, f"cannot open for random access ({err})") from err
    indices = list(indices)
    if indices and (min(indices) < 0 or max(indices) >= len(reader)):
        raise VideoError(path, f"frame index out of range 0..{len(reader) - 1}")
    frames = reader.get_batch(indices).asnumpy()
    if frames.shape[-1] != 3:  # decord keeps one channel for some gray sources
        frames = np.repeat(frames[..., :1], 3, axis=-1)
    return frames


def read_clip(path: str | Path, indices: Sequence[int]) -> np.ndarray:
    """Frames at ``indices`` (one clip: ascending, close together) as (n, H, W, 3) uint8, the
    same as :func:`read_frames`, decoding only the clip's window: a seek to the keyframe before
    its first frame, then up to its last, skipping the frames it does not keep where no other
    frame refers to them, and converting only the frames it keeps.

    Frames are numbered from their timestamps at the stream's frame rate (face clips are
    written at a constant one). Where that cannot number them as their order does (the header
    gives no frame count, or a duration other than one frame period per frame; timestamps off
    the frame grid or with a gap in the window) or an index is not found, the clip is read
    with :func:`read_frames`.
    """
    indices = [int(i) for i in indices]
    if Path(path).is_dir() or not indices or indices != sorted(indices) or indices[0] < 0:
        return read_frames(path, indices)
    with _open(path) as container:
        try:
            frames = _decode_window(container, indices)
        except av.FFmpegError as err:
            reason = f"corrupt or truncated video ({err.strerror or err})"
            raise VideoError(path, reason, Category.CORRUPT) from err
    return read_frames(path, indices) if frames is None else frames


def _decode_window(container: av.container.InputContainer, indices: list[int]) -> np.ndarray | None:
    """:func:`read_clip`'s frames, or None where timestamps do not number the frames."""
    stream = container.streams.video[0]
    stream.codec_context.thread_count = 1  # a loader worker's core, as read_frames decodes
    rate, base, start = stream.average_rate, stream.time_base, stream.start_time
    if not (rate and base and start is not None and stream.frames and stream.duration):
        return None
    if round(stream.duration * base * rate) != stream.frames:  # not one frame per period
        return None

    ticks = base * rate  # frames per timestamp unit, exactly: numerator / denominator
    per, period = ticks.numerator, ticks.denominator

    def number(pts: int) -> int | None:  # the frame at ``pts``, None if off the frame grid
        scaled = (pts - start) * per  # the frame number times ``period``, in integers
        frame = (2 * scaled + period) // (2 * period)  # rounded
        return frame if 4 * abs(scaled - frame * period) < period else None

    wanted: dict[int, np.ndarray | None] = dict.fromkeys(indices)
    seen: set[int] = set()  # frame numbers of the packets demuxed
    codec, rgb = stream.codec_context, VideoReformatter()
    container.seek(start + int(indices[0] / (rate * base)), stream=stream, backward=True)
    for packet in container.demux(stream):
        at = None if packet.pts is None else number(packet.pts)
        if packet.pts is not None:
            if at is None:
                return None
            seen.add(at)
        # a frame the clip does not keep need not be decoded unless others refer to it
        codec.skip_frame = "NONREF" if at is not None and at not in wanted else "DEFAULT"
        for frame in packet.decode():
            at = None if frame.pts is None else number(frame.pts)
            if at is None:
                return None
            if at in wanted and wanted[at] is None:
                wanted[at] = _upright_rgb(frame, rgb)
        if all(frame is not None for frame in wanted.values()):
            break
    if any(frame is None for frame in wanted.values()):
        return None
    if not seen.issuperset(range(indices[0], indices[-1] + 1)):  # a gap: frames dropped
        return None
    return np.stack([wanted[i] for i in indices])


def prefetch(frames: Iterable[np.ndarray], depth: int = 8) -> Iterator[np.ndarray]:
    """Decode ahead in a background thread, at most ``depth`` frames, so decoding overlaps with
    the consumer's work on another core. Errors of the producer are raised in the consumer."""
    queue: Queue = Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for frame in frames:
                if stop.is_set():
                    return
                queue.put(frame)
            queue.put(done)
        except BaseException as err:  # handed over to the consumer
            queue.put(err)

    worker = threading.Thread(target=produce, daemon=True)
    worker.start()
    try:
        while (item := queue.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(Empty):
                queue.get(timeout=0.05)
