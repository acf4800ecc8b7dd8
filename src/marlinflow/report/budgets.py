"""Label efficiency: each task's main metric against the number of labelled training videos.

Low-label and few-shot runs live beside the full-label one, in
``downstream/<task>/<protocol>-<budget>/<encoder>/metrics.json`` (budget ``frac0.1`` or ``k10``).
The rows come from the report's results table (:func:`marlinflow.report.tables.downstream_results`),
whose ``n_train`` is what each run really trained on, so a budget that the task could not fill
(fewer than k videos of a class) is drawn where it really is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from marlinflow.report.figures import save
from marlinflow.report.tables import encoder_order

COLUMNS = ["task", "protocol", "budget", "encoder", "metric", "n_train", "mean", "std"]


def budget_rows(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, protocol, budget, encoder) of the results table: its lead metric (the
    table's first for the task's kind); budget is "" for the full-label run."""
    lead = results.groupby(["task", "protocol", "encoder"], sort=False).head(1)
    split = lead["protocol"].str.partition("-")
    return lead.assign(protocol=split[0], budget=split[2])[COLUMNS].reset_index(drop=True)


def with_budgets(rows: pd.DataFrame) -> pd.DataFrame:
    """The (task, protocol) groups that have at least one low-label run."""
    keep = rows.groupby(["task", "protocol"])["budget"].transform(lambda b: (b != "").any())
    return rows[keep.astype(bool)]


def plot_label_efficiency(rows: pd.DataFrame) -> Figure:
    """One panel per (task, protocol): metric against training videos (log axis), a line per
    encoder with its spread over seeds. ValueError when no group has a low-label run."""
    rows = with_budgets(rows)
    if rows.empty:
        raise ValueError("no low-label or few-shot runs")
    groups = list(rows.groupby(["task", "protocol"], sort=True))
    figure = Figure(figsize=(4.0 * len(groups), 3.2))
    axes = np.atleast_1d(figure.subplots(1, len(groups)))
    for ax, ((task, protocol), group) in zip(axes, groups, strict=True):
        for encoder in encoder_order(group["encoder"].tolist()):
            line = group[group["encoder"] == encoder].sort_values("n_train")
            ax.errorbar(line["n_train"], line["mean"], yerr=line["std"], marker="o",
                        capsize=3, label=encoder)  # fmt: skip
        ax.set(title=f"{task} ({protocol})", xlabel="training videos", xscale="log",
               ylabel=group["metric"].iloc[0])  # fmt: skip
        ticks = sorted(group["n_train"].unique())
        ax.set_xticks(ticks, [f"{n:.3g}" for n in ticks])
        ax.minorticks_off()
        ax.legend(fontsize="small")
    figure.tight_layout()
    return figure


def label_efficiency(results: pd.DataFrame, out_png: str | Path) -> Path:
    """The figure of the results table as PNG; ValueError when it holds no low-label run."""
    return save(plot_label_efficiency(budget_rows(results)), out_png)
