"""The cost of each stage of an experiment's work, one data set, encoder or run at a time: a
count of work (videos, frames, clips, epochs, seeds) times a rate, recorded in a
:class:`~marlinflow.experiment.rates.Book`. :func:`marlinflow.experiment.cost.estimate` adds
them up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any

import torch

from marlinflow.experiment.plan import downstream_runs, label_budgets
from marlinflow.experiment.rates import MEASURED_SIZE, STEP_OVER_FORWARD, Book
from marlinflow.experiment.sizes import DatasetSize
from marlinflow.experiment.spec import Encoder, Experiment
from marlinflow.features import plan_windows
from marlinflow.layout import STAGES
from marlinflow.models import MarlinModel, ModelSize, PatchCritic, get_size, resolve_size

FLOAT32 = 4  # bytes: weights, optimiser moments and features are float32
ADAM_COPIES = 3  # a training checkpoint holds the weights and AdamW's two moments
UNKNOWN_SIZE = "base"  # an external file's geometry, when its config entry gives none


@dataclass
class Cost:
    cpu_hours: float = 0.0  # core-hours: CPU work, or the cores a GPU job holds
    gpu_hours: float = 0.0
    bytes: float = 0.0

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.cpu_hours + other.cpu_hours,
            self.gpu_hours + other.gpu_hours,
            self.bytes + other.bytes,
        )


def hours(seconds: float) -> float:
    return seconds / 3600


def device_cost(device_hours: float, device: str, threads: int) -> Cost:
    """A model job's hours on its device: GPU-hours with the cores held, or CPU core-hours."""
    if device == "gpu":
        return Cost(cpu_hours=device_hours * threads, gpu_hours=device_hours)
    return Cost(cpu_hours=device_hours)


def download(size: DatasetSize, book: Book) -> Cost:
    """The download step of one data set: a process start per video, the encoding of a frame
    folder or a cut window (a download's network time is no CPU time), and the videos kept:
    re-encoded, as downloaded, or hard links to the data set's own files."""
    seconds, stored = size.videos * book.rate("start.download"), 0.0
    for how, videos in size.fetch.items():
        if how == "link":
            seconds += videos * book.rate("download.link")
        elif how == "fetch":
            stored += videos * size.frames * book.rate(f"bytes.source.{size.tier}")
        else:  # frames, cut
            seconds += videos * size.frames / book.rate(f"download.{how}")
            stored += videos * size.frames * book.rate(f"bytes.download.{size.tier}")
    return Cost(hours(seconds), bytes=stored)


def preprocessing(size: DatasetSize, book: Book) -> dict[str, Cost]:
    """download, track and parse of every video of one data set."""
    n, frames = size.videos, size.videos * size.frames
    return {
        "download": download(size, book),
        "track": Cost(
            hours(n * book.rate("start.track") + frames * book.rate(f"track.{size.tier}")),
            bytes=frames * (book.rate("bytes.face_clip") + book.rate("bytes.track_json")),
        ),
        "parse": Cost(
            hours(n * book.rate("start.parse") + frames * book.rate("parse")),
            bytes=frames * book.rate("bytes.parsing"),
        ),
    }


def reporting(sizes: list[DatasetSize], config: dict[str, Any], book: Book) -> Cost:
    """Contact sheets, stage summaries, and the HTML and W&B reports."""
    sheets = sum(min(config["report"]["contact_sheets"], s.videos) for s in sizes)
    sheet = book.rate("start.contact_sheet") + book.rate("contact_sheet.draw")
    records = len(STAGES) * sum(s.videos for s in sizes)
    fixed = book.rate("report.html") + book.rate("report.wandb")
    return Cost(hours(sheets * sheet + records * book.rate("summary") + fixed))


def encoder_size(encoder: Encoder, notes: list[str]) -> ModelSize:
    if encoder.model is None:
        notes.append(f"encoder {encoder.name!r}: its file's size is unknown; costed as base")
        return resolve_size(UNKNOWN_SIZE)
    return resolve_size(encoder.model)


@cache
def parameters(size: ModelSize) -> tuple[int, int]:
    """(the encoder's, and everything pretraining trains: encoder, decoder and critic) parameter
    counts, from the networks built without memory (torch's meta device)."""
    with torch.device("meta"):
        model, critic = MarlinModel(size), PatchCritic(size)
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    return count(model.encoder), count(model) + count(critic)


def checkpoint_bytes(size: ModelSize) -> tuple[float, float]:
    """(encoder.pt, one training checkpoint) in bytes."""
    encoder, trained = parameters(size)
    return encoder * FLOAT32, trained * FLOAT32 * ADAM_COPIES


def pretraining(
    experiment: Experiment, config: dict[str, Any], sizes: dict[str, DatasetSize], book: Book
):
    """(model size, Cost) of each pretrained encoder: its training and validation clips on its
    device, encoder.pt and the checkpoints it keeps (last.ckpt, and one more per requeue)."""
    compute = config["compute"]
    corpus = sum(
        sizes[name].splits.get(split, 0)
        for name, splits in experiment.corpus.items()
        for split in splits
    )
    for encoder in experiment.encoders_of("pretrain").values():
        settings = {**config["pretrain"], **encoder.pretrain}
        model = resolve_size(encoder.model)
        val = round(corpus * settings["val_fraction"])
        per_epoch = settings["clips_per_epoch"] or corpus - val
        devices = devices_of(settings, compute)
        clips = (
            settings["steps"] * settings["batch_size"] * devices
            if settings["steps"]
            else settings["epochs"] * per_epoch
        )
        validations = math.ceil(clips / max(per_epoch, 1)) // settings["val_every"]
        device = "cpu" if settings["accelerator"] == "cpu" else "gpu"
        precision = settings["precision"]
        seconds = clips / book.clips("pretrain", model, device, precision)
        seconds += (
            (settings["val_clips"] or val)
            * validations
            / book.clips("extract", model, device, precision)
        )
        starts = max(1, math.ceil(seconds / 60 / devices / compute["pretrain_runtime"]))
        encoder_file, checkpoint = checkpoint_bytes(model)
        files = Cost(bytes=encoder_file + checkpoint * starts)
        yield model.name, device_cost(hours(seconds), device, compute["threads"]) + files


def devices_of(settings: dict[str, Any], compute: dict[str, Any]) -> int:
    """The devices one pretraining run trains on: per node (devices, or the GPUs the job asks
    for when devices is auto) times nodes."""
    per_node = settings["devices"]
    if not isinstance(per_node, int):
        per_node = max(1, compute["gpus_per_node"])
    return per_node * settings["num_nodes"]


def other_encoders(experiment: Experiment, notes: list[str]):
    """(model size, Cost) of the random and imported encoders: their encoder.pt."""
    for encoder in experiment.encoders.values():
        if encoder.kind != "pretrain":
            model = encoder_size(encoder, notes)
            yield model.name, Cost(bytes=checkpoint_bytes(model)[0])


def extraction(experiment, config, sizes: dict[str, DatasetSize], book: Book, notes):
    """(model size, Cost) of the features of every evaluated data set by every encoder."""
    features = config["downstream"]["features"]
    device = "cpu" if features["device"] == "cpu" else "gpu"
    for name in experiment.task_datasets():
        size = sizes[name]
        for encoder in experiment.encoders.values():
            model = encoder_size(encoder, notes)
            per_video = plan_windows(
                max(1, round(size.frames)), model.n_frames, features["sample_rate"]
            )
            windows = size.videos * len(per_video)
            seconds = windows / book.clips("extract", model, device, features["precision"])
            work = device_cost(hours(seconds), device, config["compute"]["threads"])
            yield model.name, work + Cost(bytes=windows * model.enc_dim * FLOAT32)


def downstream(experiment, config, sizes: dict[str, DatasetSize], book: Book, notes):
    """(stage, model size, Cost) of every probe and fine-tuning run, each seed and budget."""
    settings = config["downstream"]
    seeds = len(settings["seeds"])
    for run in downstream_runs(experiment, settings):
        protocol, _, budget = run.protocol.partition("-")
        task = experiment.datasets[run.dataset].tasks[run.task]
        rows = sizes[run.dataset].task_splits(task)
        if budget:
            share = label_budgets(settings["low_label"], task)[budget].get("fraction")
            rows["train"] *= share or 1.0  # k per class: costed as the whole train split
        model = encoder_size(experiment.encoders[run.encoder], notes)
        if protocol == "probe":
            cost = Cost(hours(seeds * probe_seconds(rows, model, settings, book)))
            yield "probe", model.name, cost
        else:
            yield "fine-tune", model.name, finetune_cost(rows, model, seeds, config, book)


def probe_seconds(rows: dict[str, float], model: ModelSize, settings, book: Book) -> float:
    """One seed's probe: load the features, train max_epochs, bootstrap the test scores."""
    probe = settings["probe"]
    train = probe["max_epochs"] * rows["train"] * model.enc_dim * book.rate("probe.epoch")
    boot = probe["bootstrap"] * rows["test"] * book.rate("probe.bootstrap")
    return sum(rows.values()) * book.rate("probe.load") + train + boot


def finetune_cost(rows, model: ModelSize, seeds: int, config, book: Book) -> Cost:
    """Fine-tuning: a training clip per train video each epoch (max_epochs), the val videos'
    test_clips each epoch, and val and test at the end; every seed."""
    finetune = config["downstream"]["finetune"]
    device = "cpu" if finetune["device"] == "cpu" else "gpu"
    step = book.clips("finetune", model, device, finetune["precision"])
    forward = book.clips("extract", model, device, finetune["precision"])
    clips = finetune["test_clips"]
    epoch = rows["train"] / step + rows["val"] * clips / forward
    end = (rows["val"] + rows["test"]) * clips / forward
    seconds = seeds * (finetune["max_epochs"] * epoch + end)
    return device_cost(hours(seconds), device, config["compute"]["threads"])


def lipsync(experiment, config, sizes: dict[str, DatasetSize], book: Book, notes):
    """(stage, model size, Cost) of each lip-sync evaluation: the audio stage of its data set's
    videos, an expert per encoder (its training pairs, then the offset search over every
    window of the test videos), and a generator per generator encoder (its training windows,
    then every test frame regenerated and scored)."""
    settings, threads = config["lipsync"], config["compute"]["threads"]
    device = "cpu" if settings["device"] == "cpu" else "gpu"
    expert, generator = settings["expert"], settings["generator"]
    span = 2 * settings["eval"]["max_offset"]
    for name in experiment.lipsync_datasets():
        size = sizes[name]
        frames, test = size.videos * size.frames, size.splits.get("test", 0)
        seconds = size.videos * book.rate("start.audio") + frames * book.rate("audio")
        yield "audio", None, Cost(hours(seconds), bytes=frames * book.rate("bytes.mel"))
        for encoder in experiment.encoders.values():
            model = encoder_size(encoder, notes)
            rate = book.clips("lipsync_expert", model, device, "32")
            if expert["finetune_encoder"]:  # the encoder's backward too: a training step
                rate /= STEP_OVER_FORWARD
            searched = test * max(0.0, size.frames - model.n_frames - span + 1)
            seconds = expert["steps"] * expert["batch_size"] / rate
            seconds += searched / book.clips("extract", model, device, "32")
            work = device_cost(hours(seconds), device, threads)
            yield "lip-sync expert", model.name, work + Cost(bytes=checkpoint_bytes(model)[0])
        for encoder_name in experiment.generator_encoders():
            model = encoder_size(experiment.encoders[encoder_name], notes)
            windows = generator["steps"] * generator["batch_size"]
            seconds = windows / book.clips("lipsync_generator", model, device, "32")
            yield "lip-sync generator", model.name, device_cost(hours(seconds), device, threads)
            scoring = book.clips("lipsync_score", get_size(MEASURED_SIZE), device, "32")
            seconds = test * size.frames / scoring
            yield "lip-sync scoring", model.name, device_cost(hours(seconds), device, threads)
