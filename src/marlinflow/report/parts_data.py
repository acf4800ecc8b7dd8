"""The data sections: feature-space plots per (data set, encoder), the videos each data set
could and could not use, and contact sheets of the aligned faces."""

from __future__ import annotations

import logging
from html import escape
from pathlib import Path

from marlinflow.errors import InputError
from marlinflow.report import figures, tables
from marlinflow.report.embedding import Embedding, embed
from marlinflow.report.html import heading, image, paragraph, row, table
from marlinflow.report.inputs import Inputs, Missing, copy_figure

log = logging.getLogger(__name__)


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
    """One plot per (data set, encoder) whose features and task labels are there."""
    parts = []
    for entry in inputs.plan.features:
        dataset, encoder = entry["dataset"], entry["encoder"]
        spec = inputs.plan.datasets.get(dataset, {}).get("tasks") or {}
        tasks = [inputs.plan.path(p) for p in spec.values()]
        embedding = best_embedding(inputs.plan.path(entry["folder"]), tasks)
        if embedding is None:
            continue
        path = figures.embedding_plot(embedding, inputs.figure(f"pca_{dataset}_{encoder}.png"))
        caption = (
            f"{dataset}, encoder {encoder}: {len(embedding.ids)} videos, the mean of their "
            "window features projected on the first two principal components."
        )
        parts.append(image(inputs.src(path), caption))
    if not parts:
        raise Missing("No features with task labels yet (features/<data set>/<encoder>/).")
    return [row(parts)]


def dataset_stages(inputs: Inputs, dataset: str) -> list[str]:
    """Stage counts and the skipped videos of one data set ([] when it has no summary yet)."""
    summaries = tables.read_summaries(list(inputs.plan.summaries(dataset).values()))
    if summaries.empty:
        return []
    skipped = tables.skipped_videos(summaries)
    parts = [heading(f"Data set {dataset}"), table(tables.stage_counts(summaries))]
    parts += composition_parts(summaries)
    if skipped.empty:
        return [*parts, paragraph("Every video was usable at every stage.")]
    by_category = skipped["category"].value_counts()
    counts = ", ".join(f"{name or 'other'}: {n}" for name, n in by_category.items())
    return [
        *parts,
        paragraph(
            f"{len(skipped)} video(s) could not be used ({counts}); each is listed once, "
            "at the first stage where it failed."
        ),
        table(skipped),
    ]


def composition_parts(summaries) -> list[str]:
    """What pretraining shows the encoder of a data set's videos, per crop mode ([] when its
    parse records measured nothing)."""
    composition = tables.visible_composition(summaries)
    if composition.empty:
        return []
    settings = "; ".join(tables.composition_settings(summaries)) or "the pretraining mask"
    text = (
        "What the encoder sees: the share of background, skin and facial parts among the "
        f"visible tokens of the pretraining mask ({settings}), the mean over the usable videos, "
        "per crop (track.crop_mode). The crop decides most of it: Fasking keeps patches that "
        "touch the background visible first."
    )
    return [paragraph(text), table(composition)]


def stages_parts(inputs: Inputs) -> list[str]:
    parts = [p for dataset in inputs.plan.datasets for p in dataset_stages(inputs, dataset)]
    if not parts:
        raise Missing("No stage summaries yet (results/datasets/<data set>/<stage>_summary.tsv).")
    return parts


def dataset_sheets(inputs: Inputs, dataset: str) -> list[str]:
    listed = inputs.plan.dataset_paths(dataset, "contact_sheets")
    sheets = [p for p in listed if p.is_file()][: inputs.contact_sheets]
    if not sheets:
        return []
    copies = [copy_figure(s, inputs.figure(f"sheet_{dataset}_{s.name}")) for s in sheets]
    images = "".join(
        f'<img src="{escape(inputs.src(copy))}" alt="contact sheet {escape(sheet.stem)}">'
        for sheet, copy in zip(sheets, copies, strict=True)
    )
    return [heading(f"Data set {dataset}"), f'<div class="sheets">{images}</div>']


def contact_sheets_parts(inputs: Inputs) -> list[str]:
    parts = [p for dataset in inputs.plan.datasets for p in dataset_sheets(inputs, dataset)]
    if not parts:
        raise Missing("No contact sheets yet (results/datasets/<data set>/contact_sheets/).")
    return [
        paragraph("Evenly spaced frames of the aligned face clips with their part labels."),
        *parts,
    ]
