"""Full fine-tuning: the encoder and a Linear head trained end to end on face clips.

Each training epoch reads one random clip per video (``clip_frames`` frames, every
``sample_rate``-th, at a random start); validation and test average the probabilities of
``test_clips`` clips spread evenly over each video. The official code tests on one random clip
(marlin.md §3.4, §7.1-9). Short videos are padded by repeating their last frame (the official
short-clip branch crashes). The encoder's features follow the grad mode, so the backbone trains
whether the module is in train or eval mode (the frozen-backbone trap of issue #36).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from marlinflow.compute.precision import autocast, effective, grad_scaler
from marlinflow.config.settings import settings_class
from marlinflow.downstream.kinds import TaskKind
from marlinflow.downstream.results import RunResult, Scored, make_result
from marlinflow.downstream.splits import low_label
from marlinflow.downstream.tasks import Task
from marlinflow.downstream.training import (
    TrainConfig,
    fit,
    torch_threads,
)
from marlinflow.downstream.usable import UsableClips
from marlinflow.errors import InputError
from marlinflow.features import read_clips
from marlinflow.models import MarlinEncoder
from marlinflow.video.io import probe, read_frames

FinetuneSettings = settings_class("downstream.finetune", "FinetuneSettings")


@dataclass(frozen=True)
class FinetuneConfig:
    """One seed's fine-tuning: the ``downstream.finetune`` settings on a resolved device."""

    train: TrainConfig
    sample_rate: int
    test_clips: int  # clips averaged per video at val and test time
    n_bootstrap: int
    fraction: float | None
    k_per_class: int | None
    device: str
    threads: int | None  # torch threads while training (None: torch's default)
    workers: int  # clip-reading processes (torch DataLoader workers)
    precision: str  # the precision it runs at on ``device`` (compute.precision.effective)

    @classmethod
    def from_settings(
        cls, settings: FinetuneSettings, seed: int, device: str, threads: int | None = None
    ) -> FinetuneConfig:
        return cls(
            TrainConfig.from_settings(settings, seed),
            settings.sample_rate,
            settings.test_clips,
            settings.bootstrap,
            settings.fraction,
            settings.k_per_class,
            device,
            threads,
            settings.workers,
            effective(settings.precision, device),
        )


class ClipClassifier(nn.Module):
    """Encoder -> pooled feature (B, D) -> Linear -> logits (B, n_outputs).

    The forward pass runs at ``precision`` (``compute.precision``: under bf16 or fp16 autocast
    for the mixed ones, weights staying fp32); the logits are returned as fp32 so the loss and
    the metrics are computed in full precision.
    """

    def __init__(self, encoder: MarlinEncoder, n_outputs: int, precision: str = "32"):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.size.enc_dim, n_outputs)
        self.precision = precision

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        with autocast(self.precision, clips.device):
            features = self.encoder.extract_features(clips, keep_seq=False)  # (B, D)
            logits = self.head(features)  # (B, n)
        return logits.float()


class FaceClips:
    """The aligned face clip of each usable video, and clips cut from it."""

    def __init__(self, usable: UsableClips, encoder: MarlinEncoder, sample_rate: int):
        self.usable = usable
        self.size = encoder.size
        self.offsets = np.arange(self.size.n_frames) * sample_rate  # (T,) frame offsets
        self.n_frames: dict[str, int] = {}

    def add(self, video_id: str) -> None:
        """Probe one video; InputError if it is unusable. Its last frame is read once, so a
        truncated file (header count above the frames decodable) is skipped here rather than
        failing a training step."""
        path = self.path(video_id)
        if not path.is_file():
            raise InputError(path, "no face clip")
        n_frames = probe(path).n_frames
        read_frames(path, [n_frames - 1])
        self.n_frames[video_id] = n_frames

    def path(self, video_id: str) -> Path:
        return self.usable.clip(video_id)

    def window(self, video_id: str, start: int) -> np.ndarray:
        return np.minimum(start + self.offsets, self.n_frames[video_id] - 1)

    def random_clip(self, video_id: str, rng: np.random.Generator) -> torch.Tensor:
        last_start = max(0, self.n_frames[video_id] - 1 - int(self.offsets[-1]))
        return self.read(video_id, [self.window(video_id, int(rng.integers(0, last_start + 1)))])[0]

    def spread_clips(self, video_id: str, n_clips: int) -> torch.Tensor:
        """(k, 3, T, S, S): up to ``n_clips`` clips with evenly spread starts."""
        last_start = max(0, self.n_frames[video_id] - 1 - int(self.offsets[-1]))
        starts = np.unique(np.linspace(0, last_start, n_clips).round().astype(int))
        return self.read(video_id, [self.window(video_id, s) for s in starts])

    def read(self, video_id: str, windows: list[np.ndarray]) -> torch.Tensor:
        path = self.path(video_id)
        return read_clips(lambda idx: read_frames(path, idx.tolist()), windows, self.size.img_size)


def _usable(clips: FaceClips, ids: list[str]) -> tuple[list[str], list[dict]]:
    kept, skipped = [], []
    for video_id in ids:
        try:
            clips.add(video_id)
            kept.append(video_id)
        except InputError as err:
            skipped.append({"id": video_id, "reason": str(err)})
    return kept, skipped


class _EpochClips(torch.utils.data.Dataset):
    """One random clip per training video; the clip of row i in epoch e depends only on
    (seed, e, i), so results do not change with the number of loader workers."""

    def __init__(self, clips: FaceClips, ids: list[str], targets: torch.Tensor, seed: int):
        self.clips, self.ids, self.targets, self.seed = clips, ids, targets, seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, row: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, row])
        return self.clips.random_clip(self.ids[row], rng), self.targets[row]


def _train_batches(clips: FaceClips, ids, targets: torch.Tensor, cfg: FinetuneConfig):
    dataset = _EpochClips(clips, ids, targets, cfg.train.seed)
    batch_size = cfg.train.batch_size if cfg.train.batch_size > 0 else len(ids)

    def epoch_batches(epoch: int):
        dataset.epoch = epoch
        order = np.random.default_rng([cfg.train.seed, epoch]).permutation(len(ids)).tolist()
        loader = torch.utils.data.DataLoader(
            dataset, batch_size, sampler=order, num_workers=cfg.workers
        )
        for batch, batch_targets in loader:
            yield batch.to(cfg.device), batch_targets.to(cfg.device)

    return epoch_batches


def predict(model: ClipClassifier, clips: FaceClips, ids, kind: TaskKind, cfg: FinetuneConfig):
    """Scores (as ``kind.to_scores`` makes them) averaged over each video's spread clips."""
    scores = []
    for video_id in ids:
        logits = model(clips.spread_clips(video_id, cfg.test_clips).to(cfg.device))
        scores.append(kind.to_scores(logits).mean(axis=0))
    return np.stack(scores) if scores else np.zeros((0,))


def run_finetune(
    task: Task,
    faces: UsableClips | str | Path,
    encoder: MarlinEncoder,
    cfg: FinetuneConfig,
    model_name: str = "marlin",
) -> RunResult:
    """Fine-tune ``encoder`` (changed in place) with a new head; select on val, test on test.
    ``faces``: the usable face clips (a list file as the workflow writes, or a folder)."""
    task = low_label(task, cfg.fraction, cfg.k_per_class, cfg.train.seed)
    usable = faces if isinstance(faces, UsableClips) else UsableClips.read(faces)
    clips = FaceClips(usable, encoder, cfg.sample_rate)
    data, skipped = {}, list(task.excluded)
    for split in ("train", "val", "test"):
        rows = task.split(split)
        ids, missing = _usable(clips, rows["id"].tolist())
        skipped += missing
        data[split] = (ids, task.targets(rows.set_index("id").loc[ids].reset_index()))
    if not data["train"][0] or not data["test"][0]:
        raise InputError(usable.source, f"task {task.name!r}: no usable train or test clips")
    with torch_threads(cfg.threads):
        return _train_and_test(task, clips, encoder, data, skipped, cfg, model_name)


def _train_and_test(task, clips, encoder, data, skipped, cfg, model_name) -> RunResult:
    torch.manual_seed(cfg.train.seed)
    model = ClipClassifier(encoder, task.n_outputs, cfg.precision).to(cfg.device)
    (train_ids, train_targets), (val_ids, val_targets) = data["train"], data["val"]
    kind = task.task_kind
    fitted = fit(
        model,
        _train_batches(clips, train_ids, kind.target_tensor(train_targets), cfg),
        lambda: predict(model, clips, val_ids, kind, cfg),
        val_targets,
        kind,
        cfg.train,
        grad_scaler(cfg.precision, cfg.device),
        what=f"finetune {task.name}",
    )
    model.eval()
    with torch.no_grad():
        val, test = (
            Scored(data[s][0], predict(model, clips, data[s][0], kind, cfg), data[s][1])
            for s in ("val", "test")
        )
    return make_result(
        task,
        "finetune",
        model_name,
        len(train_ids),
        val,
        test,
        fitted,
        skipped,
        cfg,
        cfg.n_bootstrap,
    )
