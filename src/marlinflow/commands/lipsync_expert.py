"""Train a lip-sync expert (an encoder's face stream, an audio stream) on face clips and their mels.

``marlinflow lipsync-expert --encoder SPEC --clips A.mp4 B.mp4 --mels A.npz B.npz --out
expert.pt`` trains the expert on in-sync and shifted pairs of the clips (the track stage's face
clips) and their mel files (the audio stage's, in the same order), with the config's
``lipsync.expert`` settings, and writes the expert as a self-describing file for
``marlinflow lipsync-generator``. With ``--metrics`` it also writes the step losses there.

``--videos TABLE --split train`` reads the clips and mels of one split of a table of videos
(the workflow's ``sync_videos.tsv``, :mod:`marlinflow.lipsync.videos`) instead. With
``--held-out test`` the expert is then scored on that split's videos: sync accuracy on in-sync
and shifted pairs, AV-offset accuracy over ±``--max-offset`` frames, and each video's offset
curve (the mean score of every offset), all in ``--metrics``. Each lip-sync verb is a tracked run
(:mod:`marlinflow.tracking`) recorded in ``<OUT's folder>/runs/<job type>/``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from marlinflow.commands import _flags
from marlinflow.errors import InputError


def add_video_arguments(parser: argparse.ArgumentParser) -> None:
    """The face clips and their mel files, in the same order (every lip-sync verb reads them),
    or one split of a table of videos."""
    parser.add_argument("--clips", nargs="+", type=Path, help="face clips")
    parser.add_argument("--mels", nargs="+", type=Path, help="their mel files, in the same order")
    parser.add_argument(
        "--videos",
        type=Path,
        help="a table of videos (id, split, clip, mel, source, track: the workflow's "
        "sync_videos.tsv), instead of --clips and --mels",
    )
    parser.add_argument("--split", default="train", help="the split of --videos to read")
    _flags.add_setting(parser, "lipsync.device")


def device(args: argparse.Namespace) -> str:
    """The torch device --device names (auto: the GPU where CUDA sees one)."""
    from marlinflow.compute.devices import resolve_device

    return resolve_device(args.device)


def video_files(args: argparse.Namespace, split: str | None = None) -> dict[str, list[Path]]:
    """The video files the arguments name, by column (clip, mel, and with --videos source and
    track): --videos' rows of ``split`` (default --split), or --clips and --mels."""
    if args.videos is not None:
        from marlinflow.lipsync.videos import read_sync_videos

        rows = read_sync_videos(args.videos, split or args.split)
        return {column: [Path(p) for p in rows[column]] for column in rows.columns[2:]}
    if not args.clips or not args.mels:
        raise InputError("--clips/--mels", "name the clips and their mels, or give --videos")
    if len(args.clips) != len(args.mels):
        reason = f"{len(args.clips)} clips but {len(args.mels)} mel files"
        raise InputError("--clips/--mels", reason)
    return {"clip": list(args.clips), "mel": list(args.mels)}


def read_videos(args: argparse.Namespace, split: str | None = None) -> list:
    from marlinflow.lipsync.pairs import SyncVideo

    files = video_files(args, split)
    return [SyncVideo.from_files(c, m) for c, m in zip(files["clip"], files["mel"], strict=True)]


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
    parser.add_argument(
        "--held-out", help="the split of --videos the expert is scored on (sync, offsets)"
    )
    _flags.add_setting(parser, "lipsync.eval.max_offset")
    _flags.add_arguments(
        parser.add_argument_group("settings (config: lipsync.expert)"), ExpertTraining
    )


def run_dir(out: Path, job_type: str) -> Path:
    """The folder of a lip-sync verb's tracked run: ``<out's folder>/runs/<job type>``."""
    return Path(out).parent / "runs" / job_type


def run(args: argparse.Namespace) -> int:
    from marlinflow.atomic import write_json
    from marlinflow.lipsync.train import ExpertTraining, build_expert, save_expert, train_expert
    from marlinflow.tracking import track_run

    cfg = ExpertTraining.from_args(args)
    on = device(args)
    videos = read_videos(args)
    config = {**cfg.to_dict(), "encoder": args.encoder, "videos": len(videos), "device": on}
    with track_run("lipsync_expert", config, out_dir=run_dir(args.out, "lipsync_expert")) as run:
        expert = build_expert(
            args.encoder, not cfg.finetune_encoder, dim=cfg.dim, audio_width=cfg.audio_width
        ).to(on)
        losses = train_expert(expert, videos, cfg)
        for step, loss in enumerate(losses):
            run.log({"train/loss": loss}, step=step)
        provenance = {
            "encoder": args.encoder,
            "clips": [str(c) for c in video_files(args)["clip"]],
            "settings": cfg.to_dict(),
        }
        save_expert(expert, args.out, provenance)
        metrics = {"losses": losses, "settings": cfg.to_dict(), "train_videos": len(videos)}
        if args.held_out:
            if args.videos is None:
                raise InputError("--held-out", "scoring held-out videos reads them from --videos")
            metrics |= held_out_scores(expert, read_videos(args, args.held_out), args.max_offset)
            metrics["held_out"] = args.held_out
            keys = ("sync_accuracy", "offset_accuracy", "offset_accuracy_1", "videos")
            run.summarize({f"held_out/{key}": metrics[key] for key in keys})
        if args.metrics:
            write_json(args.metrics, metrics)
    print(f"{args.out}: {len(videos)} videos, {cfg.steps} steps, last loss {losses[-1]:.4f}")
    if args.held_out:
        found = metrics["offset_accuracy"]
        offset = "none long enough" if found is None else f"{found:.3f}"
        print(
            f"  held out ({metrics['videos']} videos): sync accuracy "
            f"{metrics['sync_accuracy']:.3f}, offset accuracy {offset}"
        )
        for video in metrics["skipped"]:
            print(f"  offset search skipped {video['id']}: {video['reason']}")
    return 0


def held_out_scores(expert, videos: list, max_offset: int) -> dict:
    """The expert's held-out metrics and each video's offset curve (offsets, mean scores)."""
    from marlinflow.lipsync.train import evaluate_expert

    return evaluate_expert(expert, videos, max_offset=max_offset)
