"""Pretraining data: random clips of face videos with their Fasking masks.

The index is built from the parse step's stage records (``parsing/<id>.status.json``): each ok
record's ``outputs`` names the face clip (``video``, aligned square frames, one per source frame)
and its parsing file (``labels``). Records that are not ok are skipped.

Every clip is a pure function of a key (stream, epoch, slot, video): the sampler hands out keys,
the dataset derives its RNG from (seed, stream, epoch, slot). So a resumed run, a run with more
workers and a DDP run all see exactly the same clips and masks. The validation stream uses the
same keys every epoch, hence a fixed validation set. With ``repeated_sampling`` k > 1 a training
key is a window of k clips, each with its own mask (validation keeps one clip per key).

Per clip the loader decodes only the clip's window (:func:`marlinflow.video.io.read_clip`), reads
which labels each patch touches where the parse step stored it (older files: the maps of the
tubelets' first frames) and hands the clip on as uint8; the module scales it on its device.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Sampler

from marlinflow.downstream.splits import split_of, stable_fraction
from marlinflow.errors import InputError
from marlinflow.face.store import ParsingReader
from marlinflow.masking import LABEL_STRATEGIES, make_mask, unpack_presence
from marlinflow.models import ModelSize, resolve_size
from marlinflow.pretrain.config import PretrainConfig
from marlinflow.stages import StageRecord, record_paths
from marlinflow.video.io import read_clip

log = logging.getLogger(__name__)
TRAIN, VAL = 0, 1  # RNG streams
Key = tuple[int, int, int, int]  # (stream, epoch, slot, video index)


@dataclass(frozen=True)
class ClipSource:
    video_id: str
    video: Path
    labels: Path
    # The parse-stage record it was read from (``data/interim/<dataset>/parsing/<id>.status.json``);
    # None for a source made by hand.
    record: Path | None = None

    @property
    def dataset(self) -> str:
        """The dataset's folder name, two levels above its record ("" without a record)."""
        return self.record.parent.parent.name if self.record is not None else ""


@dataclass(frozen=True)
class MaskSpec:
    """How each clip's visible tokens are drawn (the pretrain settings' mask_*)."""

    strategy: str
    ratio: float
    balanced: bool


def read_index(entries: Sequence[str | Path]) -> list[ClipSource]:
    """Usable clips from parse-stage records: each entry a record, a folder of them, or a .txt
    list of record paths. Not-ok records are skipped; ok ones must name ``video`` and ``labels``."""
    sources = []
    for path in record_paths(entries):
        record = StageRecord.load(path)
        if not record.ok:
            continue
        missing = {"video", "labels"} - set(record.outputs)
        if missing:
            raise InputError(path, f"stage record lacks outputs {sorted(missing)}")
        outputs = record.outputs
        sources.append(ClipSource(record.id, Path(outputs["video"]), Path(outputs["labels"]), path))
    return sorted(sources, key=lambda source: source.video_id)


def split_sources(
    sources: list[ClipSource],
    val_fraction: float,
    seed: int,
    groups: Mapping[str, str] | None = None,
) -> tuple[list[ClipSource], list[ClipSource]]:
    """A fixed validation subset of whole groups: (train, val).

    A video's group is ``groups["<data set>/<id>"]`` (a YouTube Faces identity, a source video),
    else the video alone. A group is held out when the seeded hash of its name falls in the
    first ``val_fraction`` (:func:`marlinflow.downstream.splits.split_of`, the rule of the data
    sets' own splits), so a group's side depends on nothing else in the corpus: adding videos
    moves none. If no group's hash falls there, the group with the smallest is held out; if all
    do, the one with the largest trains. With a single group there is nothing to hold out; it
    serves both sets.
    """
    if val_fraction <= 0:
        return sources, []
    groups = groups or {}
    names = [f"{s.dataset}/{groups.get(f'{s.dataset}/{s.video_id}', s.video_id)}" for s in sources]
    unique = sorted(set(names))
    if len(unique) < 2:
        return sources, sources
    held = {name for name in unique if split_of(name, val_fraction, 0.0, seed) == "val"}
    rank = partial(stable_fraction, seed=seed)
    if not held:
        held = {min(unique, key=rank)}
    elif len(held) == len(unique):
        held.discard(max(unique, key=rank))
    train = [s for s, name in zip(sources, names, strict=True) if name not in held]
    return train, [s for s, name in zip(sources, names, strict=True) if name in held]


def clip_indices(
    n_available: int, n_frames: int, stride: int, rng: np.random.Generator, repeats: int = 1
) -> list[int] | list[list[int]]:
    """``n_frames`` indices at ``stride`` from a uniform start; short videos repeat the last frame.

    With ``repeats`` > 1, that many clips of one window (a list of lists): clip i starts
    ``i % stride`` frames after the window's uniform start. One draw of ``rng`` either way.
    """
    span = (n_frames - 1) * stride + min(repeats, stride)
    start = int(rng.integers(0, n_available - span + 1)) if n_available >= span else 0
    clips = [
        [min(start + i % stride + j * stride, n_available - 1) for j in range(n_frames)]
        for i in range(repeats)
    ]
    return clips if repeats > 1 else clips[0]


class PretrainClips(Dataset):
    """Clip (3, T, S, S) uint8 and visible mask (N,) bool for a key from the sampler.

    Clips stay uint8 through the loader (a quarter of float32's bytes to copy, collate and move
    to the device); :class:`marlinflow.pretrain.module.MarlinPretrain` scales them to [0, 1].

    With ``repeats`` > 1 an item is that many clips of one decoded window, (repeats, 3, T, S, S)
    and (repeats, N), each with its own mask (:func:`collate_repeats` makes batches of clips).
    """

    def __init__(
        self,
        sources: list[ClipSource],
        size: ModelSize,
        mask: MaskSpec,
        stride: int,
        seed: int,
        repeats: int = 1,
    ):
        if not sources:
            raise ValueError("no usable videos to pretrain on")
        self.sources, self.size, self.mask = sources, size, mask
        self.stride, self.seed, self.repeats = stride, seed, repeats

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, key: Key) -> dict[str, torch.Tensor]:
        stream, epoch, slot, video = key
        for attempt in range(len(self.sources)):
            source = self.sources[(video + attempt) % len(self.sources)]
            rng = np.random.default_rng([self.seed, stream, epoch, slot])
            try:
                return self.load(source, rng)
            except InputError as err:  # one broken clip must not end a long run
                log.warning("skipping a broken clip: %s", err)
        raise InputError(self.sources[video].video, "no readable clip left in the index")

    def load(self, source: ClipSource, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        """Read one random window of ``source`` and make its clips' masks; InputError names the
        bad file. Decodes only the window's frames; Fasking reads the per-patch label presence
        the parse step stores at the model's grid, or the label maps of older parsing files."""
        t, tubelet, repeats = self.size.n_frames, self.size.tubelet, self.repeats
        with ParsingReader(source.labels) as parsing:
            present = parsing.present
            if len(present) == 0:
                raise InputError(source.labels, "parsing file has no frames")
            clips = clip_indices(len(present), t, self.stride, rng, repeats)
            clips = clips if repeats > 1 else [clips]
            firsts = [indices[::tubelet] for indices in clips]  # each tubelet's first frame
            maps = self._maps(parsing, sorted(set().union(*firsts)))
        window = sorted(set().union(*clips))
        frames = read_clip(source.video, window)  # (frames of the window, H, W, 3) uint8
        row = {index: i for i, index in enumerate(window)}
        videos = self.to_clips(frames[[[row[i] for i in indices] for indices in clips]])
        masks = [self._mask(maps, starts, present, rng) for starts in firsts]
        if repeats == 1:
            return {"video": videos[0], "visible": torch.from_numpy(masks[0])}
        return {"video": videos, "visible": torch.from_numpy(np.stack(masks))}

    def _maps(self, parsing: ParsingReader, frames: list[int]) -> dict[str, dict[int, Any]]:
        """What the mask strategy reads of ``frames``: per-patch label presence, else the maps."""
        if self.mask.strategy not in LABEL_STRATEGIES:
            return {}
        patches = parsing.patches(frames, self.size.grid[1:])
        if patches is not None:
            return {"presence": dict(zip(frames, unpack_presence(patches), strict=True))}
        return {"labels": dict(zip(frames, parsing.labels(frames), strict=True))}

    def _mask(self, maps, firsts: list[int], present: np.ndarray, rng) -> np.ndarray:
        """One clip's visible mask from the maps of its tubelets' first frames."""
        stacked = {name: np.stack([rows[f] for f in firsts]) for name, rows in maps.items()}
        return make_mask(
            self.mask.strategy,
            self.size.grid,
            self.mask.ratio,
            rng,
            stacked.get("labels"),
            present[firsts],
            self.mask.balanced,
            presence=stacked.get("presence"),
        )

    def to_clips(self, frames: np.ndarray) -> torch.Tensor:
        """(k, T, H, W, 3) -> (k, 3, T, S, S) uint8, resized to the model's img_size (bilinear,
        antialiased, rounded back to uint8). The module scales them to [0, 1] on its device."""
        side = self.size.img_size
        clips = torch.from_numpy(np.ascontiguousarray(frames.transpose(0, 4, 1, 2, 3)))
        if frames.shape[2:4] == (side, side):
            return clips
        resized = []
        for clip in clips.transpose(1, 2):  # (T, 3, H, W) each
            clip = F.interpolate(clip.float(), size=(side, side), mode="bilinear", antialias=True)
            resized.append(clip.round_().clamp_(0, 255).to(torch.uint8).transpose(0, 1))
        return torch.stack(resized)


def collate_repeats(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """A batch of clips from items of several clips each (``repeats`` > 1): the clips of one
    window are neighbours in the batch."""
    return {name: torch.cat([item[name] for item in items]) for name in items[0]}


class KeySampler(Sampler[Key]):
    """Keys of one epoch for one rank.

    Training: ``n_clips`` slots per epoch over shuffled passes through the videos (a video can
    appear several times when n_clips exceeds the video count); rank r takes slots r, r + world,
    ... so the first global batch of B is the same clips whatever the number of processes.
    Validation (``fixed``): the same keys every epoch.
    """

    def __init__(
        self,
        n_videos: int,
        n_clips: int,
        seed: int,
        fixed: bool = False,
        rank: int = 0,
        world: int = 1,
    ):
        self.n_videos, self.seed, self.fixed = n_videos, seed, fixed
        self.n_clips = n_clips - n_clips % world  # equal lengths on every rank
        self.rank, self.world, self.epoch = rank, world, 0
        self.skip = 0  # this rank's keys of ``epoch`` already trained on (a resumed run)

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.skip = 0  # only the epoch a run resumed in is partly done
        self.epoch = epoch

    def resume_at(self, epoch: int, skip: int) -> None:
        """Start in ``epoch`` after its first ``skip`` keys on this rank. Set when the loader is
        made, since worker processes draw their keys as soon as the loader is iterated."""
        self.epoch, self.skip = epoch, skip

    def videos(self, epoch: int) -> np.ndarray:
        if self.fixed:
            return np.arange(self.n_clips) % self.n_videos
        rng = np.random.default_rng([self.seed, TRAIN, epoch])
        passes = -(-self.n_clips // self.n_videos)
        return np.concatenate([rng.permutation(self.n_videos) for _ in range(passes)])

    def __iter__(self) -> Iterator[Key]:
        stream, epoch = (VAL, 0) if self.fixed else (TRAIN, self.epoch)
        videos = self.videos(epoch)
        skip = 0 if self.fixed else self.skip
        for slot in range(self.rank, self.n_clips, self.world)[skip:]:
            yield (stream, epoch, slot, int(videos[slot]))

    def __len__(self) -> int:
        """The whole epoch's keys, also when resuming in it: Lightning counts the skipped
        batches as done and stops after the rest."""
        return self.n_clips // self.world


class PretrainData(pl.LightningDataModule):
    """Train and fixed validation loaders over the parse records in ``index``."""

    def __init__(self, config: PretrainConfig):
        super().__init__()
        self.config, self.index = config, list(config.index)
        self.size = resolve_size(config.model)
        self.mask = MaskSpec(config.mask_strategy, config.mask_ratio, config.mask_balanced)
        self.batch_size, self.stride, self.seed = (
            config.batch_size,
            config.frame_stride,
            config.seed,
        )
        self.workers, self.clips_per_epoch = config.workers, config.clips_per_epoch
        self.repeats = config.repeated_sampling  # training clips per decoded window
        self.val_fraction, self.val_clips = config.val_fraction, config.val_clips
        self.train_set: PretrainClips | None = None
        self.val_set: PretrainClips | None = None
        self._split: tuple[list[ClipSource], list[ClipSource]] | None = None

    def split(self) -> tuple[list[ClipSource], list[ClipSource]]:
        """(train, validation) videos: a pure function of the index and the settings, read once,
        so a run can list its corpus before training starts."""
        if self._split is None:
            self._split = split_sources(
                read_index(self.index), self.val_fraction, self.seed, self.config.groups
            )
        return self._split

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        train, val = self.split()
        self.train_set = PretrainClips(
            train, self.size, self.mask, self.stride, self.seed, self.repeats
        )
        self.val_set = (
            PretrainClips(val, self.size, self.mask, self.stride, self.seed) if val else None
        )

    def _world(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def _loader(self, dataset: PretrainClips, n_clips: int, fixed: bool) -> DataLoader:
        """Batches of ``batch_size`` clips: of ``batch_size / repeats`` windows of the dataset's
        ``repeats`` clips each (keys are windows)."""
        repeats = dataset.repeats
        sampler = KeySampler(len(dataset), n_clips // repeats, self.seed, fixed, *self._world())
        return DataLoader(
            dataset,
            batch_size=self.batch_size // repeats,
            sampler=sampler,
            drop_last=not fixed,
            num_workers=self.workers,
            persistent_workers=False,
            collate_fn=collate_repeats if repeats > 1 else None,
            pin_memory=self._on_cuda(),  # page-locked batches copy to the GPU asynchronously
        )

    def _on_cuda(self) -> bool:
        trainer = self.trainer
        return trainer is not None and trainer.strategy.root_device.type == "cuda"

    def batches_done(self) -> int:
        """Training batches already done by the run being fitted (a resumed run's position)."""
        if self.trainer is None:
            return 0
        module = self.trainer.lightning_module
        return getattr(module, "iterations_done", self.trainer.global_step)

    def train_dataloader(self) -> DataLoader:
        n_clips = self.clips_per_epoch or len(self.train_set)
        if self.batch_size % self.repeats or (self.clips_per_epoch or 0) % self.repeats:
            raise InputError(
                "repeated_sampling",
                f"{self.repeats} clips per decoded window need a batch_size and clips_per_epoch "
                f"that are multiples of it (batch_size {self.batch_size}, clips_per_epoch "
                f"{self.clips_per_epoch})",
            )
        loader = self._loader(self.train_set, n_clips, fixed=False)
        if len(loader) == 0:  # an epoch without a full batch would train nothing, silently
            raise InputError(
                self.index[0] if len(self.index) == 1 else "the pretraining index",
                f"{n_clips} training clips per epoch make no full batch of "
                f"{self.batch_size} per process; lower batch_size or set "
                "clips_per_epoch",
            )
        epoch, batch = divmod(self.batches_done(), len(loader))
        loader.sampler.resume_at(epoch, batch * loader.batch_size)
        return loader

    def val_dataloader(self) -> DataLoader | list:
        if self.val_set is None:
            return []
        return self._loader(self.val_set, self.val_clips or len(self.val_set), fixed=True)
