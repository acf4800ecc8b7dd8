"""The rates the cost model (:mod:`marlinflow.experiment.cost`) multiplies by, and where each
comes from: a row of BENCHMARKS.md (its command and machine), or, where nothing was measured,
an assumption that says so (``measured=False``) and what it was taken from.

Clip rates are per device: clips a second on one GPU, or on one CPU core (the CPU rows measured
on 2 cores, divided by 2), so that hours of work are clips / rate whatever the job's size.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace

from marlinflow.config import digest
from marlinflow.models import ModelSize, get_size


@dataclass(frozen=True)
class Rate:
    value: float
    unit: str
    source: str  # the BENCHMARKS.md row (command, machine), or what an assumption rests on
    measured: bool = True


VM = "AMD EPYC, 2 cores"
XEON = "Intel Xeon with AMX, 2 cores, 2026-12-05"
LIPSYNC = f"BENCHMARKS.md, python bench/bench_lipsync.py --sizes tiny small --steps 2 ({XEON})"
H200 = "one NVIDIA H200, torch 2.11.0+cu130, 2026-12-04"
STARTUP = f"BENCHMARKS.md, python bench/bench_startup.py, 'Xeon, idle' row ({XEON})"
TRACK = f"BENCHMARKS.md, python bench/bench_track.py --loops 0 --repeat 5 ({XEON})"
STORAGE = f"BENCHMARKS.md, python bench/bench_storage.py ({VM})"
GPU = f"BENCHMARKS.md, PYTHONPATH=src python3 bench/bench_gpu.py, batch 32, model alone ({H200})"
PROBE = f"BENCHMARKS.md, python bench/bench_probe.py --videos 5000 --epochs 20 ({VM})"


def _gpu(value: float, what: str) -> Rate:
    return Rate(value, "clips/s on one GPU", f"{GPU}: {what}")


RATES: dict[str, Rate] = {
    # per-video steps: a process start each, then the work
    "start.download": Rate(0.33, "s per video", f"{STARTUP}: download"),
    "start.track": Rate(0.32, "s per video", f"{STARTUP}: track"),
    "start.parse": Rate(0.28, "s per video", f"{STARTUP}: parse"),
    "start.contact_sheet": Rate(0.17, "s per video", f"{STARTUP}: contact sheet"),
    "start.audio": Rate(0.14, "s per video", f"{STARTUP}: audio, with its step module"),
    "audio": Rate(
        0.238e-3,
        "CPU s per frame",
        f"{LIPSYNC}: audio stage, the sample videos with sound (sound decoded, resampled, mel)",
    ),
    "download.frames": Rate(
        90,
        "frames/s",
        f"BENCHMARKS.md, python bench/bench_download.py ({VM}): frame folder -> mp4, 320x240, "
        "90-112 frames/s (the low end)",
    ),
    "download.cut": Rate(
        30,
        "frames/s",
        "not measured: assumed 30 frames/s to re-encode a 720p window (the 320x240 "
        "frame-folder encode runs at 90-112 frames/s)",
        measured=False,
    ),
    "download.link": Rate(
        0.05,
        "s per video",
        "not measured: assumed 0.05 s to hard-link and probe a local file",
        measured=False,
    ),
    "track.sd": Rate(5.1e-3, "CPU s per frame", f"{TRACK}: track video01 480x360, dlib"),
    "track.hd": Rate(8.5e-3, "CPU s per frame", f"{TRACK}: track video02 1280x720, dlib"),
    "parse": Rate(
        0.8e-3,
        "CPU s per frame",
        f"{TRACK}: track+parse minus track, video01 480x360 (5.9 - 5.1 ms)",
    ),
    "contact_sheet.draw": Rate(
        1.0, "s per video", "not measured: assumed 1 s to draw a contact sheet", measured=False
    ),
    "summary": Rate(
        1.99 / 5000,
        "s per record",
        f"BENCHMARKS.md, python bench/bench_stage_summary.py --records 5000 ({VM}): 1.99 s "
        "for 5000 records, W&B offline",
    ),
    "report.html": Rate(
        120, "s per report", "not measured: assumed 2 minutes for the HTML report", measured=False
    ),
    "report.wandb": Rate(
        30, "s per report", "not measured: assumed 30 s for the W&B report", measured=False
    ),
    # storage per frame of each step's files (bench_storage.py's last row: all its videos)
    "bytes.source.sd": Rate(1901, "B per frame", f"{STORAGE}: video01 480x360, as given"),
    "bytes.source.hd": Rate(8505, "B per frame", f"{STORAGE}: video02 1280x720, as given"),
    "bytes.download.sd": Rate(5141, "B per frame", f"{STORAGE}: video01 480x360, re-encoded"),
    "bytes.download.hd": Rate(23130, "B per frame", f"{STORAGE}: video02 1280x720, re-encoded"),
    "bytes.face_clip": Rate(2285, "B per frame", f"{STORAGE}: face clip 224x224, all videos"),
    "bytes.track_json": Rate(2822, "B per frame", f"{STORAGE}: boxes and landmarks JSON"),
    "bytes.parsing": Rate(1130, "B per frame", f"{STORAGE}: part labels 224x224"),
    "bytes.mel": Rate(951, "B per frame", f"{LIPSYNC}: audio stage, compressed mel files"),
    # models: pretraining steps and encoder forwards
    "pretrain.gpu.32.small": _gpu(309, "pretrain step, small, fp32"),
    "pretrain.gpu.32.base": _gpu(143, "pretrain step, base, fp32"),
    "pretrain.gpu.32.large": _gpu(43, "pretrain step, large, fp32"),
    "pretrain.gpu.bf16.small": _gpu(587, "pretrain step, small, bf16 autocast"),
    "pretrain.gpu.bf16.base": _gpu(355, "pretrain step, base, bf16 autocast"),
    "pretrain.gpu.bf16.large": _gpu(188, "pretrain step, large, bf16 autocast"),
    "extract.gpu.32.small": _gpu(322, "feature extraction, small, fp32"),
    "extract.gpu.32.base": _gpu(114, "feature extraction, base, fp32"),
    "extract.gpu.32.large": _gpu(36, "feature extraction, large, fp32"),
    "extract.gpu.bf16.small": _gpu(1518, "feature extraction, small, bf16 autocast"),
    "extract.gpu.bf16.base": _gpu(704, "feature extraction, base, bf16 autocast"),
    "extract.gpu.bf16.large": _gpu(259, "feature extraction, large, bf16 autocast"),
    "pretrain.cpu.32.small": Rate(
        2.370 / 2,
        "clips/s per CPU core",
        "BENCHMARKS.md, python bench/bench_train.py --precision 32 bf16-mixed --compile "
        f"--official-src DIR ({XEON}): 2.370 clips/s median, small, batch 2, fp32",
    ),
    "pretrain.cpu.bf16.small": Rate(
        2.706 / 2,
        "clips/s per CPU core",
        "BENCHMARKS.md, python bench/bench_train.py --precision 32 bf16-mixed --compile "
        f"--official-src DIR ({XEON}): 2.706 clips/s median, small, batch 2, bf16-mixed",
    ),
    "extract.cpu.32.small": Rate(
        1 / 0.93,
        "clips/s per CPU core",
        "BENCHMARKS.md, python bench/bench_features.py --precision 32 bf16-mixed --compile "
        f"--official-src DIR ({XEON}): 0.93 CPU s per clip, small, fp32",
    ),
    "extract.cpu.bf16.small": Rate(
        1 / 0.30,
        "clips/s per CPU core",
        "BENCHMARKS.md, python bench/bench_features.py --precision 32 bf16-mixed --compile "
        f"--official-src DIR ({XEON}): 0.30 CPU s per clip, small, bf16-mixed",
    ),
    "finetune.cpu.32.small": Rate(
        0.62 / 2,
        "clips/s per CPU core",
        "BENCHMARKS.md, python bench/bench_finetune.py --size small --videos 10 --batch-size 4 "
        f"--test-clips 2 ({XEON}): 0.62 train clips/s, small",
    ),
    # lip sync: the networks alone, on synthetic talking faces held in memory
    "lipsync_expert.cpu.32.small": Rate(
        1.95 / 2, "clips/s per CPU core", f"{LIPSYNC}: expert training, small frozen, batch 4"
    ),
    "lipsync_generator.cpu.32.small": Rate(
        0.46 / 2,
        "clips/s per CPU core",
        f"{LIPSYNC}: generator training 96² w16 against a small expert, batch 4 (a clip: a "
        "window of 16 frames)",
    ),
    "lipsync_score.cpu.32.small": Rate(
        8.03 / 2,
        "frames/s per CPU core",
        f"{LIPSYNC}: scoring (generation, SyncNet over ±15 offsets, FID's Inception), small window",
    ),
    # the linear probe, on cached features
    "probe.load": Rate(2.6 / 5000, "s per video", f"{PROBE}: 2.6 s to load 5000 videos"),
    "probe.epoch": Rate(
        0.07 / (4000 * 768),
        "s per train row and feature, per epoch",
        f"{PROBE}: 0.07 s per epoch of 4000 train rows x D 768",
    ),
    "probe.bootstrap": Rate(
        9.9 / (1000 * 500),
        "s per resample and test row",
        f"{PROBE}: 9.9 s for 1000 resamples of 500 test rows",
    ),
}

# A training step is a forward and a backward pass, about three forwards' work.
STEP_OVER_FORWARD = 3
MEASURED_SIZE = "small"  # the size every kind of clip rate was measured at


def precision_key(precision: str) -> str:
    """The rate table's name of a Lightning precision: 32, bf16 or 16."""
    return {"bf16-mixed": "bf16", "16-mixed": "16"}.get(precision, precision)


def size_key(size: ModelSize) -> str:
    """A size's name in the rate table; a registered size with fields changed is told apart."""
    if size == get_size(size.name):
        return size.name
    return f"{size.name}-{digest(dataclasses.asdict(size))[:8]}"


def work(size: ModelSize) -> float:
    """A size's work per clip, in proportion: tokens × (depth × width²), encoder and decoder."""
    blocks = size.enc_depth * size.enc_dim**2 + size.dec_depth * size.dec_dim**2
    return size.n_tokens * blocks


def clip_rate(kind: str, size: ModelSize, device: str, precision: str) -> tuple[str, Rate]:
    """The clip rate of ``kind`` (pretrain, extract, finetune) for a size on a device ("gpu" or
    "cpu") at a precision, and its name; derived, and saying so, where none was measured."""
    key = f"{kind}.{device}.{precision_key(precision)}.{size_key(size)}"
    if key in RATES:
        return key, RATES[key]
    if device == "cpu" and precision == "16-mixed":  # what runs on a CPU (compute.precision)
        _, rate = clip_rate(kind, size, device, "bf16-mixed")
        return key, _derived(rate, "16-mixed runs as bf16-mixed on a CPU")
    measured_cpu = f"{kind}.cpu.{precision_key(precision)}.{MEASURED_SIZE}"
    if device == "cpu" and precision != "32" and measured_cpu not in RATES:
        _, rate = clip_rate(kind, size, device, "32")
        return key, _derived(rate, f"{precision} on a CPU costed as fp32")
    if precision == "16-mixed":
        _, rate = clip_rate(kind, size, device, "bf16-mixed")
        return key, _derived(rate, "16-mixed costed as bf16-mixed")
    if device == "gpu" and kind.startswith("lipsync"):  # measured on CPUs only
        _, cpu = clip_rate(kind, size, "cpu", precision)
        gpu, core = RATES["extract.gpu.32.small"].value, RATES["extract.cpu.32.small"].value
        value, unit = cpu.value * gpu / core, cpu.unit.replace("per CPU core", "on one GPU")
        return key, _derived(
            replace(cpu, value=value, unit=unit),
            f"the rate per CPU core x {gpu / core:.0f}, feature extraction's GPU rate over its "
            "rate per CPU core (small, fp32)",
        )
    if kind == "finetune" and device == "gpu":
        _, forward = clip_rate("extract", size, device, precision)
        return key, _derived(
            replace(forward, value=forward.value / STEP_OVER_FORWARD),
            f"a fine-tuning step costed as {STEP_OVER_FORWARD} forwards of feature extraction",
        )
    base_key = f"{kind}.{device}.{precision_key(precision)}.{MEASURED_SIZE}"
    measured = RATES[base_key]
    scale = work(get_size(MEASURED_SIZE)) / work(size)
    return key, _derived(
        replace(measured, value=measured.value * scale),
        f"{MEASURED_SIZE}'s rate x {scale:.3g}, the sizes' work per clip (tokens x depth x width²)",
    )


def _derived(rate: Rate, how: str) -> Rate:
    source = rate.source if rate.source.startswith("not measured") else f"from {rate.source}"
    return Rate(rate.value, rate.unit, f"not measured: {how}; {source}", measured=False)


class Book:
    """The rates, each recorded as it is used (the plan lists the rates it used)."""

    def __init__(self) -> None:
        self.used: dict[str, Rate] = {}

    def rate(self, key: str) -> float:
        self.used[key] = RATES[key]
        return RATES[key].value

    def clips(self, kind: str, size: ModelSize, device: str, precision: str) -> float:
        key, rate = clip_rate(kind, size, device, precision)
        self.used[key] = rate
        return rate.value
