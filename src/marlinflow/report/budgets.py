"""Label efficiency: each task's main metric against the number of labelled training videos.

Low-label and few-shot runs are results of protocol ``<protocol>-<budget>`` (budget ``frac0.1``
or ``k10``) beside the full-label one. The rows come from the report's results table
(:func:`marlinflow.report.tables.downstream_results`), whose ``n_train`` is what each run really
trained on, so a budget that the task could not fill (fewer than k videos of a class) is drawn
where it really is. The x axis counts videos, so its ticks are whole numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from marlinflow.report.figures import save
from marlinflow.report.tables import encoder_order, lead_rows

COLUMNS = ["dataset", "task", "protocol", "budget", "encoder", "metric", "n_train", "mean", "std"]
PANEL = ["dataset", "task"]


def budget_rows(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (data set, task, protocol, budget, encoder) of the results table: its lead
    metric (the table's first for the task's kind); budget is "" for the full-label run."""
    lead = lead_rows(results)
    split = lead["protocol"].str.partition("-")
    return lead.assign(protocol=split[0], budget=split[2])[COLUMNS].reset_index(drop=True)


def with_budgets(rows: pd.DataFrame) -> pd.DataFrame:
    """The (data set, task, protocol) groups that have at least one low-label run."""
    groups = rows.groupby(["dataset", "task", "protocol"])["budget"]
    keep = groups.transform(lambda b: (b != "").any())
    return rows[keep.astype(bool)]


def integer_ticks(ax, counts: pd.Series) -> list[int]:
    """Ticks at the training sizes drawn, labelled as the whole numbers they are."""
    ticks = sorted({int(round(n)) for n in counts if np.isfinite(n) and n > 0})
    ax.set_xticks(ticks, [str(n) for n in ticks])
    ax.minorticks_off()
    return ticks


def plot_label_efficiency(rows: pd.DataFrame) -> Figure:
    """One panel per (data set, task): metric against training videos (log axis), a line per
    (encoder, protocol) with its spread over seeds. ValueError when no group has a low-label
    run."""
    rows = with_budgets(rows)
    if rows.empty:
        raise ValueError("no low-label or few-shot runs")
    panels = list(rows.groupby(PANEL, sort=True))
    figure = Figure(figsize=(4.2 * len(panels), 3.4))
    axes = np.atleast_1d(figure.subplots(1, len(panels)))
    for ax, ((dataset, task), panel) in zip(axes, panels, strict=True):
        for encoder in encoder_order(panel["encoder"].tolist()):
            for protocol, line in panel[panel["encoder"] == encoder].groupby("protocol"):
                line = line.sort_values("n_train")
                ax.errorbar(
                    line["n_train"],
                    line["mean"],
                    yerr=line["std"],
                    marker="o",
                    capsize=3,
                    label=f"{encoder} ({protocol})",
                )
        ax.set(
            title=f"{dataset}: {task}",
            xlabel="labelled training videos",
            xscale="log",
            ylabel=panel["metric"].iloc[0],
        )
        integer_ticks(ax, panel["n_train"])
        ax.legend(fontsize="small")
    figure.tight_layout()
    return figure


def label_efficiency(results: pd.DataFrame, out_png: str | Path) -> Path:
    """The figure of the results table as PNG; ValueError when it holds no low-label run."""
    return save(plot_label_efficiency(budget_rows(results)), out_png)
