"""The "Downstream results" section: the paper-style table, the paired differences against the
reference encoder, and the label-efficiency figure."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pandas as pd

from marlinflow.downstream.kinds import kind_named
from marlinflow.errors import InputError
from marlinflow.report import budgets, tables
from marlinflow.report.compare import Predictions, compare_runs, read_predictions
from marlinflow.report.html import heading, image, paragraph, table
from marlinflow.report.inputs import Inputs, Missing
from marlinflow.report.paper import SOURCE
from marlinflow.report.plan import Plan

log = logging.getLogger(__name__)
N_RESAMPLES = 1000  # paired bootstrap draws per comparison
DIFFERENCE_COLUMNS = [
    "dataset",
    "task",
    "protocol",
    "metric",
    "encoder",
    "reference",
    "videos",
    "difference",
    "low",
    "high",
]

TABLE_NOTE = (
    "One row per encoder, one column per (data set, task, protocol) with the task's main test "
    "metric. Each cell: the mean over seeds, [the 95% bootstrap interval over test videos], and "
    "(± the standard deviation over seeds) when there are several. With several seeds the "
    "interval is the mean of the seeds' own bootstrap bounds: the test-set uncertainty of one "
    "seed, the std beside it being what the seeds add. Row chance: every test video gets the "
    "training split's label frequencies (the training mean for regression), i.e. the majority "
    "class with constant scores, scored with the same metric functions (so AUC is 0.5). "
    "Encoders named random-* are randomly initialised (what pretraining adds); videomae-* are "
    "pretrained VideoMAE's way (tube masking, no adversarial loss)."
)
PAPER_NOTE = (
    f"Row paper: {SOURCE}. Shown for the paper's model of our model's size where it has one, "
    "else its ViT-B; the paper's protocol is fine-tuning for CelebV-HQ and not stated for the "
    "others."
)
NO_PAPER_NOTE = (
    "The paper reports numbers for CelebV-HQ appearance and action, CMU-MOSEI emotion and "
    "sentiment and FaceForensics++, with full labels; no column above is one of those, so "
    "there is no paper row."
)


def format_difference(mean: float, low: float, high: float) -> str:
    if math.isnan(mean):
        return "n/a"
    interval = "" if math.isnan(low) else f" [{low:+.3f}, {high:+.3f}]"
    return f"{mean:+.3f}{interval}"


def predictions_of(plan: Plan, entry: dict, cache: dict[Path, Predictions]) -> Predictions:
    path = plan.path(entry["metrics"]).parent / "predictions.csv"
    if path not in cache:
        cache[path] = read_predictions(path)
    return cache[path]


def differences(plan: Plan, long: pd.DataFrame, n_resamples: int = N_RESAMPLES) -> pd.DataFrame:
    """Each encoder's main metric minus the reference's, on the test videos both predicted,
    with a paired bootstrap interval; in DIFFERENCE_COLUMNS."""
    reference, lead = plan.reference, tables.lead_rows(long)
    entries = {
        tuple(e[k] for k in ("dataset", "task", "protocol", "encoder")): e for e in plan.results
    }
    rows, cache = [], {}
    for key, group in lead.groupby(tables.COLUMN_KEY, sort=False):
        if reference not in set(group["encoder"]):
            continue
        kind, metric = group["kind"].iloc[0], group["metric"].iloc[0]
        for encoder in (e for e in group["encoder"] if e != reference):
            try:
                ours = predictions_of(plan, entries[(*key, encoder)], cache)
                theirs = predictions_of(plan, entries[(*key, reference)], cache)
                found = compare_runs(kind_named(kind), metric, ours, theirs, n_resamples)
            except (InputError, ValueError, KeyError) as err:
                log.info("paired difference %s %s: %s", "/".join(key), encoder, err)
                continue
            rows.append(
                dict(
                    zip(
                        DIFFERENCE_COLUMNS,
                        (
                            *key,
                            metric,
                            encoder,
                            reference,
                            found.n_videos,
                            found.mean,
                            found.low,
                            found.high,
                        ),
                        strict=True,
                    )
                )
            )
    return pd.DataFrame(rows, columns=DIFFERENCE_COLUMNS)


def difference_parts(inputs: Inputs, long: pd.DataFrame) -> list[str]:
    reference = inputs.plan.reference
    if not reference:
        return [heading("Against the reference"), paragraph("The plan names no reference encoder.")]
    found = differences(inputs.plan, long)
    if found.empty:
        return [
            heading(f"Against the reference ({reference})"),
            paragraph("No pair of runs with test predictions to compare yet."),
        ]
    found.to_csv(inputs.out_dir / "differences.tsv", sep="\t", index=False)
    shown = found.assign(
        difference=[format_difference(r.difference, r.low, r.high) for r in found.itertuples()]
    ).drop(columns=["low", "high"])
    return [
        heading(f"Against the reference ({reference})"),
        paragraph(
            f"Main test metric of each encoder minus the reference's, on the test videos "
            f"both predicted, with a 95% paired bootstrap interval ({N_RESAMPLES} "
            "resamples of the videos; in each, every run's metric is the mean over its "
            "seeds). An interval that excludes 0 is a difference the test set supports; "
            "for mae lower is better, so a negative difference is an improvement."
        ),
        table(shown),
        paragraph("These numbers: differences.tsv beside this page.", "source"),
    ]


def label_efficiency_parts(inputs: Inputs, long: pd.DataFrame) -> list[str]:
    """The low-label and few-shot runs against the full-label ones, where there are any."""
    try:
        path = budgets.label_efficiency(long, inputs.figure("label_efficiency.png"))
    except ValueError:  # no low-label runs configured
        return []
    caption = (
        "Label efficiency: the main test metric against the number of labelled training "
        "videos, one panel per (data set, task), mean ± std over seeds."
    )
    return [heading("Label efficiency"), image(inputs.src(path), caption)]


def results_parts(inputs: Inputs) -> list[str]:
    long = tables.downstream_results(inputs.plan)
    if long.empty:
        raise Missing("No downstream metrics yet (none of the plan's results is there).")
    long.to_csv(inputs.out_dir / "results.tsv", sep="\t", index=False)
    wide = tables.paper_table(inputs.plan, long)
    has_paper = "paper" in set(wide["encoder"])
    return [
        paragraph(TABLE_NOTE),
        table(wide),
        paragraph(PAPER_NOTE if has_paper else NO_PAPER_NOTE, "source"),
        paragraph("Every number, in long form: results.tsv beside this page.", "source"),
        *difference_parts(inputs, long),
        *label_efficiency_parts(inputs, long),
    ]
