"""Data sets as manifests: build one from a data set's own files, or read the user's own.

``marlinflow manifest`` writes the manifest of the configured data set. Gated data sets
(VoxCeleb2, FaceForensics++, CMU-MOSEI, DFEW, and YouTube Faces' frames) are read from a folder the
user downloaded under the data set's licence; a missing folder gets a message saying what to
download, from where, and where to put it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from marlinflow.errors import InputError
from marlinflow.layout import DatasetLayout
from marlinflow.manifest import read_manifest, validate_manifest, write_manifest

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class DatasetInfo:
    title: str
    page: str
    expect: str  # the file or folder inside the root that proves the download is there
    how: str  # what to download and where to put it


GATED = {
    "youtube_faces": DatasetInfo(
        "YouTube Faces",
        "https://www.cs.tau.ac.il/~wolf/ytfaces/",
        "frame_images_DB",
        "request access, download YouTubeFaces.tar.gz and unpack it so that "
        "<root>/frame_images_DB/<person>/<video>/<frame>.jpg exist",
    ),
    "celebv_hq": DatasetInfo(
        "CelebV-HQ",
        "https://github.com/CelebV-HQ/CelebV-HQ",
        "celebvhq_info.json",
        "download celebvhq_info.json from the data set's repository into <root>/ (the videos "
        "themselves are fetched from YouTube)",
    ),
    "voxceleb2": DatasetInfo(
        "VoxCeleb2",
        "https://www.robots.ox.ac.uk/~vgg/data/voxceleb/vox2.html",
        "dev/mp4",
        "request access, download the dev (and test) video parts and unpack them so that "
        "<root>/dev/mp4/<speaker>/<youtube id>/<clip>.mp4 exist",
    ),
    "faceforensics": DatasetInfo(
        "FaceForensics++",
        "https://github.com/ondyari/FaceForensics",
        "original_sequences",
        "fill in the access form, run the data set's download script for the original and "
        "manipulated videos at the chosen compression into <root>, and copy its splits/*.json to "
        "<root>/splits/",
    ),
    "cmu_mosei": DatasetInfo(
        "CMU-MOSEI",
        "https://github.com/CMU-MultiComp-Lab/CMU-MultimodalSDK",
        "Raw/Videos/Full/Combined",
        "download the raw full videos so that <root>/Raw/Videos/Full/Combined/<video id>.mp4 exist",
    ),
    "dfew": DatasetInfo(
        "DFEW",
        "https://dfew-dataset.github.io/",
        "Clip/original",
        "request access, unpack the clips so that <root>/Clip/original/<n>.avi exist, and the "
        "label folder as <root>/EmoLabel_DataSplit/",
    ),
}


def require_root(name: str, root: str | Path | None) -> Path:
    """The data set's folder, or an error saying what to download and where to put it."""
    info = GATED[name]
    if root is None:
        raise InputError(
            f"dataset.root ({name})",
            f"{info.title} is read from a folder you download from {info.page}: {info.how}; "
            "then set dataset.root to that folder",
        )
    root = Path(root)
    if not (root / info.expect).exists():
        raise InputError(
            root / info.expect,
            f"{info.title} not found: {info.how} (see {info.page})",
        )
    return root


def stable_fraction(key: str, seed: int = 0) -> float:
    """A deterministic number in [0, 1) per key: splits that do not depend on listing order."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_of(key: str, val: float = 0.1, test: float = 0.1, seed: int = 0) -> str:
    u = stable_fraction(key, seed)
    return "val" if u < val else "test" if u < val + test else "train"


def safe_id(*parts: str) -> str:
    return "__".join(_UNSAFE.sub("_", p) for p in parts)


def _natural(path: Path) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def youtube_faces(cfg: dict[str, Any]) -> pd.DataFrame:
    """One row per ``frame_images_DB/<person>/<video>`` folder; splits are identity-disjoint."""
    frames = require_root("youtube_faces", cfg["root"]) / "frame_images_DB"
    rows = [
        {
            "id": safe_id(person.name, video.name),
            "source": str(video.relative_to(frames.parent)),
            "split": split_of(person.name, 0.2, 0.0, cfg["seed"]),
            "identity": person.name,
        }
        for person in sorted(p for p in frames.iterdir() if p.is_dir())
        for video in sorted((v for v in person.iterdir() if v.is_dir()), key=_natural)
    ]
    return pd.DataFrame(rows)


def celebv_hq(cfg: dict[str, Any]) -> pd.DataFrame:
    """YouTube clips with their start/end times; the labels are read by the downstream tasks
    (:mod:`marlinflow.downstream.adapters`) from the same file."""
    info_path = require_root("celebv_hq", cfg["root"]) / "celebvhq_info.json"
    try:
        clips = json.loads(info_path.read_text())["clips"]
        return pd.DataFrame(
            {
                "id": clip_id,
                "source": clips[clip_id]["ytb_id"],
                "split": split_of(clip_id, seed=cfg["seed"]),
                "start": clips[clip_id]["duration"]["start_sec"],
                "end": clips[clip_id]["duration"]["end_sec"],
            }
            for clip_id in sorted(clips)
        )
    except (ValueError, KeyError, TypeError) as err:
        raise InputError(info_path, f"not CelebV-HQ metadata ({err})") from err


def voxceleb2(cfg: dict[str, Any]) -> pd.DataFrame:
    """dev clips become train/val (speaker-disjoint), test clips test."""
    root = require_root("voxceleb2", cfg["root"])
    rows = []
    for part in ("dev", "test"):
        for clip in sorted((root / part / "mp4").glob("*/*/*.mp4")):
            speaker, youtube = clip.parent.parent.name, clip.parent.name
            split = "test" if part == "test" else split_of(speaker, 0.05, 0.0, cfg["seed"])
            rows.append(
                {
                    "id": safe_id(speaker, youtube, clip.stem),
                    "source": str(clip.relative_to(root)),
                    "split": split,
                    "identity": speaker,
                }
            )
    return pd.DataFrame(rows)


FF_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter")


def _ff_splits(root: Path) -> dict[str, str]:
    """Video number -> split from the official ``splits/{train,val,test}.json`` pair lists."""
    splits = {}
    for split in ("train", "val", "test"):
        path = root / "splits" / f"{split}.json"
        if not path.is_file():
            raise InputError(
                path, f"FaceForensics++ split file missing: {GATED['faceforensics'].how}"
            )
        for pair in json.loads(path.read_text()):
            splits.update(dict.fromkeys(pair, split))
    return splits


def faceforensics(cfg: dict[str, Any]) -> pd.DataFrame:
    """Real and manipulated videos at one compression, in the official pair-disjoint splits."""
    root = require_root("faceforensics", cfg["root"])
    splits, compression = _ff_splits(root), cfg["compression"]
    folders = {"original": root / "original_sequences/youtube" / compression / "videos"}
    folders |= {m: root / "manipulated_sequences" / m / compression / "videos" for m in FF_METHODS}
    rows = []
    for method, folder in folders.items():
        for video in sorted(folder.glob("*.mp4")):
            target = video.stem.split("_")[0]
            if target not in splits:
                raise InputError(video, "video number is in none of the split files")
            rows.append(
                {
                    "id": safe_id(method, video.stem),
                    "source": str(video.relative_to(root)),
                    "split": splits[target],
                    "method": method,
                    "fake": int(method != "original"),
                }
            )
    return pd.DataFrame(rows)


def cmu_mosei(cfg: dict[str, Any]) -> pd.DataFrame:
    """Full videos; labels and the SDK's standard folds are joined by the downstream task."""
    folder = require_root("cmu_mosei", cfg["root"]) / "Raw/Videos/Full/Combined"
    return pd.DataFrame(
        {
            "id": safe_id(video.stem),
            "source": str(video.relative_to(folder.parents[3])),
            "split": split_of(video.stem, seed=cfg["seed"]),
        }
        for video in sorted(folder.glob("*.mp4"))
    )


DFEW_CLASSES = ("happy", "sad", "neutral", "angry", "surprise", "disgust", "fear")


def dfew(cfg: dict[str, Any]) -> pd.DataFrame:
    """One of DFEW's five folds (``dataset.fold``); a tenth of its train part becomes val."""
    root = require_root("dfew", cfg["root"])
    rows = []
    for part in ("train", "test"):
        labels = root / "EmoLabel_DataSplit" / f"{part}(single-labeled)" / f"set_{cfg['fold']}.csv"
        if not labels.is_file():
            raise InputError(labels, f"DFEW label file missing: {GATED['dfew'].how}")
        for name, label in pd.read_csv(labels).iloc[:, :2].itertuples(index=False):
            video = root / "Clip/original" / f"{int(name):05d}.avi"
            split = "test" if part == "test" else split_of(str(name), 0.1, 0.0, cfg["seed"])
            rows.append(
                {
                    "id": f"dfew{int(name):05d}",
                    "source": str(video.relative_to(root)),
                    "split": split,
                    "emotion": DFEW_CLASSES[int(label) - 1],
                }
            )
    return pd.DataFrame(rows)


def user_manifest(cfg: dict[str, Any]) -> pd.DataFrame:
    if not cfg.get("manifest"):
        raise InputError(
            "dataset.manifest", "builder 'manifest' needs dataset.manifest: a TSV path"
        )
    return read_manifest(cfg["manifest"])


def sample(cfg: dict[str, Any]) -> pd.DataFrame:
    from marlinflow.sample import sample_manifest, sample_plan

    return sample_manifest(sample_plan(cfg["sample_videos"], cfg["seed"]))


BUILDERS: dict[str, Callable[[dict[str, Any]], pd.DataFrame]] = {
    "sample": sample,
    "manifest": user_manifest,
    "youtube_faces": youtube_faces,
    "celebv_hq": celebv_hq,
    "voxceleb2": voxceleb2,
    "faceforensics": faceforensics,
    "cmu_mosei": cmu_mosei,
    "dfew": dfew,
}


def source_root(cfg: dict[str, Any]) -> str:
    """The folder relative sources are in: ``root``, else the manifest's folder (or the sample's)."""
    if cfg["root"]:
        return cfg["root"]
    if cfg["builder"] == "sample":
        return DatasetLayout(cfg["name"]).sample_sources
    return str(Path(cfg["manifest"]).parent) if cfg["manifest"] else "."


def build_manifest(cfg: dict[str, Any]) -> pd.DataFrame:
    """The validated manifest of the data set described by the config's ``dataset`` section."""
    builder = BUILDERS[cfg["builder"]]
    table = builder(cfg)
    where = cfg.get("manifest") or cfg.get("root") or cfg["builder"]
    if table.empty:
        raise InputError(where, f"no videos found for data set {cfg['name']!r}")
    table = validate_manifest(table, where)
    if cfg.get("limit"):
        table = table.sort_values("id").head(cfg["limit"]).reset_index(drop=True)
    return table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="workflow config (YAML) with a dataset section")
    parser.add_argument("out", type=Path, help="manifest TSV to write")


def run(args: argparse.Namespace) -> int:
    from marlinflow.config import load_config

    table = build_manifest(load_config(args.config)["dataset"])
    write_manifest(table, args.out)
    print(f"{args.out}: {len(table)} videos, splits {table['split'].value_counts().to_dict()}")
    return 0
