"""FaceForensics++: YouTube videos and their manipulations by five methods, at one compression.

Real and fake videos are split by the official pair lists, ``train.json``, ``val.json`` and
``test.json`` of the data set's repository (each a list of [target, source] video numbers; 720 /
140 / 140 videos), which you put in ``<root>/splits/`` (or in ``<root>`` itself). A real video
``NNN`` and a fake ``NNN_MMM`` (target_source) are in the split of their pair, and the pair is
their ``group``: the two faces of a pair, real or swapped, never sit on both sides. Without the
lists the data set is refused, saying where to put them (the paper's protocol is the official
split, and there is no other one to fall back on); lists that put a number in two splits, or a
fake whose two numbers are in different splits, are refused too. The task is real (0) vs fake
(1), over all methods or some.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from marlinflow.config.schemas import load_schema
from marlinflow.datasets.common import read_json, require_root, safe_id
from marlinflow.datasets.registry import Dataset, Gate, Option, Published, TaskBuilder
from marlinflow.downstream.tasks import Task
from marlinflow.errors import InputError

METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter")
# The download script's compression levels (its -c), which name the video folders: the same
# levels as the config's dataset.compression.
COMPRESSIONS = tuple(
    load_schema("config")["properties"]["dataset"]["properties"]["compression"]["enum"]
)

GATE = Gate(
    "https://github.com/ondyari/FaceForensics",
    "original_sequences",
    "fill in the access form, run the data set's download script for the original and "
    "manipulated videos at the chosen compression into <root>, and copy the repository's "
    "dataset/splits/{train,val,test}.json to <root>/splits/",
)
SPLITS = ("train", "val", "test")


def manifest(cfg: dict[str, Any]) -> pd.DataFrame:
    """Real and manipulated videos at one compression (the methods downloaded), in the official
    pair-disjoint splits."""
    root = require_root(DATASET, cfg["root"])
    return pd.DataFrame(
        {
            "id": safe_id(method, video.stem),
            "source": str(video.relative_to(root)),
            "split": split,
            "method": method,
            "fake": int(method != "original"),
            "group": pair,
        }
        for method, video, split, pair in _videos(root, cfg["compression"], METHODS, every=False)
    )


def forgery_task(
    root: str | Path, compression: str = "c23", methods: tuple[str, ...] = METHODS
) -> Task:
    """Real (0) vs fake (1) videos at one compression, in the official pair-disjoint splits;
    ``methods`` picks the manipulations."""
    rows = [
        {
            "id": safe_id(method, video.stem),
            "split": split,
            "label": int(method != "original"),
            "method": method,
        }
        for method, video, split, _ in _videos(Path(root), compression, methods, every=True)
    ]
    name = "faceforensics_" + ("all" if tuple(methods) == METHODS else "_".join(methods))
    return Task(f"{name}_{compression}", "binary", [], pd.DataFrame(rows))


def _videos(root: Path, compression: str, methods: tuple[str, ...], every: bool) -> list:
    """(method, video, split, pair) of the real videos and the methods' fakes; ``every``: each
    method's folder must be there (else the methods not downloaded are left out)."""
    splits = _splits(root)
    folders = {"original": root / "original_sequences/youtube" / compression / "videos"}
    folders |= {m: root / "manipulated_sequences" / m / compression / "videos" for m in methods}
    found = []
    for method, folder in folders.items():
        if every and not folder.is_dir():
            raise InputError(folder, f"FaceForensics++ {method} videos at {compression} not found")
        found += [
            (method, video, *_split(video, method, splits))
            for video in sorted(folder.glob("*.mp4"))
        ]
    return found


def _split(video: Path, method: str, splits: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """(split, pair) of a real video ``NNN`` or a fake ``NNN_MMM``: those of its pair."""
    numbers = video.stem.split("_")
    expected = 1 if method == "original" else 2
    if len(numbers) != expected or not all(number in splits for number in numbers):
        raise InputError(video, "video number is in none of the split files (NNN or NNN_MMM)")
    found = {splits[number][0] for number in numbers}
    if len(found) > 1:
        raise InputError(video, f"its two video numbers are in different splits ({sorted(found)})")
    return splits[numbers[0]]


def split_folder(root: Path) -> Path:
    """Where the official lists are: ``<root>/splits/``, else ``<root>`` when it holds them."""
    folder = root / "splits"
    return root if not folder.is_dir() and (root / "train.json").is_file() else folder


def _splits(root: Path) -> dict[str, tuple[str, str]]:
    """Video number -> (split, its pair ``NNN_MMM``) from the official pair lists."""
    splits: dict[str, tuple[str, str]] = {}
    folder = split_folder(root)
    for split in SPLITS:
        path = folder / f"{split}.json"
        if not path.is_file():
            raise InputError(path, f"FaceForensics++ split file missing: {GATE.how}")
        pairs = read_json(path)
        for line, pair in enumerate(pairs if isinstance(pairs, list) else [None]):
            if not (
                isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
            ):
                raise InputError(path, f"entry {line}: not a pair of video numbers: {pair!r}")
            for number in pair:
                if number in splits and splits[number][0] != split:
                    raise InputError(
                        path, f"video {number} is also in {splits[number][0]}.json: one split each"
                    )
                splits[number] = (split, "_".join(pair))
    return splits


# 1,000 YouTube videos, each manipulated by four methods (Rössler et al., ICCV 2019; FaceShifter
# was added to the download later). The official lists split the pairs 720/140/140.
ORIGINALS, PAPER_METHODS = 1_000, METHODS[:4]
PUBLISHED = Published(
    "Rössler et al., ICCV 2019",
    videos=ORIGINALS * (1 + len(PAPER_METHODS)),
    seconds=17.0,
    fps=30,
    width=1280,
    height=720,
    splits={"train": 0.72, "val": 0.14, "test": 0.14},
    assumed={
        "seconds": "frame counts are not in the references here: assumed 17 s (about 500 "
        "frames a video)",
        "fps": "not published here: assumed 30",
        "size": "480p to 1080p: assumed 1280x720",
    },
    task_rows=lambda options: ORIGINALS * (1 + len(options.get("methods") or PAPER_METHODS)),
)


def _build(root: Path, seed: int, compression: str, methods: list[str]) -> Task:
    return forgery_task(root, compression, tuple(methods))  # the official splits need no seed


DATASET = Dataset(
    "faceforensics",
    "FaceForensics++",
    manifest,
    gate=GATE,
    tasks=(
        TaskBuilder(
            "faceforensics",
            "the data set's root",
            _build,
            "binary",
            options=(
                Option(
                    "compression",
                    "the videos' compression, the download script's -c (raw: the paper's c0)",
                    default="c23",
                    choices=COMPRESSIONS,
                ),
                Option(
                    "methods",
                    "the manipulations, all by default",
                    default=METHODS,
                    choices=METHODS,
                    many=True,
                ),
            ),
        ),
    ),
    published=PUBLISHED,
)
