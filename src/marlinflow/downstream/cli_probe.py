"""Linear probe on cached features: a task table and a features folder -> metrics.json + predictions.

``marlinflow probe FEATURES TASK --out DIR`` trains one Linear head per seed on the temporal mean
of each video's ``FEATURES/<id>.npy`` (official settings unless overridden), selects the epoch
on val, and writes ``DIR/metrics.json`` (test metrics with bootstrap intervals, mean ± std over
seeds, counts, skipped videos and why) and ``DIR/predictions.csv``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from marlinflow.downstream.training import TrainConfig
from marlinflow.errors import InputError


def add_training_arguments(parser: argparse.ArgumentParser, defaults: TrainConfig) -> None:
    """Options shared by ``probe`` and ``finetune``; defaults are the official settings."""
    group = parser.add_argument_group("training")
    group.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run per seed")
    group.add_argument("--lr", type=float, default=defaults.lr, help="Adam learning rate")
    group.add_argument("--batch-size", type=int, default=defaults.batch_size, help="0: full batch")
    group.add_argument("--max-epochs", type=int, default=defaults.max_epochs)
    group.add_argument("--early-stop", type=int, help="stop after N epochs without a better val")
    low = group.add_mutually_exclusive_group()
    low.add_argument("--fraction", type=float, help="low-label: keep this fraction of train rows")
    low.add_argument("--k-per-class", type=int, help="few-shot: keep k train rows per class")
    group.add_argument("--bootstrap", type=int, default=1000, help="resamples for the intervals")
    parser.add_argument("--model-name", help="the encoder's name in the results and tables")
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")


def train_config(args: argparse.Namespace, seed: int, defaults: TrainConfig) -> TrainConfig:
    return dataclasses.replace(
        defaults, lr=args.lr, batch_size=args.batch_size, max_epochs=args.max_epochs,
        early_stop=args.early_stop, seed=seed,
    )  # fmt: skip


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
    parser.add_argument("--reduction", choices=("mean", "max"), default="mean")
    parser.add_argument("--usable", type=Path,
                        help="the usable face clips (a list, one path a line, or a folder): "
                        "other videos are skipped (default: every features file)")  # fmt: skip
    add_training_arguments(parser, TrainConfig())


def run(args: argparse.Namespace) -> int:
    from marlinflow.downstream.probe import run_probe
    from marlinflow.downstream.results import write_tracked
    from marlinflow.downstream.tasks import load_task
    from marlinflow.downstream.usable import UsableClips

    try:
        task = load_task(args.task)
        usable = UsableClips.read(args.usable) if args.usable else None
        runs = [run_probe(task, args.features, _config(args, seed), usable) for seed in args.seeds]
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    report(write_tracked(runs, args.out, "probe", vars(args)), runs)
    return 0


def _config(args: argparse.Namespace, seed: int):
    from marlinflow.downstream.probe import ProbeConfig

    return ProbeConfig(
        train=train_config(args, seed, TrainConfig()), reduction=args.reduction,
        fraction=args.fraction, k_per_class=args.k_per_class, n_bootstrap=args.bootstrap,
        model_name=args.model_name or args.features.resolve().name,
    )  # fmt: skip
