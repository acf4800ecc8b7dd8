"""The lip-sync section: per encoder, its expert's held-out sync and offset accuracy and, for the
encoders a generator was trained against, the generator's LSE-D / LSE-C and FID; the experts'
sync-offset curves; generated mouths beside the real ones.

LSE scores of a randomly initialised SyncNet (no weights file given: the embedded sample) are
labelled as such in the table and the text: they show that the step runs, not lip sync.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from marlinflow.report import figures
from marlinflow.report.html import heading, image, paragraph, table
from marlinflow.report.inputs import Absent, Inputs, Missing, copy_figure

COLUMNS = [
    "encoder",
    "sync acc",
    "offset acc",
    "offset acc ±1",
    "held-out videos",
    "LSE-D",
    "LSE-C",
    "FID",
    "SyncNet",
]


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def syncnet_text(metrics: dict[str, Any]) -> str:
    entry = metrics.get("syncnet") or {}
    if entry.get("real"):
        return Path(str(entry.get("weights", ""))).name
    return "RANDOM weights: not LSE"


def lipsync_table(inputs: Inputs, dataset: str) -> pd.DataFrame:
    """One row per encoder whose expert has its metrics; the generator's columns where one was
    trained against that expert and scored (empty otherwise)."""
    entry = inputs.plan.lipsync[dataset]
    rows = []
    for encoder, path in entry["experts"].items():
        expert = read_json(inputs.plan.path(path))
        if expert is None:
            continue
        row = {
            "encoder": encoder,
            "sync acc": expert.get("sync_accuracy", np.nan),
            "offset acc": _number(expert.get("offset_accuracy")),
            "offset acc ±1": _number(expert.get("offset_accuracy_1")),
            "held-out videos": expert.get("videos", 0),
        }
        generator = (entry.get("generators") or {}).get(encoder)
        scored = read_json(inputs.plan.path(generator["metrics"])) if generator else None
        if scored is not None:
            fid = scored.get("fid")
            row |= {
                "LSE-D": scored.get("lse_d", np.nan),
                "LSE-C": scored.get("lse_c", np.nan),
                "FID": np.nan if fid is None else fid,
                "SyncNet": syncnet_text(scored),
            }
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS).fillna({"SyncNet": ""})


def real_row(inputs: Inputs, dataset: str) -> pd.DataFrame:
    """SyncNet's scores of the real frames (the level of a perfect generator), per generator."""
    rows = []
    for encoder, files in (inputs.plan.lipsync[dataset].get("generators") or {}).items():
        scored = read_json(inputs.plan.path(files["metrics"]))
        if scored is not None:
            rows.append(
                {
                    "held-out frames of": encoder,
                    "LSE-D real": scored.get("lse_d_real", np.nan),
                    "LSE-C real": scored.get("lse_c_real", np.nan),
                    "SyncNet": syncnet_text(scored),
                }
            )
    return pd.DataFrame(rows)


def offset_curves(inputs: Inputs, dataset: str) -> dict[str, tuple[list[int], list[float]]]:
    """Encoder -> (offsets, mean score over the held-out videos) of its expert."""
    curves = {}
    for encoder, path in inputs.plan.lipsync[dataset]["experts"].items():
        expert = read_json(inputs.plan.path(path))
        if expert and expert.get("curves"):
            scores = np.mean([np.asarray(c) for c in expert["curves"].values()], axis=0)
            curves[encoder] = (list(expert["offsets"]), [float(s) for s in scores])
    return curves


def lipsync_parts(inputs: Inputs) -> list[str]:
    if not inputs.plan.lipsync:
        raise Absent("no lip-sync evaluation in this experiment (suite protocol lipsync)")
    parts = []
    for dataset in inputs.plan.lipsync:
        frame = lipsync_table(inputs, dataset)
        if frame.empty:
            continue
        parts += [heading(f"Lip sync on {dataset}"), table(frame)]
        parts.append(
            paragraph(
                "sync acc: the expert's share of held-out in-sync and shifted pairs called right; "
                "offset acc: held-out videos whose best-scoring audio offset is the true one "
                "(within a frame: ±1). LSE-D (lower is better), LSE-C (higher) and FID (lower) "
                "score the generator trained against that encoder's frozen expert."
            )
        )
        if (frame["SyncNet"].str.startswith("RANDOM")).any():
            parts.append(
                paragraph(
                    "SyncNet ran with RANDOM weights (no lipsync.syncnet file given): its "
                    "LSE-D / LSE-C columns only show that scoring runs; they are not lip-sync "
                    "error and are not comparable with published LSE numbers.",
                    "banner",
                )
            )
        real = real_row(inputs, dataset)
        if not real.empty:
            parts.append(table(real))
        curves = offset_curves(inputs, dataset)
        if curves:
            out = inputs.figure(f"lipsync-offsets-{dataset}.png")
            figures.save(figures.plot_offset_curves(curves), out)
            parts.append(
                image(inputs.src(out), "Each expert's mean score over audio offsets (held out)")
            )
        for encoder, files in (inputs.plan.lipsync[dataset].get("generators") or {}).items():
            source = inputs.plan.path(files["frames"])
            if source.is_file():
                target = copy_figure(source, inputs.figure(f"lipsync-{dataset}-{encoder}.png"))
                caption = f"Real faces (top) and generated ones (bottom): {encoder}'s expert"
                parts.append(image(inputs.src(target), caption, zoom=True))
    if not parts:
        raise Missing("No lip-sync results yet (results/experiments/<exp>/lipsync/).")
    return parts


def _number(value) -> float:
    """A metric, or NaN where there is none (no held-out video long enough for the search)."""
    return np.nan if value is None else value
