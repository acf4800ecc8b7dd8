"""LRS2-BBC: spoken sentences of BBC television, face-centred clips with their sound, for lip
synchronisation.

Read in place from ``dataset.root`` as the data set ships (``mvlrs_v1/`` unpacked, or its
contents): ``main/<programme>/<utterance>.mp4`` (with a ``.txt`` transcript beside each) listed
by ``train.txt``, ``val.txt`` and ``test.txt``, and ``pretrain/<programme>/<utterance>.mp4``
listed by ``pretrain.txt``. A list line is ``<programme>/<utterance>``, in test.txt followed by
a tag (``NF``/``MV``) that is ignored. The splits are the official lists (they split by
broadcast date), so a programme's clips share one split; the programme is each clip's
``group``. ``dataset.lrs2_parts`` picks main (the default: the lip-sync protocol trains and
tests on it) and/or pretrain (all in train). A listed clip that is missing is an error naming
the list; a clip in two lists too. The clips are 25 fps with 16 kHz sound.

LRS3-TED, or any folder of talking-head videos with sound, needs no module: list the videos in
a manifest TSV of your own (``id``, ``source``, ``split``, and ``group``: for LRS3 the speaker
folder of ``trainval/<speaker>/<utterance>.mp4`` and ``test/...``, its split the folder's), set
``dataset.builder: manifest`` and ``dataset.manifest``; the audio stage reads each video's
sound from its source as it does LRS2's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from marlinflow.datasets.common import require_root, safe_id
from marlinflow.datasets.registry import Dataset, Gate, Published
from marlinflow.errors import InputError

# list file -> split, per part
LISTS = {
    "main": {"train": "train", "val": "val", "test": "test"},
    "pretrain": {"pretrain": "train"},
}
UNPACKED = "mvlrs_v1"  # the folder the archives unpack to

GATE = Gate(
    "https://www.robots.ox.ac.uk/~vgg/data/lip_reading/lrs2.html",
    "main",
    "sign the BBC's data sharing agreement, download the LRS2 archives and the file lists, "
    "unpack them into <root> (<root>/main/<programme>/<utterance>.mp4, <root>/pretrain/..., "
    "and train.txt, val.txt, test.txt, pretrain.txt in <root>)",
)


def data_root(root: str | Path | None) -> Path:
    """The folder holding ``main/``: ``dataset.root`` or its unpacked ``mvlrs_v1``."""
    if root is not None and (Path(root) / UNPACKED / GATE.expect).is_dir():
        return Path(root) / UNPACKED
    return require_root(DATASET, root)


def manifest(cfg: dict[str, Any]) -> pd.DataFrame:
    """The clips of the chosen parts, in the official splits, grouped by programme."""
    root = data_root(cfg["root"])
    rows, seen = [], {}
    for part in cfg["lrs2_parts"]:
        for list_name, split in LISTS[part].items():
            listing = root / f"{list_name}.txt"
            for key in _listed(listing):
                if key in seen and seen[key] != list_name:
                    raise InputError(listing, f"{key} is also in {seen[key]}.txt: one list each")
                seen[key] = list_name
                row = _row(root, part, key, split, listing)
                row["source"] = str(Path(row["source"]).relative_to(cfg["root"]))  # as the others
                rows.append(row)
    return pd.DataFrame(rows, columns=["id", "source", "split", "group"])


def _listed(listing: Path) -> list[str]:
    """The ``<programme>/<utterance>`` keys of one list file (a tag after a space ignored)."""
    if not listing.is_file():
        raise InputError(listing, f"LRS2 file list missing: {GATE.how}")
    keys = [line.split()[0] for line in listing.read_text().splitlines() if line.strip()]
    for key in keys:
        if key.count("/") != 1:
            raise InputError(listing, f"not a <programme>/<utterance> line: {key!r}")
    return keys


def _row(root: Path, part: str, key: str, split: str, listing: Path) -> dict[str, str]:
    programme, utterance = key.split("/")
    source = Path(part) / programme / f"{utterance}.mp4"
    if not (root / source).is_file():
        raise InputError(root / source, f"listed in {listing.name} but not found")
    return {
        "id": safe_id(part, programme, utterance),
        "source": str(root / source),
        "split": split,
        "group": programme,
    }


# The main set (the default dataset.lrs2_parts): 45,839 train, 1,082 val and 1,243 test
# utterances (Afouras et al., TPAMI 2018, Table 1), 25 fps face-centred 160x160 crops.
_MAIN = {"train": 45_839, "val": 1_082, "test": 1_243}
PUBLISHED = Published(
    "Afouras et al., TPAMI 2018",
    videos=sum(_MAIN.values()),
    seconds=3.0,
    fps=25,
    width=160,
    height=160,
    splits={split: n / sum(_MAIN.values()) for split, n in _MAIN.items()},
    assumed={"seconds": "utterances of up to 100 characters: assumed 3 s on average"},
)

DATASET = Dataset("lrs2", "LRS2-BBC", manifest, gate=GATE, published=PUBLISHED)
