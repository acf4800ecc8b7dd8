"""Pretraining data: the index from parse records, clip sampling, masks, keys and broken clips."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from marlinflow.errors import InputError
from marlinflow.face.store import load_parsing
from marlinflow.masking import label_presence, make_mask, visible_count
from marlinflow.models import get_size
from marlinflow.pretrain.config import PretrainConfig
from marlinflow.pretrain.data import (
    ClipSource,
    KeySampler,
    MaskSpec,
    PretrainClips,
    PretrainData,
    clip_indices,
    read_index,
    split_sources,
)
from marlinflow.stages import StageRecord
from marlinflow.video.io import read_frames
from tests.synthetic import write_clip

TINY = get_size("tiny")  # 8 frames of 64², 4×8×8 tokens


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    root = tmp_path_factory.mktemp("parsed")
    paths = [
        write_clip(root, "long", n_frames=40),
        write_clip(root, "short", n_frames=6),
        write_clip(root, "wide", n_frames=20, side=96, no_face=range(20)),
    ]
    bad = root / "parsing" / "gone.status.json"
    StageRecord("gone", "parse", False, "no face found").save(bad)
    return root, paths


def test_index_from_records_skips_unusable(records):
    root, paths = records
    sources = read_index([root / "parsing"])
    assert [s.video_id for s in sources] == ["long", "short", "wide"]
    assert sources[0].video.name == "long.mp4" and sources[0].labels.name == "long.npz"
    listing = root / "list.txt"
    listing.write_text("\n".join(map(str, paths[:2])) + "\n")
    assert [s.video_id for s in read_index([listing])] == ["long", "short"]


def test_index_record_without_outputs_names_the_file(tmp_path):
    path = tmp_path / "x.status.json"
    StageRecord("x", "parse", True, outputs={"labels": "x.npz"}).save(path)
    with pytest.raises(InputError, match=r"x\.status\.json.*lacks outputs \['video'\]"):
        read_index([path])


def corpus(people: range, videos: int, dataset: str = "ytf") -> tuple[list, dict]:
    """Sources laid out as the workflow's parse records (``<ds>/parsing/<id>.status.json``) and
    their groups: ``videos`` videos of each person."""
    sources, groups = [], {}
    for person in people:
        for video in range(videos):
            video_id = f"person{person}__{video}"
            record = Path("data/interim") / dataset / "parsing" / f"{video_id}.status.json"
            sources.append(ClipSource(video_id, Path(f"{video_id}.mp4"), Path("x.npz"), record))
            groups[f"{dataset}/{video_id}"] = f"person{person}"
    return sources, groups


def sides(train: list, val: list) -> dict[str, str]:
    return {s.video_id: "train" for s in train} | {s.video_id: "val" for s in val}


def test_validation_split_holds_out_whole_groups():
    sources, groups = corpus(range(200), videos=3)
    train, val = split_sources(sources, 0.1, seed=3, groups=groups)
    assert (train, val) == split_sources(sources, 0.1, seed=3, groups=groups)
    assert len(train) + len(val) == 600 and 0.05 < len(val) / 600 < 0.15
    side = sides(train, val)
    by_person = {}
    for video_id, where in side.items():
        by_person.setdefault(video_id.split("__")[0], set()).add(where)
    assert all(len(found) == 1 for found in by_person.values())  # no identity on both sides
    # Without groups each video is its own: people straddle the two sides.
    ungrouped = sides(*split_sources(sources, 0.1, seed=3))
    assert any(ungrouped[f"person{p}__0"] != ungrouped[f"person{p}__1"] for p in range(200))
    # Another seed, another split.
    assert sides(*split_sources(sources, 0.1, seed=4, groups=groups)) != side


def test_validation_split_is_stable_when_videos_are_added():
    sources, groups = corpus(range(100), videos=2)
    before = sides(*split_sources(sources, 0.2, seed=0, groups=groups))
    more, more_groups = corpus(range(100, 160), videos=2)  # new people
    extra, extra_groups = corpus(range(0, 100, 7), videos=3)  # a third video of some
    grown = sources + more + extra[2::3]
    groups = groups | more_groups | extra_groups
    after = sides(*split_sources(grown, 0.2, seed=0, groups=groups))
    assert {video_id: after[video_id] for video_id in before} == before
    assert all(after[s.video_id] == after[s.video_id[:-1] + "0"] for s in extra[2::3])


def test_validation_split_of_few_groups():
    sources, groups = corpus(range(2), videos=3)
    train, val = split_sources(sources, 0.01, seed=0, groups=groups)  # no hash that small
    assert len(train) == len(val) == 3
    train, val = split_sources(sources, 0.5, seed=1, groups=groups)
    assert len(train) == len(val) == 3  # one group always trains
    one, one_groups = corpus(range(1), videos=3)
    assert split_sources(one, 0.05, 0, one_groups) == (one, one)  # nothing to hold out
    assert split_sources(one[:1], 0.05, 0) == (one[:1], one[:1])
    assert split_sources(sources, 0.0, 0, groups) == (sources, [])


def test_the_data_module_splits_by_the_runs_groups(records):
    root, _ = records
    dataset = root.name  # the records' data set: the folder above parsing/
    groups = {f"{dataset}/long": "same person", f"{dataset}/wide": "same person"}
    config = PretrainConfig.from_dict(
        {"index": [str(root / "parsing")], "groups": groups, "val_fraction": 0.5, "seed": 0}
    )
    side = sides(*PretrainData(config).split())
    assert side["long"] == side["wide"] and side["short"] != side["long"]


def test_clip_indices_stride_and_short_videos():
    rng = np.random.default_rng(0)
    for _ in range(50):
        idx = clip_indices(40, 8, 2, rng)
        assert np.all(np.diff(idx) == 2) and 0 <= idx[0] <= 40 - 15 and idx[-1] < 40
    assert clip_indices(6, 8, 2, rng) == [0, 2, 4, 5, 5, 5, 5, 5]  # repeat the last frame
    starts = {clip_indices(40, 8, 2, rng)[0] for _ in range(300)}
    assert starts == set(range(26))  # every start in [0, n - span] is drawn
    # repeated sampling: clips of one window, a frame apart, within the video
    assert clip_indices(6, 4, 2, rng, repeats=3) == [[0, 2, 4, 5], [1, 3, 5, 5], [0, 2, 4, 5]]
    windows = [clip_indices(40, 8, 2, rng, repeats=2) for _ in range(300)]
    assert {first[0] for first, _ in windows} == set(range(25))  # the window spans 16 frames
    assert all(second == [i + 1 for i in first] for first, second in windows)


def dataset(records, strategy="fasking") -> PretrainClips:
    return PretrainClips(
        read_index([records[0] / "parsing"]), TINY, MaskSpec(strategy, 0.9, False), 2, 7
    )


def test_item_is_the_clip_and_its_mask(records):
    clips = dataset(records)
    item = clips[(0, 2, 5, 0)]
    video, visible = item["video"], item["visible"]
    assert video.shape == (3, 8, 64, 64) and video.dtype == torch.uint8  # scaled on the device
    assert visible.shape == (256,) and visible.sum() == visible_count(256, 0.9)
    # The pixels are exactly the frames at stride 2 of some start (no resize at 64²).
    source = clips.sources[0]
    start = next(
        s
        for s in range(26)
        if torch.equal(
            video,
            torch.from_numpy(read_frames(source.video, range(s, s + 16, 2))).permute(3, 0, 1, 2),
        )
    )
    # Fasking on a face: every visible token's patch touches background in its tubelet's map.
    labels, _ = load_parsing(source.labels)
    touches = np.stack([label_presence(labels[start + 4 * k], (8, 8))[0] for k in range(4)])
    assert touches.reshape(-1)[visible.numpy()].all()


def test_items_reproducible_by_key(records):
    clips = dataset(records)
    first, again = clips[(0, 1, 3, 0)], clips[(0, 1, 3, 0)]
    other = clips[(0, 2, 3, 0)]  # another epoch: another clip and mask
    assert torch.equal(first["video"], again["video"]) and torch.equal(
        first["visible"], again["visible"]
    )
    assert not torch.equal(first["visible"], other["visible"])


def test_resize_and_no_face_fallback(records):
    clips = dataset(records)
    item = clips[(0, 0, 0, 2)]  # "wide": 96² frames, no face anywhere
    assert item["video"].shape == (3, 8, 64, 64) and item["video"].dtype == torch.uint8
    # No face means random masking: over many clips, visible tokens fall everywhere.
    hits = sum(clips[(0, 0, s, 2)]["visible"].numpy().astype(int) for s in range(40))
    assert (hits > 0).mean() > 0.9


def clip_the_first_way(clips: PretrainClips, key) -> dict[str, torch.Tensor]:
    """The item for ``key`` the way the loader first made it: every frame by exact seeking, the
    tubelets' whole label maps, Fasking from the maps, then channels first and scaled."""
    _, epoch, slot, video = key
    source, rng = clips.sources[video], np.random.default_rng([clips.seed, key[0], epoch, slot])
    _, present = load_parsing(source.labels)
    indices = clip_indices(len(present), TINY.n_frames, clips.stride, rng)
    frames = read_frames(source.video, indices)
    firsts = indices[:: TINY.tubelet]
    labels, _ = load_parsing(source.labels, frames=firsts)
    m = clips.mask
    visible = make_mask(m.strategy, TINY.grid, m.ratio, rng, labels, present[firsts], m.balanced)
    video = torch.from_numpy(frames).permute(0, 3, 1, 2).float().div_(255)
    if video.shape[-1] != TINY.img_size:
        video = F.interpolate(video, size=TINY.img_size, mode="bilinear", antialias=True)
        video = video.clamp_(0, 1)
    return {"video": video.permute(1, 0, 2, 3).contiguous(), "visible": torch.from_numpy(visible)}


@pytest.mark.parametrize("strategy", ["fasking", "tube"])
def test_window_decoding_and_stored_patches_give_the_first_clips_and_masks(
    records, tmp_path, strategy
):
    """Files with the per-patch label presence (read instead of the maps) and files without it
    give the same clips and masks as the first loader, on a clip with a keyframe every 16 frames
    (the track step's) and on short and faceless clips."""
    write_clip(tmp_path, "patched", n_frames=70, grid=TINY.grid[1:], keyframe_interval=16)
    write_clip(tmp_path, "old", n_frames=70, keyframe_interval=16)
    sources = read_index([tmp_path / "parsing"]) + read_index([records[0] / "parsing"])
    clips = PretrainClips(sources, TINY, MaskSpec(strategy, 0.9, True), 2, 3)
    for video in range(len(sources)):
        for slot in range(3):
            key = (0, 1, slot, video)
            item, expected = clips[key], clip_the_first_way(clips, key)
            scaled = item["video"].float() / 255  # as the module scales them on its device
            if sources[video].video_id == "wide":  # 96² resized, then rounded to uint8
                assert (scaled - expected["video"]).abs().max() <= 0.5 / 255 + 1e-6
            else:
                assert torch.equal(scaled, expected["video"]), (video, slot)
            assert torch.equal(item["visible"], expected["visible"]), (video, slot)


def test_repeated_sampling_draws_clips_of_one_window(records, tmp_path):
    """Three clips per window at stride 2: the second starts a frame after the first, the third
    shares the first's frames; each has its own mask; the same key gives the same clips."""
    write_clip(tmp_path, "rep", n_frames=50, grid=TINY.grid[1:], keyframe_interval=16)
    sources = read_index([tmp_path / "parsing"])
    repeated = PretrainClips(sources, TINY, MaskSpec("fasking", 0.9, False), 2, 3, repeats=3)
    starts = set()
    for slot in range(3):
        three, again = repeated[(0, 0, slot, 0)], repeated[(0, 0, slot, 0)]
        assert three["video"].shape == (3, 3, 8, 64, 64) and three["visible"].shape == (3, 256)
        assert torch.equal(three["video"], again["video"])
        assert torch.equal(three["visible"], again["visible"])
        assert torch.equal(three["video"][2], three["video"][0])
        assert (three["visible"].sum(dim=1) == visible_count(256, 0.9)).all()
        assert not torch.equal(three["visible"][0], three["visible"][2])
        start = next(  # the second clip is the frames at stride 2 from one frame later
            s for s in range(35) if torch.equal(three["video"][0], frames_from(sources[0], s))
        )
        assert torch.equal(three["video"][1], frames_from(sources[0], start + 1))
        starts.add(start)
    assert len(starts) > 1  # each key its own window


def frames_from(source: ClipSource, start: int) -> torch.Tensor:
    frames = read_frames(source.video, range(start, start + 16, 2))
    return torch.from_numpy(frames).permute(3, 0, 1, 2)


def test_repeated_sampling_batches_are_clips(records):
    def loader(batch_size: int, clips: int):
        config = PretrainConfig(
            model="tiny",
            index=[str(records[0] / "parsing")],
            batch_size=batch_size,
            workers=0,
            clips_per_epoch=clips,
            val_fraction=0,
            repeated_sampling=2,
        )
        data = PretrainData(config)
        data.setup()
        return data.train_dataloader()

    batches = list(loader(4, 8))
    assert len(batches) == 2 and batches[0]["video"].shape == (4, 3, 8, 64, 64)
    assert batches[0]["visible"].shape == (4, 256)
    with pytest.raises(InputError, match="multiples"):
        loader(3, 6)


def test_broken_clip_is_named_then_skipped(records, tmp_path, caplog):
    sources = read_index([records[0] / "parsing"])
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00not a video" * 100)
    sources[0] = type(sources[0])("broken", broken, sources[0].labels)
    clips = PretrainClips(sources, TINY, MaskSpec("fasking", 0.9, False), 2, 0)
    with pytest.raises(InputError, match="broken.mp4"):
        clips.load(sources[0], np.random.default_rng(0))
    with caplog.at_level(logging.WARNING):
        item = clips[(0, 0, 0, 0)]  # substitutes the next video
    assert item["video"].shape == (3, 8, 64, 64) and "broken.mp4" in caplog.text


def test_sampler_splits_one_global_order_between_ranks():
    single = list(KeySampler(5, 12, seed=1))
    ranks = [list(KeySampler(5, 12, seed=1, rank=r, world=2)) for r in range(2)]
    assert len(single) == 12 and all(len(keys) == 6 for keys in ranks)
    # Rank batches of 2 interleave into the single process's batches of 4.
    assert sorted(ranks[0][:2] + ranks[1][:2]) == sorted(single[:4])
    assert sorted(ranks[0] + ranks[1]) == sorted(single)
    counts = np.bincount([key[3] for key in single], minlength=5)
    assert counts.max() - counts.min() <= 1  # shuffled passes over the videos


def test_sampler_epochs_and_fixed_validation():
    sampler = KeySampler(5, 10, seed=1)
    first = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first and all(key[1] == 1 for key in sampler)
    val = KeySampler(5, 10, seed=1, fixed=True)
    before = list(val)
    val.set_epoch(7)
    assert list(val) == before


def test_sampler_resumes_within_an_epoch_on_every_rank():
    full = [list(KeySampler(5, 12, seed=1, rank=r, world=2)) for r in range(2)]
    for rank in range(2):
        sampler = KeySampler(5, 12, seed=1, rank=rank, world=2)
        sampler.set_epoch(3)
        epoch_three = list(sampler)
        sampler.resume_at(3, 4)  # two batches of 2 done on this rank
        assert list(sampler) == epoch_three[4:] and len(sampler) == 6  # the length stays whole
        sampler.set_epoch(3)  # Lightning sets the same epoch again: still resuming in it
        assert list(sampler) == epoch_three[4:]
        sampler.set_epoch(4)  # the next epoch is whole again
        assert len(list(sampler)) == 6
        sampler.set_epoch(0)
        assert list(sampler) == full[rank]


def test_datamodule_batches_same_with_workers(records):
    def first_batch(workers: int) -> dict[str, torch.Tensor]:
        config = PretrainConfig(
            model="tiny",
            index=[str(records[0] / "parsing")],
            batch_size=2,
            seed=5,
            workers=workers,
            clips_per_epoch=4,
            val_fraction=0.34,
        )
        data = PretrainData(config)
        data.setup()
        return next(iter(data.train_dataloader()))

    serial, parallel = first_batch(0), first_batch(2)
    assert serial["video"].shape == (2, 3, 8, 64, 64) and serial["visible"].shape == (2, 256)
    assert torch.equal(serial["video"], parallel["video"])
    assert torch.equal(serial["visible"], parallel["visible"])


def test_an_epoch_without_a_full_batch_is_refused(records):
    config = PretrainConfig(
        model="tiny",
        index=[str(records[0] / "parsing")],
        batch_size=8,
        clips_per_epoch=4,
        val_fraction=0,
    )
    data = PretrainData(config)
    data.setup()
    with pytest.raises(InputError, match="parsing.*4 training clips per epoch.*batch of 8"):
        data.train_dataloader()


def test_youtube_faces_pretraining_holds_out_whole_identities(tmp_path):
    """From YouTube Faces' own layout to the run's split: the manifest's groups (identities), as
    the workflow hands them to pretraining, keep each person on one side."""
    from marlinflow.config import validate_config
    from marlinflow.datasets import build_manifest
    from marlinflow.experiment.spec import corpus_groups

    for person in range(40):
        for video in range(3):
            frame = tmp_path / "frame_images_DB" / f"Person_{person}" / str(video) / "0.1.jpg"
            frame.parent.mkdir(parents=True)
            frame.touch()
    cfg = {"dataset": {"name": "ytf", "builder": "youtube_faces", "root": str(tmp_path)}}
    table = build_manifest(validate_config(cfg)["dataset"])
    ids = table["id"].tolist()  # the paper's corpus: every split of YouTube Faces
    groups = corpus_groups({"ytf": ids}, {"ytf": table})
    record = Path("data/interim/ytf/parsing")
    sources = [ClipSource(i, Path(i), Path(i), record / f"{i}.status.json") for i in ids]
    train, val = split_sources(sources, 0.2, seed=0, groups=groups)
    people = {
        side: {s.video_id.split("__")[0] for s in found}
        for side, found in (("t", train), ("v", val))
    }
    assert people["t"] and people["v"] and not people["t"] & people["v"]
    assert len(train) + len(val) == 120
