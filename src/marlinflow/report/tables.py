"""The report's tables: downstream results, the paper-style table, stage counts, skipped videos,
and what the encoder sees of each data set (the visible-token composition of its videos).

Downstream runs are read from the ``metrics.json`` files the experiment's plan lists (as
:func:`marlinflow.downstream.results.write_outputs` writes them); stage summaries from the
``<stage>_summary.tsv`` files it lists (as ``marlinflow summary`` writes them).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from marlinflow.downstream.kinds import KINDS
from marlinflow.downstream.tasks import load_task
from marlinflow.errors import CATEGORIES, InputError
from marlinflow.masking import TOKEN_CLASSES
from marlinflow.report.chance import chance_metrics
from marlinflow.report.paper import closest_number
from marlinflow.report.plan import Plan
from marlinflow.stages import reason_category

log = logging.getLogger(__name__)
STAGES = ("download", "track", "parse")
# The parse summary's columns of the visible-token composition (the records' stats, flattened).
COMPOSITION = {name: f"stats/visible_composition/{name}" for name in TOKEN_CLASSES}
# task: the workflow's name (the folder); task_name: the name the task table gives itself;
# low/high: the 95% bootstrap interval over test videos (the mean of the seeds' bounds);
# n_train: labelled training videos (the mean over seeds; fewer in low-label runs)
RESULT_COLUMNS = [
    "dataset",
    "task",
    "task_name",
    "kind",
    "protocol",
    "encoder",
    "metric",
    "mean",
    "std",
    "n",
    "low",
    "high",
    "n_train",
]
SKIPPED_COLUMNS = ["id", "stage", "category", "reason"]
COLUMN_KEY = ["dataset", "task", "protocol"]


def is_baseline(encoder: str) -> bool:
    return encoder.startswith("random")


def mean_bound(runs: list[dict], metric: str, bound: str) -> float:
    """The mean over seeds of one bound of the runs' bootstrap intervals (NaN where none)."""
    values = [run.get("metrics", {}).get(metric, {}).get(bound) for run in runs]
    values = [float(v) for v in values if isinstance(v, (int, float))]
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def main_metrics(kind: str) -> tuple[str, ...]:
    """The metrics a table shows for the kind a metrics file names, the lead one first; none for
    a kind this version does not know."""
    return KINDS[kind].main_metrics if kind in KINDS else ()


def read_metrics(path: Path, entry: dict) -> list[dict]:
    """The main-metric rows of one ``metrics.json`` listed in the plan (``entry`` names its data
    set, task, protocol and encoder); [] (with a warning) if it is unreadable."""
    try:
        document = json.loads(path.read_text())
        kind, summary, runs = document["kind"], document["summary"], document["runs"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        log.warning("%s: not a readable metrics file (%s)", path, err)
        return []
    trained = [run["counts"]["n_train"] for run in runs if "n_train" in run.get("counts", {})]
    n_train = sum(trained) / len(trained) if trained else math.nan
    names = {k: entry[k] for k in ("dataset", "task", "protocol", "encoder")}
    return [
        names
        | {
            "task_name": document.get("task", entry["task"]),
            "kind": kind,
            "metric": metric,
            **summary[metric],
            "low": mean_bound(runs, metric, "low"),
            "high": mean_bound(runs, metric, "high"),
            "n_train": n_train,
        }
        for metric in main_metrics(kind) or tuple(summary)
        if metric in summary
    ]


def downstream_results(plan: Plan) -> pd.DataFrame:
    """One row per (data set, task, protocol, encoder, main metric) of the plan's results that
    exist, in RESULT_COLUMNS; a result not there yet is logged and left out."""
    rows, missing = [], []
    for entry in plan.results:
        path = plan.path(entry["metrics"])
        if path.is_file():
            rows += read_metrics(path, entry)
        else:
            missing.append(path)
    if missing:
        log.info(
            "%d of %d planned downstream results not there yet, e.g. %s",
            len(missing),
            len(plan.results),
            missing[0],
        )
    return pd.DataFrame(rows, columns=RESULT_COLUMNS).astype({"mean": float, "std": float})


def format_value(mean: float, std: float, n: int, low: float, high: float) -> str:
    """``0.812 [0.700, 0.900] (± 0.010)``: the mean over seeds, its bootstrap interval over test
    videos, and the std over seeds when there are several."""
    if mean is None or math.isnan(mean):
        return "n/a"
    text = f"{mean:.3f}"
    if not (math.isnan(low) or math.isnan(high)):
        text += f" [{low:.3f}, {high:.3f}]"
    if n > 1 and not math.isnan(std):
        text += f" (± {std:.3f})"
    return text


def encoder_order(encoders: list[str]) -> list[str]:
    """Trained encoders first, then the baselines, each alphabetically."""
    return sorted(set(encoders), key=lambda name: (is_baseline(name), name))


def paper_cell(task_names: list[str], metric: str, protocol: str, model: str) -> str:
    """The paper's number for the first of the task's names it knows, as ``0.9390 (ViT-B)``."""
    for task in task_names:
        number = closest_number(task, metric, protocol, model)
        if number:
            return f"{number.value:.4f} ({number.variant})"
    return ""


def lead_metric(kind: str, metrics: list[str]) -> str:
    """The first of the kind's main metrics that the rows have."""
    return next((m for m in main_metrics(kind) if m in metrics), sorted(metrics)[0])


def lead_rows(long: pd.DataFrame) -> pd.DataFrame:
    """Per (data set, task, protocol), the rows of the kind's main metric."""
    parts = [
        group[group["metric"] == lead_metric(group["kind"].iloc[0], list(group["metric"]))]
        for _, group in long.groupby(COLUMN_KEY, sort=False)
    ]
    return pd.concat(parts) if parts else long.iloc[:0]


def column_name(dataset: str, task: str, protocol: str, metric: str) -> str:
    return f"{dataset} / {task} / {protocol}: {metric}"


def results_table(
    long: pd.DataFrame, encoders: list[str], chance: dict[tuple, float], model: str = ""
) -> pd.DataFrame:
    """The paper-style table: one row per encoder (in ``encoders``' order), a "paper" row where
    the paper has a number for a column, and a "chance" row; one column per (data set, task,
    protocol) with its main metric. ``chance`` maps (data set, task, metric) to a value."""
    lead = lead_rows(long)
    columns, rows = {}, {name: {} for name in encoders}
    paper, floor = {}, {}
    for (dataset, task, protocol), group in lead.groupby(COLUMN_KEY, sort=False):
        first = group.iloc[0]
        name = column_name(dataset, task, protocol, first.metric)
        columns[name] = True
        for r in group.itertuples():
            rows.setdefault(r.encoder, {})[name] = format_value(
                r.mean, r.std, int(r.n), r.low, r.high
            )
        names = [task, first.task_name, f"{dataset}_{task}"]
        paper[name] = paper_cell(names, first.metric, protocol, model)
        value = chance.get((dataset, task, first.metric), math.nan)
        floor[name] = "n/a" if math.isnan(value) else f"{value:.3f}"
    table = [{"encoder": e, **{c: cells.get(c, "") for c in columns}} for e, cells in rows.items()]
    if any(paper.values()):
        table.append({"encoder": "paper", **paper})
    table.append({"encoder": "chance", **floor})
    return pd.DataFrame(table, columns=["encoder", *columns])


def chance_values(plan: Plan, long: pd.DataFrame) -> dict[tuple[str, str, str], float]:
    """(data set, task, metric) -> the prior predictor's test metric, from the task tables."""
    values = {}
    for dataset, task in long[["dataset", "task"]].drop_duplicates().itertuples(index=False):
        path = plan.task_path(dataset, task)
        try:
            if path is None:
                raise InputError(f"plan: datasets.{dataset}.tasks", f"no table for task {task}")
            metrics = chance_metrics(load_task(path))
        except InputError as err:
            log.info("chance row: %s", err)
            continue
        values |= {(dataset, task, name): value for name, value in metrics.items()}
    return values


def reference_model(plan: Plan) -> str:
    """The size the paper row is matched to: the reference encoder's, else the first trained."""
    names = [plan.reference, *plan.pretrained()]
    return next((m for name in names if (m := plan.model_name(name))), "")


def paper_table(plan: Plan, long: pd.DataFrame) -> pd.DataFrame:
    """The paper-style table of the results (shared by the page and the W&B report)."""
    encoders = [*plan.encoders, *(e for e in long["encoder"].unique() if e not in plan.encoders)]
    return results_table(long, encoders, chance_values(plan, long), reference_model(plan))


def read_summaries(paths: list[Path]) -> pd.DataFrame:
    """The stage summaries among ``paths`` (in pipeline order) that exist, concatenated (id,
    stage, ok, ...); an empty frame when none does."""
    tables = [read_summary(path) for path in paths if Path(path).is_file()]
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
    recorded = failed["category"] if "category" in failed else pd.Series("", index=failed.index)
    failed["category"] = [  # summaries older than the records' classes: class their reasons
        category if category in CATEGORIES else reason_category(str(reason))
        for category, reason in zip(recorded, failed["reason"], strict=True)
    ]
    return failed[SKIPPED_COLUMNS].reset_index(drop=True)


def visible_composition(summaries: pd.DataFrame) -> pd.DataFrame:
    """Per crop mode of a data set's usable parsed videos: how many, the mean share (%) of each
    token class among the visible tokens, and the spread of the background share (10th-90th
    percentile); empty when the parse summary has no composition columns."""
    if summaries.empty or any(column not in summaries for column in COMPOSITION.values()):
        return pd.DataFrame()
    ok = summaries["ok"].astype(str).str.lower() == "true"
    parsed = summaries.loc[ok & (summaries["stage"] == "parse")]
    shares = parsed[list(COMPOSITION.values())].apply(pd.to_numeric, errors="coerce").dropna()
    crops = parsed.get("stats/crop_mode", pd.Series("", index=parsed.index)).loc[shares.index]
    rows = []
    for crop, group in shares.groupby(crops.fillna("").replace("", "unknown"), sort=True):
        background = 100 * group[COMPOSITION["background"]]
        rows.append(
            {"crop": crop, "videos": len(group)}
            | {f"{name} %": round(100 * group[c].mean(), 1) for name, c in COMPOSITION.items()}
            | {
                "background % p10-p90": f"{background.quantile(0.1):.0f}-{background.quantile(0.9):.0f}"
            }
        )
    return pd.DataFrame(rows)


def composition_settings(summaries: pd.DataFrame) -> list[str]:
    """The mask settings the parse records measured their composition at (one, unless the data
    set was parsed under several)."""
    column = summaries.get("stats/composition_mask", pd.Series(dtype=str)).dropna()
    return sorted({str(value) for value in column if str(value)})
