"""Linear probe on cached features: a task table and a features folder -> metrics.json + predictions.

``marlinflow probe FEATURES TASK --out DIR`` trains one Linear head per seed on the temporal mean
of each video's ``FEATURES/<id>.npy`` (official settings unless overridden: the config's
``downstream.probe`` section), selects the epoch on val, and writes ``DIR/metrics.json`` (test
metrics with bootstrap intervals, mean ± std over seeds, counts, skipped videos and why) and
``DIR/predictions.csv``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from marlinflow.commands import _flags
from marlinflow.downstream.probe import ProbeConfig, ProbeSettings
from marlinflow.errors import InputError


def add_run_arguments(parser: argparse.ArgumentParser, protocol: type) -> None:
    """What ``probe`` and ``finetune`` share: the protocol's settings, seeds, name and folder."""
    _flags.add_arguments(parser.add_argument_group("settings (config: downstream)"), protocol)
    _flags.add_setting(parser, "downstream.seeds")
    parser.add_argument("--model-name", help="the encoder's name in the results and tables")
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")


def checked(protocol: type, args: argparse.Namespace):
    """The protocol's settings from the flags; a low-label run keeps one kind of budget."""
    chosen = protocol.from_args(args)
    if chosen.fraction is not None and chosen.k_per_class is not None:
        raise InputError("--fraction/--k-per-class", "give one low-label budget, not both")
    return chosen


def report(metrics_path: Path, runs) -> None:
    from marlinflow.downstream.results import summarise

    for name, value in summarise(runs).items():
        print(f"{name}: {value['mean']:.4f} ± {value['std']:.4f} (n={value['n']})")
    skipped = runs[0].skipped
    print(f"{metrics_path}: {runs[0].counts}, {len(skipped)} skipped")
    for item in skipped[:10]:
        print(f"  skipped {item['id']}: {item['reason']}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("features", type=Path, help="folder of <id>.npy features (n_windows, D)")
    parser.add_argument("task", type=Path, help="task table (TSV with its .json spec beside it)")
    parser.add_argument(
        "--reduction",
        choices=("mean", "max"),
        default="mean",
        help="how a video's windows become one feature (official: mean)",
    )
    parser.add_argument(
        "--usable",
        type=Path,
        help="the usable face clips (a list, one path a line, or a folder): other videos are "
        "skipped (default: every features file)",
    )
    add_run_arguments(parser, ProbeSettings)


def run(args: argparse.Namespace) -> int:
    from marlinflow.downstream.probe import run_probe
    from marlinflow.downstream.results import write_tracked
    from marlinflow.downstream.tasks import load_task
    from marlinflow.downstream.usable import UsableClips

    chosen = checked(ProbeSettings, args)
    name = args.model_name or args.features.resolve().name
    task = load_task(args.task)
    usable = UsableClips.read(args.usable) if args.usable else None
    runs = [
        run_probe(
            task,
            args.features,
            ProbeConfig.from_settings(chosen, seed, args.reduction, name),
            usable,
        )
        for seed in args.seeds
    ]
    report(write_tracked(runs, args.out, "probe", vars(args)), runs)
    return 0
