"""The report's tables, read from a results folder: downstream results, stage counts, skipped videos.

Downstream runs live in ``downstream/<task>/<protocol>/<encoder>/metrics.json`` (as
:func:`marlinflow.downstream.results.write_outputs` writes them); stage summaries in
``<stage>_summary.tsv`` (as ``marlinflow summary`` writes them).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pandas as pd

from marlinflow.errors import InputError
from marlinflow.report.paper import closest_number
from marlinflow.status import reason_category

log = logging.getLogger(__name__)
STAGES = ("download", "track", "parse")
# The metrics a table shows per task kind; the first is the one the paper's tables lead with.
MAIN_METRICS = {
    "multilabel": ("acc_micro", "auc_micro"),
    "multiclass": ("war", "uar"),
    "binary": ("auc", "acc"),
    "regression": ("mae", "corr"),
}
# task: the workflow's name (the folder); task_name: the name the task table gives itself
# n_train: labelled training videos (the mean over seeds; fewer in low-label runs)
RESULT_COLUMNS = ["task", "task_name", "kind", "protocol", "encoder", "metric", "mean", "std", "n",
                  "low", "high", "n_train"]  # fmt: skip
SKIPPED_COLUMNS = ["id", "stage", "category", "reason"]


def is_baseline(encoder: str) -> bool:
    return encoder.startswith("random")


def read_metrics(path: Path) -> list[dict]:
    """The main-metric rows of one ``metrics.json``; [] (with a warning) if it is unreadable."""
    try:
        document = json.loads(path.read_text())
        kind, summary, runs = document["kind"], document["summary"], document["runs"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        log.warning("%s: not a readable metrics file (%s)", path, err)
        return []
    encoder, protocol, task = path.parts[-2], path.parts[-3], path.parts[-4]
    trained = [run["counts"]["n_train"] for run in runs if "n_train" in run.get("counts", {})]
    n_train = sum(trained) / len(trained) if trained else math.nan
    rows = []
    for metric in MAIN_METRICS.get(kind, tuple(summary)):
        if metric not in summary:
            continue
        # One run: its bootstrap interval; several seeds: the spread over seeds (std) instead.
        interval = runs[0]["metrics"].get(metric, {}) if len(runs) == 1 else {}
        rows.append({"task": task, "task_name": document.get("task", task), "kind": kind, "protocol": protocol, "encoder": encoder,
                     "metric": metric, **summary[metric],
                     "low": interval.get("low", math.nan), "high": interval.get("high", math.nan),
                     "n_train": n_train})  # fmt: skip
    return rows


def downstream_results(results_dir: str | Path) -> pd.DataFrame:
    """One row per (task, protocol, encoder, main metric), in RESULT_COLUMNS."""
    paths = sorted(Path(results_dir).glob("downstream/*/*/*/metrics.json"))
    rows = [row for path in paths for row in read_metrics(path)]
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def format_value(mean: float, std: float, n: int, low: float, high: float) -> str:
    """``0.812 ± 0.010`` over seeds, ``0.812 [0.700, 0.900]`` with a bootstrap interval."""
    if mean is None or math.isnan(mean):
        return "n/a"
    if n > 1:
        return f"{mean:.3f} ± {std:.3f}"
    if not (math.isnan(low) or math.isnan(high)):
        return f"{mean:.3f} [{low:.3f}, {high:.3f}]"
    return f"{mean:.3f}"


def encoder_order(encoders: list[str]) -> list[str]:
    """Trained encoders first, then the baselines, each alphabetically."""
    return sorted(set(encoders), key=lambda name: (is_baseline(name), name))


def paper_cell(task_names: list[str], metric: str, protocol: str, encoders: list[str]) -> str:
    """The paper's number for the first of the task's names it knows, as ``0.9390 (ViT-B)``."""
    ours = [name for name in encoders if not is_baseline(name)]
    for task in task_names:
        number = closest_number(task, metric, protocol, ours[0] if ours else "")
        if number:
            return f"{number.value:.4f} ({number.variant})"
    return ""


def results_table(long: pd.DataFrame) -> pd.DataFrame:
    """The paper-style table: one row per (task, protocol, metric), one column per encoder (ours
    before the random baseline), and the paper's number where it has one."""
    encoders = encoder_order(long["encoder"].tolist())
    rows = []
    for (task, protocol, metric), group in long.groupby(["task", "protocol", "metric"], sort=False):
        cells = {r.encoder: format_value(r.mean, r.std, int(r.n), r.low, r.high)
                 for r in group.itertuples()}  # fmt: skip
        row = {"task": task, "protocol": protocol, "metric": metric}
        row |= {name: cells.get(name, "") for name in encoders}
        names = [task, *group["task_name"].unique()]
        rows.append(row | {"paper": paper_cell(names, metric, protocol, encoders)})
    return pd.DataFrame(rows, columns=["task", "protocol", "metric", *encoders, "paper"])


def read_summaries(results_dir: str | Path) -> pd.DataFrame:
    """The stage summaries that exist, concatenated in stage order (id, stage, ok, ...)."""
    tables = [read_summary(path) for stage in STAGES
              if (path := Path(results_dir) / f"{stage}_summary.tsv").is_file()]  # fmt: skip
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def read_summary(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, sep="\t", dtype={"id": str, "reason": str}, keep_default_na=False)
    except (OSError, ValueError) as err:
        raise InputError(path, f"not a readable stage summary ({err})") from err
    missing = [column for column in ("id", "stage", "ok", "reason") if column not in table]
    if missing:
        raise InputError(path, f"stage summary lacks column(s) {missing}")
    return table


def stage_counts(summaries: pd.DataFrame) -> pd.DataFrame:
    """Per stage, in pipeline order: videos, usable, not usable."""
    ok = summaries["ok"].astype(str).str.lower() == "true"
    counts = summaries.assign(usable=ok).groupby("stage", sort=False)["usable"]
    table = pd.DataFrame({"videos": counts.size(), "usable": counts.sum().astype(int)})
    table["not usable"] = table["videos"] - table["usable"]
    return table.reset_index()


def skipped_videos(summaries: pd.DataFrame) -> pd.DataFrame:
    """Each unusable video once, at the first stage where it failed, with its reason's class."""
    ok = summaries["ok"].astype(str).str.lower() == "true"
    failed = summaries.loc[~ok].drop_duplicates("id", keep="first").copy()
    failed["category"] = [reason_category(str(reason)) for reason in failed["reason"]]
    return failed[SKIPPED_COLUMNS].reset_index(drop=True)
