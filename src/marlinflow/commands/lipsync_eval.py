"""Score a lip-sync generator on held-out videos: LSE-D, LSE-C (SyncNet) and FID -> metrics.json.

``marlinflow lipsync-eval --generator generator.pt --clips A.mp4 --mels A.npz --sources A_src.mp4
--tracks A.json --syncnet syncnet_v2.model [--inception pt_inception-2015-12-05-6726825d.pth]
--out metrics.json`` regenerates each held-out clip from its own frames and sound and scores the
result: LSE-D and LSE-C with SyncNet (the weights file of syncnet_python), beside the same
scores of the real frames, and FID of the generated faces against the real ones with FID's
Inception weights (pytorch-fid's file; without ``--inception`` FID is null). ``--sources`` are
the videos the clips were cut from (their sound) and ``--tracks`` the clips' face tracks (their
frames' times), in the clips' order; or ``--videos TABLE --split test`` (the workflow's
``sync_videos.tsv``) names all four. Settings: the config's ``lipsync.eval``.

``--syncnet random`` scores with a randomly initialised SyncNet (seed 0) where its weights file
is not at hand (the embedded sample): the metrics say so (``syncnet.weights: random``), and such
scores are no LSE-D / LSE-C. ``--frames PNG`` draws the first held-out video's real faces above
the generated ones.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from marlinflow.commands import _flags
from marlinflow.commands.lipsync_expert import add_video_arguments, device, run_dir, video_files
from marlinflow.errors import InputError

RANDOM = "random"
FRAMES_SHOWN = 8


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from marlinflow.lipsync.evaluate import EvalSettings

    parser.add_argument("--generator", type=Path, required=True, help="the generator file")
    add_video_arguments(parser)
    parser.add_argument(
        "--sources", nargs="+", type=Path, help="the videos the clips were cut from"
    )
    parser.add_argument("--tracks", nargs="+", type=Path, help="the clips' face tracks")
    parser.add_argument(
        "--syncnet",
        required=True,
        help=f"SyncNet's weights file, or {RANDOM} for random weights (no real LSE)",
    )
    parser.add_argument("--frames", type=Path, help="PNG of real and generated faces to write")
    parser.add_argument("--inception", type=Path, help="FID's Inception weights file")
    parser.add_argument("--out", type=Path, required=True, help="metrics.json to write")
    _flags.add_arguments(parser.add_argument_group("settings (config: lipsync.eval)"), EvalSettings)


def run(args: argparse.Namespace) -> int:
    from marlinflow.atomic import write_json
    from marlinflow.lipsync.evaluate import EvalSettings, HeldOut, evaluate_generator
    from marlinflow.lipsync.generate import load_generator
    from marlinflow.tracking import track_run

    on = device(args)
    files = held_out_files(args)
    syncnet, syncnet_entry = read_syncnet(args.syncnet)
    syncnet.to(on)
    inception = None
    if args.inception:
        from marlinflow.lipsync.fid import load_inception

        inception = load_inception(args.inception)
    generator, provenance = load_generator(args.generator)
    generator.to(on)
    held_out = [HeldOut.from_files(*paths) for paths in zip(*files, strict=True)]
    cfg = EvalSettings.from_args(args)
    config = {
        **cfg.to_dict(),
        "generator": str(args.generator),
        "syncnet": syncnet_entry["weights"],
        "videos": len(held_out),
        "device": on,
    }
    with track_run("lipsync_eval", config, out_dir=run_dir(args.out, "lipsync_eval")) as run:
        metrics = evaluate_generator(generator, held_out, syncnet, cfg, inception)
        metrics["generator"] = {"file": str(args.generator), "expert": provenance.get("expert")}
        metrics["syncnet"] = syncnet_entry
        keys = ("lse_d", "lse_c", "lse_d_real", "lse_c_real", "fid", "videos")
        run.summarize(
            {**{key: metrics[key] for key in keys}, "syncnet_real": syncnet_entry["real"]}
        )
        write_json(args.out, metrics)
        if args.frames:
            draw_frames(generator, held_out[0].video, args.frames)
    fid = "n/a" if metrics["fid"] is None else f"{metrics['fid']:.3f}"
    print(
        f"{args.out}: {metrics['videos']} videos, LSE-D {metrics['lse_d']:.3f} "
        f"LSE-C {metrics['lse_c']:.3f} (real {metrics['lse_d_real']:.3f} / "
        f"{metrics['lse_c_real']:.3f}), FID {fid}"
    )
    return 0


def held_out_files(args: argparse.Namespace) -> tuple[list[Path], ...]:
    """(clips, mels, sources, tracks), from --videos or the four lists, of one length."""
    if args.videos is not None:
        named = video_files(args)
        return named["clip"], named["mel"], named["source"], named["track"]
    files = (args.clips, args.mels, args.sources, args.tracks)
    if any(not f for f in files):
        raise InputError("--clips/--mels/--sources/--tracks", "name all four, or give --videos")
    if len({len(f) for f in files}) != 1:
        counts = "/".join(str(len(f)) for f in files)
        raise InputError(
            "--clips/--mels/--sources/--tracks", f"lists of different lengths ({counts})"
        )
    return files


def read_syncnet(spec: str) -> tuple:
    """(SyncNet, what the metrics say of its weights): a weights file, or random weights."""
    import torch

    from marlinflow.lipsync.syncnet import SyncNet, load_syncnet

    if spec == RANDOM:
        torch.manual_seed(0)
        note = "randomly initialised SyncNet: these scores are not LSE-D / LSE-C"
        return SyncNet().eval(), {"weights": RANDOM, "real": False, "note": note}
    return load_syncnet(Path(spec)), {"weights": spec, "real": True}


def draw_frames(generator, video, out: Path) -> Path:
    """A PNG of a held-out video: up to FRAMES_SHOWN real faces (top) above the generated ones
    (bottom), at the generator's face size."""
    import cv2
    import numpy as np

    from marlinflow.atomic import atomic_path
    from marlinflow.features import resize_frames
    from marlinflow.lipsync.generate import generate_video

    first, generated = generate_video(generator, video)
    shown = np.linspace(0, len(generated) - 1, min(FRAMES_SHOWN, len(generated))).astype(int)
    real = resize_frames(video.faces(first, len(generated))[shown], generator.face_size)
    sheet = np.concatenate(
        [np.concatenate(list(real), axis=1), np.concatenate(list(generated[shown]), axis=1)]
    )
    ok, png = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    if not ok:
        raise InputError(out, "the frames could not be encoded as PNG")
    with atomic_path(out) as tmp:
        tmp.write_bytes(png.tobytes())
    return out
