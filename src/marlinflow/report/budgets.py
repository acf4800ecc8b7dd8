"""Label efficiency: each task's main metric against the number of labelled training videos.

Low-label and few-shot runs live beside the full-label one, in
``downstream/<task>/<protocol>-<budget>/<encoder>/metrics.json`` (budget ``frac0.1`` or ``k10``).
A run's training-set size is the ``n_train`` its metrics file records, so a budget that the task
could not fill (fewer than k videos of a class) is drawn where it really is.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from marlinflow.report.figures import save
from marlinflow.report.tables import MAIN_METRICS, encoder_order

log = logging.getLogger(__name__)
COLUMNS = ["task", "protocol", "budget", "encoder", "metric", "n_train", "mean", "std"]


def budget_rows(results_dir: str | Path) -> pd.DataFrame:
    """One row per (task, protocol, budget, encoder): the main metric over seeds and the mean
    number of training videos; budget is "" for the full-label run."""
    rows = []
    for path in sorted(Path(results_dir).glob("downstream/*/*/*/metrics.json")):
        protocol, _, budget = path.parts[-3].partition("-")
        try:
            document = json.loads(path.read_text())
            metric = MAIN_METRICS[document["kind"]][0]
            summary = document["summary"][metric]
            n_train = np.mean([run["counts"]["n_train"] for run in document["runs"]])
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.warning("%s: not a readable metrics file (%s)", path, err)
            continue
        rows.append({"task": path.parts[-4], "protocol": protocol, "budget": budget,
                     "encoder": path.parts[-2], "metric": metric, "n_train": float(n_train),
                     "mean": summary["mean"], "std": summary["std"]})  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


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


def label_efficiency(results_dir: str | Path, out_png: str | Path) -> Path:
    """The figure as PNG; ValueError when the results hold no low-label run."""
    return save(plot_label_efficiency(budget_rows(results_dir)), out_png)
