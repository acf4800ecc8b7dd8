"""A stage's summary: its video records as one table and its aggregates, recorded as a run.

:func:`summarize_stage` turns a stage's records (:mod:`marlinflow.stages`) into its summary TSV
(one row per video, its statistics as ``stats/<name>`` columns) and records it as the stage's
tracked run (``summarize_<stage>``, see :mod:`marlinflow.tracking`): the same rows as its
``video_stats`` table, and the aggregates (usable counts, reasons by class, means, jitter
percentiles, totals). The report reads the TSVs; the W&B report shows the runs.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from marlinflow.atomic import atomic_path
from marlinflow.stages import StageRecord, collect
from marlinflow.tracking import track_run

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = ["id", "stage", "ok", "category", "reason", "seconds"]
STATS_PREFIX = "stats/"
STATS_TABLE = "video_stats"  # the summary's rows as the run's table
# Statistics summed over the videos as well as averaged (the rest are only averaged).
TOTALED_STATS = ("frames", "bytes", "seconds")
PERCENTILES = (50, 90)  # of the jitter statistics (*_px), with the maximum


def flat_stats(stats: dict[str, Any], prefix: str = STATS_PREFIX) -> dict[str, Any]:
    """``{"frames": 40, "label_coverage": {"skin": 0.4}}`` -> ``{"stats/frames": 40,
    "stats/label_coverage/skin": 0.4}``."""
    flat: dict[str, Any] = {}
    for key, value in stats.items():
        if isinstance(value, dict):
            flat.update(flat_stats(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def summary_table(records: list[StageRecord]) -> pd.DataFrame:
    """One row per record (id, stage, ok, category, reason, seconds, then its statistics as
    ``stats/<name>`` columns), the unusable first."""
    rows = [
        {
            "id": r.id,
            "stage": r.stage,
            "ok": r.ok,
            "category": r.failure_class,
            "reason": r.reason,
            "seconds": r.seconds,
            **flat_stats(r.stats),
        }
        for r in records
    ]
    stats_columns = list(
        dict.fromkeys(k for row in rows for k in row if k.startswith(STATS_PREFIX))
    )
    table = pd.DataFrame(rows, columns=SUMMARY_COLUMNS + stats_columns)
    return table.sort_values(["ok", "id"], kind="stable").reset_index(drop=True)


def stats_aggregates(usable: pd.DataFrame) -> dict[str, float]:
    """Means of the usable videos' numeric statistics, totals of counts, jitter percentiles."""
    aggregates: dict[str, float] = {}
    for column in [c for c in usable if c.startswith(STATS_PREFIX)]:
        values = pd.to_numeric(usable[column], errors="coerce").dropna()
        if values.empty or usable[column].dtype == bool:
            continue
        aggregates[f"{column}/mean"] = float(values.mean())
        if column.rsplit("/", 1)[-1] in TOTALED_STATS:
            aggregates[f"{column}/total"] = float(values.sum())
        if column.endswith("_px"):
            for q in PERCENTILES:
                aggregates[f"{column}/p{q}"] = float(values.quantile(q / 100))
            aggregates[f"{column}/max"] = float(values.max())
    return aggregates


def stage_aggregates(table: pd.DataFrame) -> dict[str, float]:
    """A stage in numbers: videos, usable, unusable by reason class, then :func:`stats_aggregates`."""
    ok = table["ok"].astype(bool)
    aggregates: dict[str, float] = {
        "videos/total": len(table),
        "videos/usable": int(ok.sum()),
        "videos/unusable": int((~ok).sum()),
        "seconds/total": float(table["seconds"].sum()),
    }
    for category, count in table.loc[~ok, "category"].value_counts().sort_index().items():
        aggregates[f"unusable/{category}"] = int(count)
    return aggregates | stats_aggregates(table[ok])


def summarize_stage(paths: list[Path], out: Path, run_dir: Path | None = None) -> pd.DataFrame:
    """Write the summary TSV ``out`` of the records at ``paths`` and record it as the run
    ``summarize_<stage>`` in ``run_dir`` (default ``<out's folder>/runs/<job type>``)."""
    table = summary_table(collect(paths))
    stages = list(dict.fromkeys(table["stage"]))
    job_type = "summarize_" + "_".join(stages)
    folders = sorted({str(Path(p).parent) for p in paths})
    config = {"stages": stages, "records": len(paths), "folders": folders, "out": str(out)}
    with track_run(job_type, config, out_dir=run_dir or out.parent / "runs" / job_type) as tracked:
        with atomic_path(out) as tmp:
            table.to_csv(tmp, sep="\t", index=False)
        tracked.log_table(STATS_TABLE, table, step=0)
        aggregates = stage_aggregates(table)
        tracked.log(aggregates, step=0)
        tracked.summarize(aggregates)
    log.info("%s: run recorded in %s (W&B %s)", out, tracked.out_dir, tracked.mode)
    return table
