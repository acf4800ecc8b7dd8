"""Train a lip-sync expert (an encoder's face stream, an audio stream) on face clips and their mels.

``marlinflow lipsync-expert --encoder SPEC --clips A.mp4 B.mp4 --mels A.npz B.npz --out
expert.pt`` trains the expert on in-sync and shifted pairs of the clips (the track stage's face
clips) and their mel files (the audio stage's, in the same order), with the config's
``lipsync.expert`` settings, and writes the expert as a self-describing file for
``marlinflow lipsync-generator``. With ``--metrics`` it also writes the step losses there.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from marlinflow.commands import _flags
from marlinflow.errors import InputError


def add_video_arguments(parser: argparse.ArgumentParser) -> None:
    """The face clips and their mel files, in the same order (every lip-sync verb reads them)."""
    parser.add_argument("--clips", nargs="+", type=Path, required=True, help="face clips")
    parser.add_argument(
        "--mels", nargs="+", type=Path, required=True, help="their mel files, in the same order"
    )


def read_videos(args: argparse.Namespace) -> list:
    from marlinflow.lipsync.pairs import SyncVideo

    if len(args.clips) != len(args.mels):
        reason = f"{len(args.clips)} clips but {len(args.mels)} mel files"
        raise InputError("--clips/--mels", reason)
    return [SyncVideo.from_files(c, m) for c, m in zip(args.clips, args.mels, strict=True)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from marlinflow.lipsync.train import ExpertTraining

    parser.add_argument(
        "--encoder",
        required=True,
        help="the face stream: an encoder file, random:<size> or videomae:<size>:<path>",
    )
    add_video_arguments(parser)
    parser.add_argument("--out", type=Path, required=True, help="the expert file to write")
    parser.add_argument("--metrics", type=Path, help="JSON file for the training losses")
    _flags.add_arguments(
        parser.add_argument_group("settings (config: lipsync.expert)"), ExpertTraining
    )


def run(args: argparse.Namespace) -> int:
    from marlinflow.atomic import write_json
    from marlinflow.lipsync.train import ExpertTraining, build_expert, save_expert, train_expert

    cfg = ExpertTraining.from_args(args)
    videos = read_videos(args)
    expert = build_expert(
        args.encoder, not cfg.finetune_encoder, dim=cfg.dim, audio_width=cfg.audio_width
    )
    losses = train_expert(expert, videos, cfg)
    provenance = {
        "encoder": args.encoder,
        "clips": [str(c) for c in args.clips],
        "settings": cfg.to_dict(),
    }
    save_expert(expert, args.out, provenance)
    if args.metrics:
        write_json(args.metrics, {"losses": losses, "settings": cfg.to_dict()})
    print(f"{args.out}: {len(videos)} videos, {cfg.steps} steps, last loss {losses[-1]:.4f}")
    return 0
