"""Score a lip-sync generator on held-out videos: LSE-D, LSE-C (SyncNet) and FID -> metrics.json.

``marlinflow lipsync-eval --generator generator.pt --clips A.mp4 --mels A.npz --sources A_src.mp4
--tracks A.json --syncnet syncnet_v2.model [--inception pt_inception-2015-12-05-6726825d.pth]
--out metrics.json`` regenerates each held-out clip from its own frames and sound and scores the
result: LSE-D and LSE-C with SyncNet (the weights file of syncnet_python), beside the same
scores of the real frames, and FID of the generated faces against the real ones with FID's
Inception weights (pytorch-fid's file; without ``--inception`` FID is null). ``--sources`` are
the videos the clips were cut from (their sound) and ``--tracks`` the clips' face tracks (their
frames' times), in the clips' order. Settings: the config's ``lipsync.eval``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from marlinflow.commands import _flags
from marlinflow.commands.lipsync_expert import add_video_arguments
from marlinflow.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from marlinflow.lipsync.evaluate import EvalSettings

    parser.add_argument("--generator", type=Path, required=True, help="the generator file")
    add_video_arguments(parser)
    parser.add_argument(
        "--sources", nargs="+", type=Path, required=True, help="the videos the clips were cut from"
    )
    parser.add_argument(
        "--tracks", nargs="+", type=Path, required=True, help="the clips' face tracks"
    )
    parser.add_argument("--syncnet", type=Path, required=True, help="SyncNet's weights file")
    parser.add_argument("--inception", type=Path, help="FID's Inception weights file")
    parser.add_argument("--out", type=Path, required=True, help="metrics.json to write")
    _flags.add_arguments(parser.add_argument_group("settings (config: lipsync.eval)"), EvalSettings)


def run(args: argparse.Namespace) -> int:
    from marlinflow.atomic import write_json
    from marlinflow.lipsync.evaluate import EvalSettings, HeldOut, evaluate_generator
    from marlinflow.lipsync.generate import load_generator
    from marlinflow.lipsync.syncnet import load_syncnet

    files = (args.clips, args.mels, args.sources, args.tracks)
    if len({len(f) for f in files}) != 1:
        counts = "/".join(str(len(f)) for f in files)
        raise InputError(
            "--clips/--mels/--sources/--tracks", f"lists of different lengths ({counts})"
        )
    syncnet = load_syncnet(args.syncnet)
    inception = None
    if args.inception:
        from marlinflow.lipsync.fid import load_inception

        inception = load_inception(args.inception)
    generator, provenance = load_generator(args.generator)
    held_out = [HeldOut.from_files(*paths) for paths in zip(*files, strict=True)]
    metrics = evaluate_generator(
        generator, held_out, syncnet, EvalSettings.from_args(args), inception
    )
    metrics["generator"] = {"file": str(args.generator), "expert": provenance.get("expert")}
    write_json(args.out, metrics)
    fid = "n/a" if metrics["fid"] is None else f"{metrics['fid']:.3f}"
    print(
        f"{args.out}: {metrics['videos']} videos, LSE-D {metrics['lse_d']:.3f} "
        f"LSE-C {metrics['lse_c']:.3f} (real {metrics['lse_d_real']:.3f} / "
        f"{metrics['lse_c_real']:.3f}), FID {fid}"
    )
    return 0
