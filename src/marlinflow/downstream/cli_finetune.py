"""Fine-tune an encoder end to end on face clips: task table + clips -> metrics.json + predictions.

``marlinflow finetune TASK --usable LIST --encoder SPEC --out DIR`` trains the encoder and a Linear
head per seed, starting each seed from the same weights. SPEC is a weights file, ``random:<size>``
(the untrained baseline of the same size) or ``videomae:<size>:<path>``; ``--baseline`` adds a
run of the random encoder of the same size, written to ``DIR/baseline/``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from marlinflow.downstream.cli_probe import add_training_arguments, report, train_config
from marlinflow.downstream.training import TrainConfig
from marlinflow.errors import InputError

DEFAULTS = TrainConfig()  # the official settings (marlin.md §3.3)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", type=Path, help="task table (TSV with its .json spec beside it)")
    parser.add_argument("--usable", "--faces", type=Path, required=True,
                        help="the usable face clips: a list (one path a line) or a folder of "
                        "<id>.mp4")  # fmt: skip
    parser.add_argument(
        "--encoder", required=True, help="weights file, random:<size>, videomae:<size>:<path>"
    )
    parser.add_argument("--baseline", action="store_true", help="also run a random encoder")
    parser.add_argument("--sample-rate", type=int, default=2, help="take every n-th frame")
    parser.add_argument("--test-clips", type=int, default=4, help="clips averaged per test video")
    parser.add_argument(
        "--device",
        default="auto",
        help="torch device: auto (the GPU if there is one), cpu, cuda, cuda:1",
    )
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--workers", type=int, default=0, help="clip-reading processes")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast (GPU)")
    parser.add_argument("--trusted", action="store_true", help="allow pickled checkpoints")
    add_training_arguments(parser, DEFAULTS)


def run(args: argparse.Namespace) -> int:
    from marlinflow.devices import resolve_device
    from marlinflow.downstream.encoders import load_encoder
    from marlinflow.downstream.results import write_tracked
    from marlinflow.downstream.tasks import load_task

    try:
        args.device = resolve_device(args.device)
        task = load_task(args.task)
        encoder, _ = load_encoder(args.encoder, trusted=args.trusted)  # fails early if unusable
        jobs = [(args.encoder, args.out)]
        if args.baseline:
            jobs.append((f"random:{encoder.size.name}", args.out / "baseline"))
        for spec, out in jobs:
            runs = [_one_seed(task, spec, args, seed) for seed in args.seeds]
            report(write_tracked(runs, out, "finetune", {**vars(args), "encoder": spec}), runs)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


def _one_seed(task, spec: str, args: argparse.Namespace, seed: int):
    from marlinflow.downstream.encoders import load_encoder
    from marlinflow.downstream.finetune import FinetuneConfig, run_finetune

    encoder, name = load_encoder(spec, seed=seed, trusted=args.trusted)  # fresh weights per seed
    if args.model_name and spec == args.encoder:
        name = args.model_name
    cfg = FinetuneConfig(
        train=train_config(args, seed, DEFAULTS), sample_rate=args.sample_rate,
        test_clips=args.test_clips, n_bootstrap=args.bootstrap, fraction=args.fraction,
        k_per_class=args.k_per_class, device=args.device, threads=args.threads,
        workers=args.workers, bf16=args.bf16,
    )  # fmt: skip
    return run_finetune(task, args.usable, encoder.to(args.device), cfg, name)
