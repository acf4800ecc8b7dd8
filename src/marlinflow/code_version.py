"""Which of the package's code each workflow rule's results depend on, and its version.

Snakemake reruns a job when its rule's own code changes, not when a module the rule calls does;
DVC reruns a stage when a source path among its deps changes. Each rule therefore carries the
version of the code its results depend on as a param (a change reruns its jobs), and its DVC
stage lists the same paths among its deps, so that when DVC decides a stage must run, the jobs
whose code changed are made again. Code that only decides which jobs exist (the experiment's
plan, the layout) is not listed: changing it makes no result different.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent

# what every lip-sync rule's networks, videos and device come from
LIPSYNC_CODE = (
    "lipsync",
    "audio",
    "models",
    "weights",
    "video",
    "features.py",
    "compute/devices.py",
)

# rule -> paths in the package (folders or modules) that its results depend on.
RULE_CODE: dict[str, tuple[str, ...]] = {
    "make_sample": ("sample.py", "video", "face"),
    "write_manifest": ("datasets", "manifest.py"),
    "download_video": ("download", "video"),
    "track_video": ("face", "video"),
    "parse_video": ("face", "video", "masking.py", "models/registry.py"),
    "contact_sheet": ("face", "video"),
    "audio_video": ("audio", "face/store.py"),
    "build_task": ("datasets", "downstream"),
    "pretrain": (
        "pretrain",
        "models",
        "masking.py",
        "weights",
        "video",
        "face/store.py",
        "downstream/splits.py",
    ),
    "random_encoder": ("models", "weights", "downstream/encoders.py"),
    "import_encoder": ("models", "weights"),
    "extract_features": ("extract.py", "features.py", "models", "weights", "video", "compute"),
    "probe": ("downstream",),
    "finetune": ("downstream", "models", "weights", "video", "compute"),
    "lipsync_expert": (*LIPSYNC_CODE, "downstream/encoders.py"),
    "lipsync_generator": LIPSYNC_CODE,
    "lipsync_eval": (*LIPSYNC_CODE, "face/store.py"),
    "report_html": ("report",),
}


@cache
def code_version(rule: str) -> str:
    """A digest of the source files ``rule``'s results depend on (:data:`RULE_CODE`)."""
    digest = hashlib.sha256()
    for part in RULE_CODE[rule]:
        path = PACKAGE / part
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            digest.update(file.relative_to(PACKAGE).as_posix().encode() + b"\0")
            digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
