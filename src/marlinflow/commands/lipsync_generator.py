"""Train a Wav2Lip-style generator against a frozen lip-sync expert.

``marlinflow lipsync-generator --expert expert.pt --clips A.mp4 B.mp4 --mels A.npz B.npz --out
generator.pt`` trains the generator on the clips and their mels (as the expert reads them) with
the config's ``lipsync.generator`` settings: L1 reconstruction, the expert's sync loss and,
with ``--discriminator``, a visual quality discriminator. The expert file is the one
``marlinflow lipsync-expert`` wrote: run once with a MARLIN expert and once with a baseline's.
With ``--metrics`` it also writes every step's losses there.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from marlinflow.commands import _flags
from marlinflow.commands.lipsync_expert import (
    add_video_arguments,
    device,
    read_videos,
    run_dir,
    video_files,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from marlinflow.lipsync.generate import GeneratorSettings

    parser.add_argument("--expert", type=Path, required=True, help="the frozen expert's file")
    add_video_arguments(parser)
    parser.add_argument("--out", type=Path, required=True, help="the generator file to write")
    parser.add_argument("--metrics", type=Path, help="JSON file for the training losses")
    group = parser.add_argument_group("settings (config: lipsync.generator)")
    _flags.add_arguments(group, GeneratorSettings)


def run(args: argparse.Namespace) -> int:
    from marlinflow.atomic import write_json
    from marlinflow.lipsync.generate import (
        GeneratorSettings,
        build_generator,
        save_generator,
        train_generator,
    )
    from marlinflow.lipsync.train import load_expert
    from marlinflow.tracking import track_run

    cfg = GeneratorSettings.from_args(args)
    on = device(args)
    expert, expert_provenance = load_expert(args.expert)
    videos = read_videos(args)
    config = {**cfg.to_dict(), "expert": str(args.expert), "videos": len(videos), "device": on}
    job = "lipsync_generator"
    with track_run(job, config, out_dir=run_dir(args.out, job)) as run:
        generator = build_generator(cfg, expert.encoder.size.n_frames).to(on)
        history = train_generator(generator, expert, videos, cfg)
        for step, losses in enumerate(history):
            run.log({f"train/{key}": value for key, value in losses.items()}, step=step)
        provenance = {
            "expert": str(args.expert),
            "expert_encoder": expert_provenance.get("encoder"),
            "clips": [str(c) for c in video_files(args)["clip"]],
            "settings": cfg.to_dict(),
        }
        save_generator(generator, args.out, provenance)
        if args.metrics:
            write_json(args.metrics, {"history": history, "settings": cfg.to_dict()})
    last = history[-1]
    print(f"{args.out}: {cfg.steps} steps, last l1 {last['l1']:.4f} sync {last['sync']:.4f}")
    return 0
