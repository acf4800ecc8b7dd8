"""The pretraining sections: a table of the pretraining runs (where their weights started, their
precision, their length), learning curves and reconstructions per pretrained encoder, and the
Fasking masks those encoders were trained with, drawn on evaluation videos."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pandas as pd

from marlinflow.errors import InputError
from marlinflow.models import resolve_size
from marlinflow.pretrain.config import PretrainConfig
from marlinflow.report import figures
from marlinflow.report.html import image, paragraph, table
from marlinflow.report.inputs import Inputs, Missing, copy_figure
from marlinflow.report.masks import mask_example
from marlinflow.weights import SCRATCH

log = logging.getLogger(__name__)


def start_text(start) -> str:
    """Where a run's weights started, from its metrics.json ``start`` record."""
    kind = start.get("from") if isinstance(start, dict) else None
    if kind == SCRATCH:
        return "random weights"
    if kind != "videomae":
        return "not recorded"
    missing = len(start.get("missing") or [])
    return (
        f"VideoMAE {Path(str(start.get('path', '?'))).name} ({start.get('layout', '?')} layout, "
        f"sha256 {str(start.get('sha256', '?'))[:12]}; {len(start.get('loaded') or [])} weights "
        f"loaded, {missing} not in it)"
    )


def pretraining_table(inputs: Inputs) -> pd.DataFrame:
    """One row per pretrained encoder with a metrics.json: where its weights started, the
    precision it ran at, and how long it trained."""
    rows = []
    for name, run in inputs.plan.pretrained().items():
        try:
            summary = json.loads((run / "metrics.json").read_text())
        except (OSError, ValueError):
            continue
        rows.append(
            {
                "encoder": name,
                "started from": start_text(summary.get("start")),
                "precision": str(summary.get("precision", "not recorded")),
                "epochs": summary.get("epochs", ""),
                "iterations": summary.get("iterations", ""),
            }
        )
    return pd.DataFrame(
        rows, columns=["encoder", "started from", "precision", "epochs", "iterations"]
    )


def curves_parts(inputs: Inputs) -> list[str]:
    runs = pretraining_table(inputs)
    parts = [table(runs)] if not runs.empty else []
    for name, run in inputs.plan.pretrained().items():
        csv = run / "metrics.csv"
        if not csv.is_file():
            log.info("no learning curves yet: %s", csv)
            continue
        try:
            path = figures.learning_curves(csv, inputs.figure(f"curves_{name}.png"))
        except ValueError as err:
            raise InputError(csv, f"no learning curves in it ({err})") from err
        parts.append(image(inputs.src(path), f"Encoder {name}: losses and learning rate"))
        parts += summary_lines(run)
    if runs.empty and not parts:
        raise Missing("No pretraining metrics yet (encoders/<encoder>/metrics.csv).")
    return parts


def summary_lines(run: Path) -> list[str]:
    """One line from the run's metrics.json: epochs, iterations, best val loss, speed."""
    try:
        summary = json.loads((run / "metrics.json").read_text())
    except (OSError, ValueError):
        return []
    facts = [f"{summary.get('epochs', '?')} epochs, {summary.get('iterations', '?')} iterations"]
    best, speed = summary.get("best_val_loss_rec"), summary.get("clips_per_s_mean")
    if isinstance(best, (int, float)) and math.isfinite(best):
        facts.append(f"best validation reconstruction loss {best:.4g}")
    if isinstance(speed, (int, float)) and math.isfinite(speed):
        facts.append(f"{speed:.3g} clips/s")
    return [paragraph("; ".join(facts) + ".")]


def reconstructions_parts(inputs: Inputs) -> list[str]:
    parts = []
    for name, run in inputs.plan.pretrained().items():
        grids = sorted((run / "reconstructions").glob("epoch_*.png"))
        if grids:
            copy = copy_figure(grids[-1], inputs.figure(f"reconstruction_{name}.png"))
            caption = (
                f"Encoder {name}, {grids[-1].stem.replace('_', ' ')} (the latest): rows "
                "input / masked input / reconstruction, one column per frame."
            )
            parts.append(image(inputs.src(copy), caption, zoom=True))
    if not parts:
        raise Missing("No reconstruction grids yet (encoders/<encoder>/reconstructions/).")
    return parts


def mask_settings(inputs: Inputs) -> PretrainConfig:
    """The first pretrained encoder's settings; without one, the default settings."""
    for name, run in inputs.plan.pretrained().items():
        for file in ("settings.json", "config.json"):
            try:
                settings = json.loads((run / file).read_text())
            except (OSError, ValueError):
                continue
            settings.setdefault("model", inputs.plan.encoders[name].get("model"))
            return PretrainConfig.from_dict(settings, str(run / file))
    return PretrainConfig()


def evaluation_records(inputs: Inputs) -> list[Path]:
    """The parse records of the evaluation data sets, in the plan's order."""
    plan = inputs.plan
    return [p for ds in plan.evaluation_datasets() for p in plan.dataset_paths(ds, "parse_records")]


def masks_parts(inputs: Inputs) -> list[str]:
    settings = mask_settings(inputs)
    size, ratio = resolve_size(settings.model), settings.mask_ratio
    stride, seed = settings.frame_stride, settings.seed
    examples = []
    for record in evaluation_records(inputs):
        if len(examples) == inputs.mask_videos:
            break
        try:
            examples.append(mask_example(record, size, ratio, inputs.plan.root, stride, seed))
        except (InputError, KeyError) as err:
            log.info("mask overlay: %s", err)
    if not examples:
        raise Missing("No usable parsed video of an evaluation data set to draw masks from.")
    path = figures.mask_figure(examples, ratio, inputs.figure("masks.png"))
    caption = (
        f"Model {size.name} ({size.img_size} px, {size.patch_size} px patches). Fasking "
        "keeps background and skin tokens visible first and hides the facial parts; "
        "random masking hides tokens uniformly. Grey: masked."
    )
    return [image(inputs.src(path), caption)]
