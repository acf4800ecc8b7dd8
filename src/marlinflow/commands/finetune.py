"""Fine-tune an encoder end to end on face clips: task table + clips -> metrics.json + predictions.

``marlinflow finetune TASK --usable LIST --encoder SPEC --out DIR`` trains the encoder and a Linear
head per seed, starting each seed from the same weights (settings: the config's
``downstream.finetune`` section). SPEC is a weights file, ``random:<size>`` (the untrained baseline
of the same size) or ``videomae:<size>:<path>``; ``--baseline`` adds a run of the random encoder of
the same size, written to ``DIR/baseline/``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from marlinflow.commands.probe import add_run_arguments, checked, report
from marlinflow.downstream.finetune import FinetuneConfig, FinetuneSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", type=Path, help="task table (TSV with its .json spec beside it)")
    parser.add_argument(
        "--usable",
        "--faces",
        type=Path,
        required=True,
        help="the usable face clips: a list (one path a line) or a folder of <id>.mp4",
    )
    parser.add_argument(
        "--encoder", required=True, help="weights file, random:<size>, videomae:<size>:<path>"
    )
    parser.add_argument("--baseline", action="store_true", help="also run a random encoder")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--trusted", action="store_true", help="allow pickled checkpoints")
    add_run_arguments(parser, FinetuneSettings)


def run(args: argparse.Namespace) -> int:
    from marlinflow.compute.devices import resolve_device
    from marlinflow.downstream.encoders import load_encoder
    from marlinflow.downstream.results import write_tracked
    from marlinflow.downstream.tasks import load_task

    chosen = checked(FinetuneSettings, args)
    device = resolve_device(chosen.device)
    task = load_task(args.task)
    encoder, _ = load_encoder(args.encoder, trusted=args.trusted)  # fails early if unusable
    jobs = [(args.encoder, args.out)]
    if args.baseline:
        jobs.append((f"random:{encoder.size.name}", args.out / "baseline"))
    for spec, out in jobs:
        runs = [_one_seed(task, spec, args, chosen, device, seed) for seed in args.seeds]
        config = {**vars(args), "device": device, "encoder": spec}
        report(write_tracked(runs, out, "finetune", config), runs)
    return 0


def _one_seed(task, spec: str, args: argparse.Namespace, chosen, device: str, seed: int):
    from marlinflow.downstream.encoders import load_encoder
    from marlinflow.downstream.finetune import run_finetune

    encoder, name = load_encoder(spec, seed=seed, trusted=args.trusted)  # fresh weights per seed
    if args.model_name and spec == args.encoder:
        name = args.model_name
    cfg = FinetuneConfig.from_settings(chosen, seed, device, args.threads)
    return run_finetune(task, args.usable, encoder.to(device), cfg, name)
