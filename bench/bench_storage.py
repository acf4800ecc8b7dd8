"""Storage per frame of each per-video step's files, on the real sample videos.

For each video: the source as given; the video the download step stores when it cuts a window
(re-encoded at the download's quality, as for YouTube clips and frame folders); the track step's
face clip (224x224) and its boxes-and-landmarks JSON; the parse step's part labels. Sizes do not
depend on the machine's load, so one run is the measurement. ``marlinflow plan`` reads the last
row (all videos together) as its storage rates.

Run: ``python bench/bench_storage.py [--samples DIR]``. Prints markdown rows:

    | video | frames | source B/frame | downloaded B/frame | face clip B/frame | track JSON B/frame | parsing B/frame |
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

DEFAULT_SAMPLES = Path(__file__).resolve().parents[1].parent / "shared/data/marlin-samples"
VIDEOS = ("video01.mp4", "video02.mp4", "video03.mp4")


def measure(video: Path, out: Path) -> dict[str, int]:
    """Bytes of each step's files for one video, and its frame count."""
    from marlinflow.download.encode import cut
    from marlinflow.face.parsing_step import parse_video
    from marlinflow.face.track_step import track_step

    downloaded = out / "raw" / video.name
    downloaded.parent.mkdir(parents=True)
    frames = cut(video, downloaded, 0.0, None)
    status = out / "faces" / f"{video.stem}.status.json"
    track = track_step(video, status)
    assert track.ok, track.reason
    parse = parse_video(status, out / "parsing" / status.name)
    assert parse.ok, parse.reason
    return {
        "frames": frames,
        "source": video.stat().st_size,
        "downloaded": downloaded.stat().st_size,
        "face clip": Path(track.outputs["video"]).stat().st_size,
        "track JSON": Path(track.outputs["track"]).stat().st_size,
        "parsing": Path(parse.outputs["labels"]).stat().st_size,
    }


def row(name: str, sizes: dict[str, int]) -> str:
    frames = sizes["frames"]
    per_frame = [f"{sizes[key] / frames:,.0f}" for key in list(sizes)[1:]]
    return f"| {name} | {frames} | " + " | ".join(per_frame) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    args = parser.parse_args()
    results = {}
    for name in VIDEOS:
        with tempfile.TemporaryDirectory() as tmp:
            results[name] = measure(args.samples / name, Path(tmp))
    for name, sizes in results.items():
        print(row(name, sizes))
    keys = next(iter(results.values()))
    print(row("all", {key: sum(r[key] for r in results.values()) for key in keys}))


if __name__ == "__main__":
    main()
