"""GPU training and inference: pretraining and feature-extraction clips/s on one CUDA device, and
checks that training on the GPU works.

One prepared run for a lent GPU machine (about 2–4 minutes on an H200 with the defaults, most of
it the fp32 rows of the large size; no new measurement starts after ``--budget`` seconds). From the repository root:

    PYTHONPATH=src python3 bench/bench_gpu.py [--sizes small base large] [--steps 20] \
        [--warmup 5] [--batch 32] [--feature-batch 64]
    PYTHONPATH=src python bench/bench_gpu.py --cpu --quick --sizes tiny   # CPU smoke run

Without CUDA (and without ``--cpu``) it prints a skip line and exits 0.

What it runs, in this order:

1. Checks. (a) A tiny model trains 30 iterations on the GPU on one fixed batch at precision
   bf16-mixed: every loss must be finite at every step, every weight finite at the end, and
   the reconstruction loss must fall (mean of the last 5 steps at most 0.9 × that of the first 5).
   (b) Per size, during step 3: the pooled encoder features of one batch under bf16 autocast
   against fp32: max |bf16 - fp32| must stay under 0.1 and every clip's cosine similarity above
   0.999 (the features are LayerNorm outputs, O(1) per channel; weights at their random init).
2. Pretraining step clips/s: ``MarlinPretrain.training_step`` (one autoencoder forward, the
   critic step, the generator step, both AdamW optimisers, the module's per-step logging) driven
   by ``pytorch_lightning.Trainer`` over in-memory batches already on the GPU (``torch.rand``
   clips, Fasking masks at ratio 0.9 of a synthetic face map: 156 of 1568 tokens visible at
   16×224²), so it measures the model, not the loader. fp32 is precision "32" (torch defaults:
   fp32 matmuls without TF32); bf16 is "bf16-mixed" (``pretrain.precision``). Each
   step is timed between the batch-start and batch-end hooks, each hook synchronising the
   device, after warm-up steps. On out-of-memory the batch is halved and the run repeated.
3. Feature extraction clips/s: ``MarlinEncoder.extract_features`` (all 1568 tokens, pooled)
   under ``torch.inference_mode``, fp32 and bf16 autocast, batch 64 (halved on out-of-memory).

Peak memory is ``torch.cuda.max_memory_allocated`` over the run of one configuration; for the
pretraining step it includes the two distinct input batches held on the GPU (given apart).

Achieved TFLOP/s are an estimate from matmul FLOPs only (layer norms, softmax, GELU, the
optimiser ignored). A transformer block of width d on n tokens, MLP ratio 4, costs
``24·n·d² + 4·n²·d`` FLOPs forward (qkv, projection and MLP matmuls; q·kᵀ and attention·v).
With N tokens, n_v visible, n_m = N - n_v masked, P = patch_dim, critic width h = 4·d_dec:

    F_ae   = 2·N·P·d_enc                          (patch embedding, on all N tokens)
           + L_enc · block(n_v, d_enc)            (encoder on the visible tokens)
           + 2·n_v·d_enc·d_dec                    (encoder-to-decoder projection)
           + L_dec · block(N, d_dec)              (decoder on all tokens)
           + 2·n_m·d_dec·P                        (pixel head on the masked tokens)
    C      = 2·n_m·(P·h + h)                      (critic on the masked patches)
    train  = 3·F_ae + 6·C   per clip              (forward + backward ≈ 3 forwards; the critic
                                                   step scores fake and real and takes weight
                                                   gradients, 4·C; the generator step scores
                                                   the prediction and back-propagates, 2·C)
    extract = 2·N·P·d_enc + L_enc · block(N, d_enc)   per clip

Prints progress lines and one markdown table row per measurement (what | machine | numbers), then
all rows again together. Exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.abc
import importlib.machinery
import logging
import math
import statistics
import sys
import tempfile
import time
import types
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from machine import describe
from torch.utils.data import DataLoader

from marlinflow.masking import fasking, visible_count
from marlinflow.models import MarlinEncoder, ModelSize, get_size

CHECK_STEPS = 30
LOSS_DROP = 0.9  # the last 5 steps' mean reconstruction loss at most this × the first 5's
FEATURE_ATOL = 0.1  # max |bf16 - fp32| of pooled features
FEATURE_MIN_COS = 0.999
MASK_RATIO = 0.9


def say(*parts: object) -> None:
    print(*parts, flush=True)


class Absent(types.ModuleType):
    """Stands in for an optional package that is not installed and that this script never
    calls; any use of it raises."""

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return Absent(f"{self.__name__}.{attr}")

    def __call__(self, *args, **kwargs):
        raise ModuleNotFoundError(f"{self.__name__} is not installed on this machine")


class StandIns(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Last on ``sys.meta_path``: gives a marlinflow module that imports a package which is not
    installed an ``Absent`` one instead, and records its name."""

    def __init__(self):
        self.names: list[str] = []

    def find_spec(self, fullname, path, target=None):
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
            frame = frame.f_back
        importer = frame.f_globals.get("__name__", "") if frame is not None else ""
        if not importer.startswith("marlinflow") or fullname.startswith("marlinflow"):
            return None
        self.names.append(fullname)
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        return Absent(spec.name)

    def exec_module(self, module):
        pass


@contextlib.contextmanager
def standing_in() -> Iterator[list[str]]:
    """Import with stand-ins for the packages that marlinflow modules import but this machine
    lacks, then remove them from ``sys.modules`` so that nothing else finds them. The modules
    holding ``MarlinPretrain`` and ``face_label_map`` import PIL (reconstruction images, only
    at validation) and the video stack (av, cv2: writing synthetic videos) at module level; the
    GPU machine may have none of them, and this script never calls them."""
    finder = StandIns()
    sys.meta_path.append(finder)
    try:
        yield finder.names
    finally:
        sys.meta_path.remove(finder)
        for name in finder.names:
            sys.modules.pop(name, None)


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.synthetic
with standing_in() as STOOD_IN:
    from marlinflow.compute.precision import autocast
    from marlinflow.pretrain.config import PretrainConfig
    from marlinflow.pretrain.module import MarlinPretrain
    from tests.synthetic import face_label_map


def pretrain_module(size: str, **settings) -> MarlinPretrain:
    """The pretraining module of ``size`` with these settings (the others the defaults)."""
    return MarlinPretrain(PretrainConfig(model=size, **settings), reconstructions=False)


def precision_name(precision: str) -> str:
    return "bf16 autocast" if precision == "bf16-mixed" else "fp32"


class StepTimer(pl.Callback):
    """Seconds of each training step (device synchronised at both ends) and the module's
    losses after it."""

    def __init__(self):
        self.seconds: list[float] = []
        self.losses: list[dict[str, float]] = []
        self.devices: set[str] = set()  # where the weights were during the steps

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        sync(pl_module.device)
        self.started = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        sync(pl_module.device)
        self.seconds.append(time.perf_counter() - self.started)
        self.losses.append({k: v for k, v in pl_module.step_metrics.items() if "loss" in k})
        self.devices |= {p.device.type for p in pl_module.parameters()}


def sync(device: torch.device | str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def peak_gib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


# -- inputs and FLOPs --------------------------------------------------------------------------


def clip_name(size: ModelSize) -> str:
    return f"{size.name} {size.n_frames}×{size.img_size}²"


def face_masks(size: ModelSize, batch: int, seed: int) -> torch.Tensor:
    """(batch, N) Fasking masks of a face map that drifts over the clip."""
    rng = np.random.default_rng(seed)
    labels = np.stack([face_label_map(size.img_size, 0.01 * k) for k in range(size.grid[0])])
    present = np.ones(size.grid[0], dtype=bool)
    masks = [fasking(labels, present, size.grid, MASK_RATIO, rng) for _ in range(batch)]
    return torch.from_numpy(np.stack(masks))


def make_batches(
    size: ModelSize, batch: int, n_batches: int, device: torch.device, distinct: int = 2
) -> list[dict[str, torch.Tensor]]:
    """``n_batches`` training batches on ``device``, cycling through ``distinct`` different ones."""
    made = []
    for k in range(min(distinct, n_batches)):
        visible = face_masks(size, batch, seed=k).to(device)
        video = torch.rand(batch, *size.clip_shape, device=device)
        made.append({"video": video, "visible": visible})
    return [made[k % len(made)] for k in range(n_batches)]


def block_flops(n: int, d: int, mlp_ratio: float) -> float:
    return 2 * n * d * d * (4 + 2 * mlp_ratio) + 4 * n * n * d


def train_flops(size: ModelSize) -> float:
    """Estimated FLOPs of one pretraining step per clip (see the module docstring)."""
    n, p = size.n_tokens, size.patch_dim
    n_v = visible_count(n, MASK_RATIO)
    n_m = n - n_v
    f_ae = (
        2 * n * p * size.enc_dim
        + size.enc_depth * block_flops(n_v, size.enc_dim, size.mlp_ratio)
        + 2 * n_v * size.enc_dim * size.dec_dim
        + size.dec_depth * block_flops(n, size.dec_dim, size.mlp_ratio)
        + 2 * n_m * size.dec_dim * p
    )
    hidden = 4 * size.dec_dim
    critic = 2 * n_m * (p * hidden + hidden)
    return 3 * f_ae + 6 * critic


def extract_flops(size: ModelSize) -> float:
    n = size.n_tokens
    return 2 * n * size.patch_dim * size.enc_dim + size.enc_depth * block_flops(
        n, size.enc_dim, size.mlp_ratio
    )


# -- training ----------------------------------------------------------------------------------


def fit(
    module: pl.LightningModule, batches: list, device: torch.device, precision: str
) -> StepTimer:
    """Train ``module`` on ``batches`` at ``precision`` (as ``pretrain.precision`` names it)."""
    timer = StepTimer()
    with tempfile.TemporaryDirectory() as root:
        trainer = pl.Trainer(
            accelerator="gpu" if device.type == "cuda" else "cpu",
            devices=1,
            precision=precision,
            max_epochs=1,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            limit_val_batches=0,
            callbacks=[timer],
            default_root_dir=root,
        )
        trainer.fit(module, DataLoader(batches, batch_size=None))
    return timer


def check_training(device: torch.device, steps: int = CHECK_STEPS, batch: int = 8) -> bool:
    """Tiny model, one fixed batch, bf16-mixed: finite losses and weights, falling loss."""
    size = get_size("tiny")
    say(f"# check: tiny model, {steps} training steps on one fixed batch of {batch}, {device}")
    pl.seed_everything(0, verbose=False)
    fixed = make_batches(size, batch, 1, device)[0]
    # lr 1e-3 from the first step (the default 40-epoch warmup would hardly move in 30 steps)
    module = pretrain_module(
        "tiny", base_lr=1e-3 * 256 / batch, min_lr=1e-4 * 256 / batch, warmup_epochs=0
    )
    timer = fit(module, [fixed] * steps, device, "bf16-mixed")
    losses = timer.losses
    on = timer.devices
    finite_losses = len(losses) == steps and all(
        math.isfinite(v) for step in losses for v in step.values()
    )
    finite_weights = all(bool(torch.isfinite(p).all()) for p in module.parameters())
    rec = [step["train/loss_rec"] for step in losses]
    first, last = statistics.mean(rec[:5]), statistics.mean(rec[-5:])
    falls = last <= LOSS_DROP * first
    ok = finite_losses and finite_weights and falls and on == {device.type}
    say(
        f"# check: loss_rec {rec[0]:.4f} -> {rec[-1]:.4f} (first 5 mean {first:.4f}, last 5 "
        f"mean {last:.4f}, ratio {last / first:.3f}, need <= {LOSS_DROP}); losses finite: "
        f"{finite_losses}; weights finite: {finite_weights}; weights on {sorted(on)}"
    )
    say(f"{'PASS' if ok else 'FAIL'}: training check on {device} (tiny, {steps} steps, bf16)")
    del module, timer, fixed
    free_memory()
    return ok


@dataclass
class Measured:
    batch: int
    seconds: list[float]
    peak: float | None
    inputs: float | None = None


def halving_on_oom(batch: int, attempt):
    """``attempt(batch)``, with the batch halved after each out-of-memory until it fits."""
    while True:
        try:
            return attempt(batch)
        except torch.cuda.OutOfMemoryError:
            if batch == 1:
                raise
            say(f"#   out of memory at batch {batch}; trying {batch // 2}")
            batch //= 2
        finally:
            free_memory()  # the attempt's model and inputs are gone with its frame


def measure_pretrain(
    size: ModelSize, precision: str, batch: int, warmup: int, steps: int, device: torch.device
) -> Measured:
    """Time the training step, halving the batch on out-of-memory."""

    def attempt(batch: int) -> Measured:
        pl.seed_everything(0, verbose=False)
        batches = make_batches(size, batch, warmup + steps, device)
        inputs = torch.cuda.memory_allocated(device) / 2**30 if device.type == "cuda" else None
        reset_peak(device)
        module = pretrain_module(size.name)
        timer = fit(module, batches, device, precision)
        return Measured(batch, timer.seconds[warmup:], peak_gib(device), inputs)

    return halving_on_oom(batch, attempt)


def measure_extract(
    size: ModelSize, precision: str, batch: int, warmup: int, steps: int, device: torch.device
) -> tuple[Measured, torch.Tensor]:
    """Time pooled feature extraction of one fixed batch; also return its features (float32)."""

    def attempt(batch: int) -> tuple[Measured, torch.Tensor]:
        torch.manual_seed(0)
        encoder = MarlinEncoder(size).to(device).eval()
        generator = torch.Generator(device=device).manual_seed(1)
        video = torch.rand(batch, *size.clip_shape, device=device, generator=generator)
        reset_peak(device)
        seconds = []
        with torch.inference_mode(), autocast(precision, device):
            for _ in range(warmup + steps):
                sync(device)
                started = time.perf_counter()
                features = encoder.extract_features(video, keep_seq=False)
                sync(device)
                seconds.append(time.perf_counter() - started)
        return Measured(batch, seconds[warmup:], peak_gib(device)), features.float().cpu()

    return halving_on_oom(batch, attempt)


def numbers(m: Measured, flops_per_clip: float) -> str:
    median, mean = statistics.median(m.seconds), statistics.mean(m.seconds)
    text = (
        f"{m.batch / median:,.1f} clips/s at the median step ({median * 1e3:.1f} ms), "
        f"{m.batch / mean:,.1f} over {len(m.seconds)} timed steps; "
        f"≈ {flops_per_clip * m.batch / median / 1e12:.3g} TFLOP/s"
    )
    if m.peak is not None:
        text += f"; peak {m.peak:.1f} GiB"
        if m.inputs is not None:
            text += f" (of which inputs {m.inputs:.1f} GiB)"
    return text


# -- the run -----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["small", "base", "large"])
    parser.add_argument("--steps", type=int, default=20, help="timed pretraining steps")
    parser.add_argument("--warmup", type=int, default=5, help="untimed pretraining steps")
    parser.add_argument("--batch", type=int, default=32, help="pretraining batch")
    parser.add_argument("--feature-batch", type=int, default=64)
    parser.add_argument("--feature-steps", type=int, default=10)
    parser.add_argument("--feature-warmup", type=int, default=3)
    parser.add_argument(
        "--budget", type=float, default=300.0, help="seconds after which no new measurement starts"
    )
    parser.add_argument(
        "--quick", action="store_true", help="first size only, batch 2, 3 steps after 1 warm-up"
    )
    parser.add_argument("--cpu", action="store_true", help="run on the CPU (a smoke test)")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.quick:
        args.sizes = args.sizes[:1]
        args.steps = args.feature_steps = 3
        args.warmup = args.feature_warmup = 1
        args.batch = args.feature_batch = 2
    if args.cpu:
        device = torch.device("cpu")
    elif torch.cuda.is_available():
        device = torch.device("cuda", torch.cuda.current_device())
    else:
        say("SKIP: bench_gpu.py needs a CUDA device (none found); use --cpu for a smoke run")
        return 0
    sizes = [get_size(name) for name in args.sizes]
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module=r"(pytorch_)?lightning.*")
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")

    machine = describe(str(device))
    say(f"# machine: {machine}; python {sys.version.split()[0]}; lightning {pl.__version__}")
    if STOOD_IN:
        say(f"# not installed, stood in for at import (never used here): {', '.join(STOOD_IN)}")
    for size in sizes:
        say(
            f"# {clip_name(size)}: ≈ {train_flops(size) / 1e9:,.1f} GFLOP per clip and training "
            f"step, {extract_flops(size) / 1e9:,.1f} per extracted clip"
        )
    rows: list[str] = []
    failures: list[str] = []

    def over_budget(what: str) -> bool:
        spent = time.perf_counter() - started
        if spent > args.budget:
            say(f"# SKIPPED {what}: {spent:.0f} s spent, over the {args.budget:.0f} s budget")
        return spent > args.budget

    def emit(row: str) -> None:
        rows.append(row)
        say(row)

    if not check_training(device):
        failures.append("training check")
    say(f"# [{time.perf_counter() - started:.0f} s]")

    for size in sizes:
        for precision in ("32", "bf16-mixed"):
            what = f"pretrain step, marlinflow, {clip_name(size)}, {precision_name(precision)}"
            if over_budget(what):
                continue
            say(f"# {what}: batch {args.batch}, {args.warmup} warm-up + {args.steps} steps")
            m = measure_pretrain(size, precision, args.batch, args.warmup, args.steps, device)
            emit(f"| {what}, batch {m.batch} | {machine} | {numbers(m, train_flops(size))} |")
            say(f"# [{time.perf_counter() - started:.0f} s]")

    for size in sizes:
        features: dict[str, torch.Tensor] = {}
        for precision in ("32", "bf16-mixed"):
            what = f"feature extraction, pooled, {clip_name(size)}, {precision_name(precision)}"
            if over_budget(what):
                continue
            say(
                f"# {what}: batch {args.feature_batch}, {args.feature_warmup} warm-up + "
                f"{args.feature_steps} steps"
            )
            m, features[precision] = measure_extract(
                size, precision, args.feature_batch, args.feature_warmup, args.feature_steps, device
            )
            emit(f"| {what}, batch {m.batch} | {machine} | {numbers(m, extract_flops(size))} |")
            say(f"# [{time.perf_counter() - started:.0f} s]")
        if len(features) == 2 and features["32"].shape == features["bf16-mixed"].shape:
            full, half = features["32"], features["bf16-mixed"]
            diff = float((half - full).abs().max())
            cos = float(torch.nn.functional.cosine_similarity(half, full, dim=1).min())
            ok = diff < FEATURE_ATOL and cos > FEATURE_MIN_COS
            say(
                f"{'PASS' if ok else 'FAIL'}: {size.name} pooled features, bf16 vs fp32 on one "
                f"batch of {len(full)}: max abs diff {diff:.4f} (tolerance {FEATURE_ATOL}; "
                f"max |fp32| {float(full.abs().max()):.2f}), min cosine {cos:.5f} "
                f"(need > {FEATURE_MIN_COS})"
            )
            if not ok:
                failures.append(f"{size.name} bf16 features")
        elif len(features) == 2:
            say(f"# {size.name}: bf16 and fp32 batches differ after out-of-memory; not compared")

    say(f"\n# rows ({time.perf_counter() - started:.0f} s in all):")
    say("| what | machine | numbers |")
    say("|---|---|---|")
    for row in rows:
        say(row)
    say(f"{'FAIL: ' + ', '.join(failures) if failures else 'PASS'}: all checks")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
