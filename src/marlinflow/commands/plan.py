"""Estimate an experiment's cost: CPU and GPU hours, storage and SLURM jobs, stage by stage.

``marlinflow plan config/experiments/marlin_paper.yaml [roots.yaml ...]`` reads the config
files as ``check-config`` does and prints what an allocation request needs: each data set's size
(its manifest, or the size its paper publishes while its files are not there), CPU core-hours,
GPU-hours and storage per stage, GPU-hours per model size, the workflow's jobs and SLURM
submissions, and every rate used with where it comes from (a BENCHMARKS.md row, or an
assumption marked as one). ``--json`` prints the same for programs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from marlinflow.commands._configs import add_config_arguments, read_configs

PROFILE = Path("workflow/profiles/slurm")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument(
        "--profile",
        default=str(PROFILE),
        help="the Snakemake profile folder whose groups bundle the per-video steps into SLURM "
        "jobs ('none': every job its own submission)",
    )
    parser.add_argument("--snakefile", type=Path, default=Path("Snakefile"), help="the workflow")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")


def run(args: argparse.Namespace) -> int:
    from marlinflow.experiment.cost import estimate, plan_document
    from marlinflow.experiment.spec import experiment_from_config

    paths, config = read_configs(args)
    profile = None if args.profile == "none" else Path(args.profile)
    plan = estimate(experiment_from_config(config), config, args.snakefile, profile)
    if args.json:
        print(json.dumps(plan_document(plan), indent=1))
    else:
        print(plan_text(plan_document(plan), " + ".join(map(str, paths)) or "the defaults"))
    return 0


def plan_text(doc: dict, read: str) -> str:
    """The plan as plain-text tables."""
    lines = [f"Cost of experiment {doc['experiment']} ({read})", ""]
    lines += datasets_table(doc["datasets"]) + [""]
    lines += stages_table(doc["stages"], doc["total"]) + [""]
    lines += sizes_table(doc["gpu_hours_by_model_size"]) + [""]
    lines += jobs_lines(doc["jobs"]) + [""]
    lines += rates_lines(doc["rates"]) + ["", "Notes"]
    lines += [f"  - {note}" for note in doc["notes"]]
    return "\n".join(lines)


def datasets_table(datasets: dict) -> list[str]:
    from marlinflow.experiment.sizes import FETCH_WORK

    lines = [f"{'Data set':<12}{'videos':>10}  {'train/val/test':<22}{'length':>9}  source"]
    for name, d in datasets.items():
        splits = "/".join(f"{d['splits'].get(s, 0):,}" for s in ("train", "val", "test"))
        w, h = d["size"]
        length = f"{d['seconds']:.1f} s"
        lines.append(f"{name:<12}{d['videos']:>10,}  {splits:<22}{length:>9}  {d['source']}")
        work = ", ".join(f"{n:,} {FETCH_WORK.get(how, how)}" for how, n in d["download"].items())
        lines.append(f"{'':<12}{'':>10}  {w}x{h} at {d['fps']:g} fps; download: {work}")
    return lines


def stages_table(stages: dict, total: dict) -> list[str]:
    lines = [f"{'Stage':<20}{'CPU core-h':>14}{'GPU-h':>12}{'storage':>12}"]
    for stage, cost in [*stages.items(), ("total", total)]:
        lines.append(
            f"{stage:<20}{hours_text(cost['cpu_hours']):>14}{hours_text(cost['gpu_hours']):>12}"
            f"{size_text(cost['bytes']):>12}"
        )
    return lines


def sizes_table(by_size: dict) -> list[str]:
    stages = ("pretrain", "feature extraction", "fine-tune")
    header = f"{'size':<10}" + "".join(f"{s:>20}" for s in stages) + f"{'total':>12}"
    lines = ["GPU-hours by model size", header]
    for size, hours in by_size.items():
        cells = "".join(f"{hours_text(hours.get(s, 0.0)):>20}" for s in stages)
        lines.append(f"{size:<10}{cells}{hours_text(sum(hours.values())):>12}")
    return lines


def jobs_lines(jobs: dict) -> list[str]:
    groups = ", ".join(f"{g}: {n:,}" for g, n in jobs["groups"].items()) or "none"
    rules = ", ".join(f"{rule} {n:,}" for rule, n in jobs["rules"].items())
    return [
        f"Jobs: {jobs['total']:,} (as snakemake -n counts them); {jobs['on_login_node']:,} run "
        f"where Snakemake runs (localrules), {jobs['submitted']:,} SLURM submissions",
        f"  group jobs (per-video steps bundled): {groups}",
        f"  per rule: {rules}",
    ]


def rates_lines(rates: dict) -> list[str]:
    lines = ["Rates used (* not measured: an assumption)"]
    for name, rate in rates.items():
        mark = " " if rate["measured"] else "*"
        lines.append(f" {mark}{name:<24}{rate['value']:>12.4g} {rate['unit']}: {rate['source']}")
    return lines


def hours_text(hours: float) -> str:
    if not hours:
        return "-"
    return f"{hours:,.0f}" if hours >= 100 else f"{hours:.1f}" if hours >= 1 else f"{hours:.2g}"


def size_text(n_bytes: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:,.1f} {unit}"
    return f"{n_bytes / 1e3:,.1f} kB" if n_bytes else "-"
