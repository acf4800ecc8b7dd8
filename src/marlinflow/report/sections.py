"""The sections of the local report, each made from what a results folder holds.

Each section's builder returns its HTML parts, or raises :class:`Missing` when its inputs are not
there yet; :func:`all_sections` turns that, or an unreadable input, into a note on the page, so
a partial or damaged run still gets a report.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from dataclasses import dataclass
from html import escape
from pathlib import Path

import pandas as pd

from marlinflow.errors import InputError
from marlinflow.models import resolve_size
from marlinflow.report import budgets, figures, tables
from marlinflow.report.embedding import Embedding, embed
from marlinflow.report.html import Section, image, paragraph, row, table
from marlinflow.report.masks import mask_example
from marlinflow.report.paper import SOURCE
from marlinflow.status import STATUS_SUFFIX

log = logging.getLogger(__name__)


class Missing(Exception):
    """A section's inputs are not there; the message says which."""


@dataclass
class Inputs:
    results: Path  # results/<ds>
    parsing: Path  # data/interim/<ds>/parsing (stage records and label maps)
    out_dir: Path  # the report's folder; figures go to out_dir/figures
    root: Path  # where the workflow ran: relative paths in stage records start there
    mask_videos: int = 3
    contact_sheets: int = 4

    def figure(self, name: str) -> Path:
        return self.out_dir / "figures" / name

    def src(self, path: Path) -> str:
        return path.relative_to(self.out_dir).as_posix()


def pretrain_runs(inputs: Inputs) -> list[Path]:
    return sorted(p for p in (inputs.results / "pretrain").glob("*") if p.is_dir())


def results_parts(inputs: Inputs) -> list[str]:
    long = tables.downstream_results(inputs.results)
    if long.empty:
        raise Missing("No downstream metrics yet (downstream/<task>/<protocol>/<encoder>/).")
    long.to_csv(inputs.out_dir / "results.tsv", sep="\t", index=False)
    results = tables.results_table(long)
    if not results["paper"].astype(bool).any():
        results = results.drop(columns="paper")
    return [
        paragraph("Test metrics: mean ± std over seeds, or the value with its 95% bootstrap "
                  "interval for a single seed. Encoders named random-* are randomly initialised "
                  "encoders of the same size: the baseline that shows what pretraining adds; "
                  "videomae-* are pretrained on the same videos VideoMAE's way (tube masking, "
                  "no adversarial loss): what Fasking and the adversarial loss add."),
        table(results),
        paragraph(PAPER_NOTE if "paper" in results else NO_PAPER_NOTE, "source"),
        paragraph("All rows, with every number: results.tsv beside this page.", "source"),
        *label_efficiency_parts(inputs, long),
    ]  # fmt: skip


def label_efficiency_parts(inputs: Inputs, long: pd.DataFrame) -> list[str]:
    """The low-label and few-shot runs against the full-label ones, where there are any."""
    try:
        path = budgets.label_efficiency(long, inputs.figure("label_efficiency.png"))
    except ValueError:  # no low-label runs configured
        return []
    caption = (
        "Label efficiency: the main test metric against the number of labelled training "
        "videos (low-label and few-shot runs, downstream.low_label), mean ± std over seeds"
    )
    return [image(inputs.src(path), caption)]


PAPER_NOTE = (
    f"Paper column: {SOURCE}. Shown for the paper's model of our model's size where it has one, "
    "else its ViT-B; the paper's protocol is fine-tuning for CelebV-HQ and not stated for the "
    "others."
)
NO_PAPER_NOTE = (
    "The paper reports numbers for CelebV-HQ appearance and action, CMU-MOSEI emotion and "
    "sentiment and FaceForensics++, with full labels; none of the rows above is one of those, so "
    "there is no paper column."
)


def curves_parts(inputs: Inputs) -> list[str]:
    parts = []
    for run in pretrain_runs(inputs):
        csv = run / "metrics.csv"
        if not csv.is_file():
            continue
        try:
            path = figures.learning_curves(csv, inputs.figure(f"curves_{run.name}.png"))
        except ValueError as err:
            raise InputError(csv, f"no learning curves in it ({err})") from err
        parts.append(image(inputs.src(path), f"Model {run.name}: losses and learning rate"))
        parts += summary_lines(run)
    if not parts:
        raise Missing("No pretraining metrics yet (pretrain/<model>/metrics.csv).")
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
    for run in pretrain_runs(inputs):
        grids = sorted((run / "reconstructions").glob("epoch_*.png"))
        if grids:
            copy = copy_figure(grids[-1], inputs.figure(f"reconstruction_{run.name}.png"))
            caption = (f"Model {run.name}, {grids[-1].stem.replace('_', ' ')} (the latest): rows "
                       "input / masked input / reconstruction, one column per frame.")  # fmt: skip
            parts.append(image(inputs.src(copy), caption, zoom=True))
    if not parts:
        raise Missing("No reconstruction grids yet (pretrain/<model>/reconstructions/).")
    return parts


def copy_figure(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def mask_settings(inputs: Inputs) -> tuple[str, float, int, int]:
    """(model, mask ratio, frame stride, seed) of the first pretraining run's settings."""
    for run in pretrain_runs(inputs):
        for name in ("settings.json", "config.json"):
            try:
                settings = json.loads((run / name).read_text())
            except (OSError, ValueError):
                continue
            model = settings.get("model", run.name)
            return (model if isinstance(model, str) else model.get("name", run.name),
                    float(settings.get("mask_ratio", 0.9)), int(settings.get("frame_stride", 2)),
                    int(settings.get("seed", 0)))  # fmt: skip
    return "small", 0.9, 2, 0


def masks_parts(inputs: Inputs) -> list[str]:
    model, ratio, stride, seed = mask_settings(inputs)
    size = resolve_size(model)
    examples = []
    for record in sorted(inputs.parsing.glob(f"*{STATUS_SUFFIX}")):
        if len(examples) == inputs.mask_videos:
            break
        try:
            examples.append(mask_example(record, size, ratio, inputs.root, stride, seed))
        except (InputError, KeyError) as err:
            log.info("mask overlay: %s", err)
    if not examples:
        raise Missing(f"No usable parsed video in {inputs.parsing} to draw masks from.")
    path = figures.mask_figure(examples, ratio, inputs.figure("masks.png"))
    caption = (f"Model {model} ({size.img_size} px, {size.patch_size} px patches). Fasking keeps "
               "background and skin tokens visible first and hides the facial parts; random "
               "masking hides tokens uniformly. Grey: masked.")  # fmt: skip
    return [image(inputs.src(path), caption)]


def best_embedding(features: Path, tasks: list[Path]) -> Embedding | None:
    """The embedding coloured by the task whose labels split these videos into most groups."""
    best = None
    for task in tasks:
        try:
            embedding = embed(features, task)
        except InputError as err:
            log.info("embedding: %s", err)
            continue
        if best is None or len(set(embedding.labels)) > len(set(best.labels)):
            best = embedding
    return best


def embedding_parts(inputs: Inputs) -> list[str]:
    """One plot per encoder."""
    parts = []
    tasks = sorted((inputs.results / "tasks").glob("*.tsv"))
    encoders = tables.encoder_order([p.name for p in (inputs.results / "features").glob("*")])
    for encoder in encoders:
        embedding = best_embedding(inputs.results / "features" / encoder, tasks)
        if embedding is None:
            continue
        path = figures.embedding_plot(embedding, inputs.figure(f"pca_{encoder}.png"))
        caption = (f"{len(embedding.ids)} videos, the mean of their window features projected "
                   "on the first two principal components.")  # fmt: skip
        parts.append(image(inputs.src(path), caption))
    if not parts:
        raise Missing("No features with task labels yet (features/<encoder>/, tasks/<task>.tsv).")
    return [row(parts)]


def stages_parts(inputs: Inputs) -> list[str]:
    summaries = tables.read_summaries(inputs.results)
    if summaries.empty:
        raise Missing("No stage summaries yet (<stage>_summary.tsv).")
    skipped = tables.skipped_videos(summaries)
    counts_table = table(tables.stage_counts(summaries))
    if skipped.empty:
        return [counts_table, paragraph("Every video was usable at every stage.")]
    by_category = skipped["category"].value_counts()
    counts = ", ".join(f"{name or 'other'}: {n}" for name, n in by_category.items())
    return [
        counts_table,
        paragraph(f"{len(skipped)} video(s) could not be used ({counts}); each is listed once, "
                  "at the first stage where it failed."),
        table(skipped),
    ]  # fmt: skip


def contact_sheets_parts(inputs: Inputs) -> list[str]:
    sheets = sorted((inputs.results / "contact_sheets").glob("*.png"))[: inputs.contact_sheets]
    if not sheets:
        raise Missing("No contact sheets yet (contact_sheets/<id>.png).")
    copies = [copy_figure(sheet, inputs.figure(f"sheet_{sheet.name}")) for sheet in sheets]
    images = "".join(
        f'<img src="{escape(inputs.src(copy))}" alt="contact sheet {escape(sheet.stem)}">'
        for sheet, copy in zip(sheets, copies, strict=True)
    )
    return [
        paragraph("Evenly spaced frames of the aligned face clips with their part labels."),
        f'<div class="sheets">{images}</div>',
    ]


# (anchor, title, builder) in page order.
SECTIONS = (
    ("results", "Downstream results", results_parts),
    ("pretraining", "Pretraining", curves_parts),
    ("reconstructions", "Reconstructions", reconstructions_parts),
    ("masks", "Fasking masks", masks_parts),
    ("embedding", "Feature space", embedding_parts),
    ("videos", "Videos: usable and skipped", stages_parts),
    ("faces", "Faces and part labels", contact_sheets_parts),
)


def all_sections(inputs: Inputs) -> list[Section]:
    """Every section; one that cannot be drawn carries a note saying why instead."""
    sections = []
    for anchor, title, builder in SECTIONS:
        section = Section(anchor, title)
        try:
            section.parts = builder(inputs)
        except Missing as missing:
            section.note = str(missing)
        except (InputError, OSError, ValueError, KeyError, TypeError) as err:
            log.warning("report section %r: %s", title, err)
            section.note = f"Could not be drawn: {err}"
        sections.append(section)
    return sections
