"""Build the W&B Report of an experiment: results, loss curves, downstream metrics, skipped videos.

The report is made from the same plain data as the local report, all found through the
experiment's plan (``plan.json``): the steps' run records (``run.json``, see
:mod:`marlinflow.tracking`) in the folders the plan names, the results table the local report
wrote, and the stage summaries. Its sections: results (the local page's paper-style table),
pretraining losses, downstream metrics, preprocessing (the stage summaries' runs: usable videos,
face statistics, the per-video table), feature extraction and skipped videos. Its panels show
the W&B runs of the groups those records belong to (a step that was up to date in this
invocation keeps the group of the invocation that ran it). Building needs no server; saving
happens only when tracking is online.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import wandb_workspaces.reports.v2 as wr
from wandb_workspaces import expr

from marlinflow.atomic import write_json
from marlinflow.report import tables
from marlinflow.report.plan import SAMPLE_BANNER, Plan, load_plan
from marlinflow.tracking import RUN_FILE, TrackingSettings, resolve_mode

log = logging.getLogger(__name__)

LOSS_JOB_TYPES = ("pretrain",)
# Rules whose runs end in downstream metrics (their run summaries).
DOWNSTREAM_PREFIXES = ("finetune", "probe", "linear_probe", "evaluate", "downstream")
# Feature extraction runs (one per encoder) and the numbers they end with.
FEATURES_JOB_TYPE = "extract_features"
FEATURES_METRICS = ("clips_per_s", "videos", "videos_failed", "windows", "seconds")
# Runs that summarise a preprocessing stage (marlinflow.report.stage_summary), and what they show.
PREPROCESSING_PREFIX = "summarize_"
PREPROCESSING_METRICS = (
    "videos/usable",
    "videos/unusable",
    "stats/face_fraction/mean",
    "stats/crop_jitter_px/p90",
    "stats/face_jitter_px/p90",
    "stats/frames/total",
    "stats/frames_per_s_processed/mean",
)
# What the encoder sees of each data set: its parse summary's mean visible-token composition.
COMPOSITION_METRICS = tuple(f"{column}/mean" for column in tables.COMPOSITION.values())
MAX_TABLE_ROWS = 200
SKIPPED_COLUMNS = ["dataset", "id", "stage", "reason"]


@dataclass
class ReportInputs:
    group: str  # this invocation's group
    runs: list[dict[str, Any]]  # run.json records
    results: pd.DataFrame = field(default_factory=pd.DataFrame)  # the paper-style table
    # the unusable videos; None: no stage summary is there yet
    skipped: pd.DataFrame | None = field(
        default_factory=lambda: pd.DataFrame(columns=SKIPPED_COLUMNS)
    )
    experiment: str = ""  # the report's name
    sample: bool = False  # results of the embedded sample: a smoke test


def markdown_table(table: pd.DataFrame, max_rows: int = MAX_TABLE_ROWS) -> str:
    """A Markdown table (numbers to 4 significant digits); rows past ``max_rows`` are counted."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "" if math.isnan(value) else f"{value:.4g}"
        return str(value).replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(cell(c) for c in table.columns) + " |"
    rule = "|" + "---|" * len(table.columns)
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.head(max_rows).values]
    more = [f"\n*... and {len(table) - max_rows} more rows*"] if len(table) > max_rows else []
    return "\n".join([head, rule, *rows, *more])


def is_downstream(job_type: str) -> bool:
    return job_type.startswith(DOWNSTREAM_PREFIXES)


def runset(project: str, entity: str, runs: list[dict[str, Any]], name: str) -> wr.Runset:
    """The W&B runs of these records: their groups and job types."""
    groups = sorted({r["group"] for r in runs})
    job_types = sorted({r["job_type"] for r in runs})
    filters = expr.And(expr.Metric("Group").isin(groups), expr.Metric("JobType").isin(job_types))
    return wr.Runset(entity=entity, project=project, name=name, filters=filters)


def loss_panels(runs: list[dict[str, Any]]) -> list[wr.LinePlot]:
    """One plot per loss, its train and validation curves together (``train/x``, ``val/x``)."""
    keys = sorted({k for r in runs for k in r.get("logged_keys", []) if "loss" in k})
    by_name: dict[str, list[str]] = {}
    for key in keys:
        by_name.setdefault(key.split("/")[-1], []).append(key)
    return [wr.LinePlot(title=name, x="Step", y=ys) for name, ys in by_name.items()]


def metric_panels(runs: list[dict[str, Any]]) -> list[wr.BarPlot]:
    """One bar plot per numeric summary value of the downstream runs."""
    keys = sorted(
        {k for r in runs for k, v in r.get("summary", {}).items() if isinstance(v, (int, float))}
    )
    return [wr.BarPlot(title=key, metrics=[key], orientation="v") for key in keys]


def preprocessing_panels(runs: list[dict[str, Any]]) -> list:
    """Bars of the stage summaries' main numbers (those the runs have, and the unusable videos
    by reason class), then each table they logged."""
    keys = {k for r in runs for k in r.get("summary", {})}
    metrics = [k for k in PREPROCESSING_METRICS + COMPOSITION_METRICS if k in keys]
    metrics += sorted(k for k in keys if k.startswith("unusable/"))
    tables = sorted({name for r in runs for name in r.get("tables", [])})
    bars = [wr.BarPlot(title=key, metrics=[key], orientation="v") for key in metrics]
    return bars + [wr.WeavePanelSummaryTable(table_name=name) for name in tables]


def feature_panels(runs: list[dict[str, Any]]) -> list[wr.BarPlot]:
    """Bars of each encoder's extraction: speed, videos (and failures), windows, seconds."""
    keys = {k for r in runs for k in r.get("summary", {})}
    return [
        wr.BarPlot(title=key, metrics=[key], orientation="v")
        for key in FEATURES_METRICS
        if key in keys
    ]


def panel_section(title, runs, panels, project, entity, empty: str) -> list:
    if not runs or not panels:
        return [wr.H1(title), wr.P(empty)]
    grid = wr.PanelGrid(runsets=[runset(project, entity, runs, title)], panels=panels)
    return [wr.H1(title), grid]


RESULTS_NOTE = (
    "One row per encoder, one column per (data set, task, protocol) with the task's main test "
    "metric: mean over seeds [95% bootstrap interval over test videos, the mean of the seeds' "
    "bounds] (± std over seeds). chance: the training split's label frequencies for every video."
)


def results_section(results: pd.DataFrame) -> list:
    if results.empty:
        return [wr.H1("Results"), wr.P("No results yet in this run.")]
    return [wr.H1("Results"), wr.P(RESULTS_NOTE), wr.MarkdownBlock(text=markdown_table(results))]


def skipped_section(skipped: pd.DataFrame | None) -> list:
    if skipped is None:
        return [wr.H1("Skipped videos"), wr.P("No stage summary yet in this experiment.")]
    if skipped.empty:
        return [wr.H1("Skipped videos"), wr.P("Every video was usable.")]
    counts = skipped["stage"].value_counts().sort_index()
    by_stage = ", ".join(f"{stage}: {n}" for stage, n in counts.items())
    videos = "1 video" if len(skipped) == 1 else f"{len(skipped)} videos"
    intro = wr.P(f"{videos} could not be used ({by_stage}).")
    return [wr.H1("Skipped videos"), intro, wr.MarkdownBlock(text=markdown_table(skipped))]


def build_report(inputs: ReportInputs, project: str = "marlinflow", entity: str = "") -> wr.Report:
    """The report object (nothing is sent anywhere)."""
    pretrain = [r for r in inputs.runs if r["job_type"] in LOSS_JOB_TYPES]
    downstream = [r for r in inputs.runs if is_downstream(r["job_type"])]
    stages = [r for r in inputs.runs if r["job_type"].startswith(PREPROCESSING_PREFIX)]
    features = [r for r in inputs.runs if r["job_type"] == FEATURES_JOB_TYPE]
    groups = sorted({r["group"] for r in inputs.runs} | {inputs.group})
    name = inputs.experiment or inputs.group
    about = f"Experiment {name}; W&B groups: {', '.join(groups)}."
    blocks = [
        *([wr.P(SAMPLE_BANNER)] if inputs.sample else []),
        wr.TableOfContents(),
        *results_section(inputs.results),
        *panel_section(
            "Pretraining",
            pretrain,
            loss_panels(pretrain),
            project,
            entity,
            "No pretraining run in this pipeline run.",
        ),
        *panel_section(
            "Downstream",
            downstream,
            metric_panels(downstream),
            project,
            entity,
            "No downstream evaluation in this pipeline run.",
        ),
        *panel_section(
            "Preprocessing",
            stages,
            preprocessing_panels(stages),
            project,
            entity,
            "No stage summary in this pipeline run.",
        ),
        *panel_section(
            "Feature extraction",
            features,
            feature_panels(features),
            project,
            entity,
            "No feature extraction in this pipeline run.",
        ),
        *skipped_section(inputs.skipped),
    ]
    title = f"MARLIN experiment {name}"[:128]  # W&B's title limit
    return wr.Report(project=project, entity=entity, title=title, description=about, blocks=blocks)


def panel_title(panel: Any) -> str:
    return getattr(panel, "title", None) or getattr(panel, "table_name", "")


def outline(report: wr.Report) -> list[dict[str, Any]]:
    """A plain description of the blocks (kept beside the report, and read by the tests)."""
    items = []
    for block in report.blocks:
        item: dict[str, Any] = {"block": type(block).__name__}
        if isinstance(block, wr.PanelGrid):
            item["filters"] = [str(rs.filters) for rs in block.runsets]
            item["panels"] = [
                {"panel": type(p).__name__, "title": panel_title(p)} for p in block.panels
            ]
        elif hasattr(block, "text"):
            item["text"] = str(block.text)
        items.append(item)
    return items


def save_report(report: wr.Report, settings: TrackingSettings) -> str | None:
    """Save to W&B when tracking is online; returns the report's address (None otherwise)."""
    if resolve_mode(settings.mode) != "online":
        return None
    import wandb

    entity = report.entity or wandb.Api().default_entity
    report.entity = entity
    for block in report.blocks:
        for rs in getattr(block, "runsets", []):
            rs.entity = rs.entity or entity
    report.save()
    return report.url


def record_paths(plan: Plan, report_dir: Path | None) -> list[Path]:
    """Where the plan's steps keep their run records: pretraining runs, feature extractions,
    downstream results, stage summaries, and the local report's run (no duplicates)."""
    paths = [run / RUN_FILE for run in plan.pretrained().values()]
    paths += [plan.path(entry["folder"]) / RUN_FILE for entry in plan.features]
    paths += [plan.path(entry["metrics"]).parent / RUN_FILE for entry in plan.results]
    paths += [
        plan.path(p) for d in plan.datasets.values() for p in (d.get("summary_runs") or {}).values()
    ]
    if report_dir is not None:
        paths.append(report_dir / RUN_FILE)
    return list(dict.fromkeys(paths))


def read_records(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """The records that are there and readable; the others are logged and left out (a partial
    run still gets a report)."""
    records, missing = [], []
    for path in paths:
        if not Path(path).is_file():
            missing.append(path)
            continue
        try:
            records.append(json.loads(Path(path).read_text()))
        except (OSError, ValueError) as err:
            log.warning("%s: not a readable run record (%s)", path, err)
    if missing:
        log.info("%d run record(s) not there yet: %s", len(missing), ", ".join(map(str, missing)))
    return records


def read_skipped(plan: Plan) -> pd.DataFrame | None:
    """The unusable videos of every data set's stage summaries, each once: at the first stage
    where it failed (later stages only say it was skipped); None when no summary is there."""
    frames = []
    for dataset in plan.datasets:
        summaries = tables.read_summaries(list(plan.summaries(dataset).values()))
        if not summaries.empty:
            frames.append(tables.skipped_videos(summaries).assign(dataset=dataset))
    if not frames:
        return None
    return pd.concat(frames, ignore_index=True)[SKIPPED_COLUMNS]


def read_results(plan: Plan, path: Path | None) -> pd.DataFrame:
    """The local report's table, from its long form (``results.tsv``), when it is there."""
    if path is None or not path.is_file():
        log.info("no results table: %s", path)
        return pd.DataFrame()
    long = pd.read_csv(path, sep="\t", dtype={"dataset": str, "task": str, "encoder": str})
    return tables.paper_table(plan, long) if not long.empty else pd.DataFrame()


def gather_inputs(
    plan: Plan, results: Path | None, group: str | None, settings: TrackingSettings
) -> ReportInputs:
    """What the report shows, found through the plan: the run records (the local report's
    beside ``results``), the results table and the skipped videos. The group is ``group``, else
    the workflow's, else that of the last record."""
    runs = read_records(record_paths(plan, results.parent if results else None))
    group = group or settings.group or (runs[-1]["group"] if runs else "unnamed")
    return ReportInputs(
        group, runs, read_results(plan, results), read_skipped(plan), plan.name, plan.sample
    )


def write_wandb_report(
    plan_path: Path,
    out: Path,
    root: Path = Path("."),
    results: Path | None = None,
    group: str | None = None,
) -> str | None:
    """Build the W&B Report of the experiment planned in ``plan_path`` (its paths relative to
    ``root``), save it when tracking is online and write its outline to ``out``; returns the
    saved report's address (None when tracking is not online)."""
    settings = TrackingSettings.from_env()
    inputs = gather_inputs(load_plan(plan_path, root), results, group, settings)
    report = build_report(inputs, settings.project, settings.entity or "")
    url = save_report(report, settings)
    write_json(out, {"title": report.title, "url": url, "blocks": outline(report)})
    return url
