"""What a pretraining run's folder holds from an earlier start, and what becomes of it.

A run continues an earlier start only when that start would have produced the same weights:
its settings and the contents of its parse records must equal this run's, except the settings
that say how long and where it runs (:data:`RESUMABLE`: a clone that raises ``epochs``
continues the pulled run). Otherwise the earlier start's files move to
``superseded/<time>/`` and the run starts afresh; nothing is deleted.

The run's declared outputs, ``encoder.pt`` and ``metrics.json``, appear only when the run has
finished: they are written to ``final/`` first and then hard-linked into the folder. The workflow
removes a job's outputs before it runs the job again; the links in ``final/`` keep the finished
result, which a rerun with the same settings and data restores without training, and a rerun with
other settings (or more epochs) moves aside with the rest of the earlier start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from marlinflow.atomic import atomic_path, write_json
from marlinflow.errors import InputError
from marlinflow.pretrain.config import PretrainConfig
from marlinflow.stages import record_paths

log = logging.getLogger(__name__)
FINGERPRINT = "fingerprint.json"
FINAL = "final"
SUPERSEDED = "superseded"
OUTPUTS = ("encoder.pt", "metrics.json")  # the run's declared outputs, in final/ first
# The workflow writes the run's settings.json (the job's input) into the folder: it stays.
KEPT_IN_PLACE = ("settings.json", SUPERSEDED)
# How long and where a run trains: changing these continues the run instead of starting afresh.
RESUMABLE = (
    "epochs",
    "steps",
    "val_every",
    "checkpoint_every_steps",
    "workers",
    "accelerator",
    "devices",
    "strategy",
    "num_nodes",
)
EXTENT = ("epochs", "steps")  # what a finished run has done
# Not settings: the folder, and the records (compared by content, in the fingerprint's data).
NOT_COMPARED = (*RESUMABLE, "run_dir", "index")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fingerprint(config: PretrainConfig) -> dict:
    """What decides the weights a run produces: the settings (bar :data:`RESUMABLE`) and the
    parse records it reads (their paths and contents), each as a sha256; and its extent."""
    values = config.to_dict()
    settings = {key: value for key, value in values.items() if key not in NOT_COMPARED}
    records = []
    for path in record_paths(config.index):
        try:
            records.append([str(path), _sha256(Path(path).read_bytes())])
        except OSError as err:
            raise InputError(path, f"parse record not readable ({err.strerror})") from err
    return {
        "settings": _sha256(json.dumps(settings, sort_keys=True).encode()),
        "data": _sha256(json.dumps(records).encode()),
        "records": len(records),
        "extent": {key: values[key] for key in EXTENT},
    }


def same_run(old: dict, new: dict) -> bool:
    return old.get("settings") == new["settings"] and old.get("data") == new["data"]


@dataclass(frozen=True)
class RunStart:
    """How a run starts in its folder: ``finished`` (its outputs were restored; nothing to
    train), ``resume`` (an earlier start of the same run is there) or afresh; ``set_aside`` is
    where an earlier start's files went, if anywhere."""

    finished: bool
    resume: bool
    set_aside: Path | None = None


def prepare(config: PretrainConfig, rank_zero: bool = True, wait_s: float = 600.0) -> RunStart:
    """Make ``config.run_dir`` ready for this run (on rank 0); other ranks wait until it is."""
    run_dir = Path(config.run_dir)
    new = fingerprint(config)
    if not rank_zero:
        return _wait_for(run_dir, new, wait_s)
    run_dir.mkdir(parents=True, exist_ok=True)
    old = _read_fingerprint(run_dir)
    earlier = _earlier_files(run_dir)
    if not earlier:
        write_json(run_dir / FINGERPRINT, new)
        return RunStart(finished=False, resume=False)
    if old is None or not same_run(old, new):
        reason = "no record of its settings" if old is None else _difference(old, new)
        aside = set_aside(run_dir, earlier)
        log.warning(
            "%s holds an earlier run (%s): moved to %s; starting afresh", run_dir, reason, aside
        )
        write_json(run_dir / FINGERPRINT, new)
        return RunStart(finished=False, resume=False, set_aside=aside)
    final = run_dir / FINAL
    if _finished(final) and old.get("extent") == new["extent"]:
        publish(run_dir)
        log.info("%s finished with these settings and data: its outputs are restored", run_dir)
        return RunStart(finished=True, resume=True)
    aside = None
    if final.exists():  # finished for a shorter extent: that result moves aside, the run goes on
        aside = set_aside(run_dir, [final, *(run_dir / name for name in OUTPUTS)])
        log.info("%s: the result of %s is kept in %s; training on", run_dir, old["extent"], aside)
    write_json(run_dir / FINGERPRINT, new)
    return RunStart(finished=False, resume=True, set_aside=aside)


def _difference(old: dict, new: dict) -> str:
    changed = [part for part in ("settings", "data") if old.get(part) != new[part]]
    return "its " + " and ".join("parse records" if p == "data" else p for p in changed) + " differ"


def _read_fingerprint(run_dir: Path) -> dict | None:
    try:
        value = json.loads((run_dir / FINGERPRINT).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _earlier_files(run_dir: Path) -> list[Path]:
    return sorted(p for p in run_dir.iterdir() if p.name not in KEPT_IN_PLACE)


def _finished(final: Path) -> bool:
    return all((final / name).is_file() for name in OUTPUTS)


def set_aside(run_dir: Path, paths: list[Path]) -> Path:
    """Move ``paths`` (those that exist) into a new ``superseded/<UTC time>/`` of ``run_dir``."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = run_dir / SUPERSEDED / stamp
    n = 1
    while target.exists():
        n += 1
        target = run_dir / SUPERSEDED / f"{stamp}-{n}"
    target.mkdir(parents=True)
    for path in paths:
        if path.exists() or path.is_symlink():
            os.replace(path, target / path.name)
    return target


def publish(run_dir: Path) -> None:
    """Link ``final/encoder.pt`` and ``final/metrics.json`` into the run's folder (atomically
    each; a file system without hard links gets copies)."""
    for name in OUTPUTS:
        with atomic_path(run_dir / name) as partial:
            partial.unlink()
            try:
                os.link(run_dir / FINAL / name, partial)
            except OSError:
                shutil.copyfile(run_dir / FINAL / name, partial)


def _wait_for(run_dir: Path, new: dict, wait_s: float) -> RunStart:
    """Another rank's view: wait until rank 0 has written this run's fingerprint."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        old = _read_fingerprint(run_dir)
        if old is not None and same_run(old, new) and old.get("extent") == new["extent"]:
            return RunStart(finished=_finished(run_dir / FINAL), resume=True)
        time.sleep(0.5)
    raise InputError(run_dir, f"rank 0 did not prepare the run folder within {wait_s:.0f} s")
