"""Run MARLIN pretraining from a :class:`PretrainConfig`: resume from the run's newest checkpoint
when it is a start of the same run (else set the earlier files aside and start from random or
VideoMAE weights: :mod:`marlinflow.pretrain.rundir`), track the run, list the videos it trains on
in ``corpus.tsv`` before it starts, and write ``encoder.pt`` (with its geometry and provenance:
``checkpoints.save_encoder``) and the run's metrics at the end. Where the weights started and the
precision the run ran at are recorded in ``metrics.json``, the tracked run and ``encoder.pt``."""

from __future__ import annotations

import csv
import json
import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.loggers import CSVLogger, Logger

from marlinflow.atomic import atomic_path, write_json
from marlinflow.pretrain.checkpointing import (
    LAST,
    LastCheckpoint,
    readable_checkpoint,
    resume_checkpoint,
    start_from,
)
from marlinflow.pretrain.config import PretrainConfig
from marlinflow.pretrain.data import ClipSource, PretrainData
from marlinflow.pretrain.launch import (
    RequeueAtBatchEnd,
    build_strategy,
    trainer_placement,
    world_size,
)
from marlinflow.pretrain.metrics import MetricsFiles
from marlinflow.pretrain.module import MarlinPretrain
from marlinflow.pretrain.progress import EpochProgress
from marlinflow.pretrain.rundir import FINAL, prepare, publish
from marlinflow.stages import record_paths
from marlinflow.tracking import TrackedRun, lightning_logger, track_run
from marlinflow.tracking.settings import is_rank_zero
from marlinflow.weights.checkpoints import save_encoder

log = logging.getLogger(__name__)
CORPUS = "corpus.tsv"
CORPUS_COLUMNS = ("dataset", "id", "role", "record")


def build_trainer(
    config: PretrainConfig,
    run_dir: Path,
    loggers: Sequence[Logger] = (),
    extra: Sequence[pl.Callback] = (),
) -> pl.Trainer:
    placement = trainer_placement(config)
    # MetricsFiles first: a checkpoint written at a batch's end must find that batch's row.
    callbacks = [
        MetricsFiles(run_dir, run_dir / FINAL / "metrics.json"),
        LastCheckpoint(run_dir / LAST, config.checkpoint_every_steps),
        EpochProgress(),
        *extra,
    ]
    if not any(isinstance(callback, RequeueAtBatchEnd) for callback in extra):  # a caller's wins
        callbacks.append(RequeueAtBatchEnd(run_dir))  # on SLURM's warning; nothing elsewhere
    return pl.Trainer(
        default_root_dir=run_dir,
        **placement,
        strategy=build_strategy(config.strategy, world_size(placement)),
        precision=config.precision,
        max_epochs=config.epochs,
        # Lightning counts each optimiser's step; one iteration steps both.
        max_steps=2 * config.steps if config.steps else -1,
        check_val_every_n_epoch=config.val_every,
        limit_val_batches=1.0 if config.val_fraction > 0 else 0,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,  # our sampler splits the keys between ranks itself
        callbacks=callbacks,
        enable_checkpointing=False,
        logger=[CSVLogger(save_dir=run_dir, name="logs"), *loggers],
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_model_summary=False,
    )


def start_point(
    config: PretrainConfig, module: MarlinPretrain, run: TrackedRun | None = None
) -> Path | None:
    """The checkpoint to resume from (which brings back the record of where the weights
    started); without one, initialise the weights as ``config.init`` says and record it in
    ``module.start`` and ``run``."""
    resume = resume_checkpoint(config.run_dir, LAST)
    if resume is not None:
        log.info("resuming from %s", readable_checkpoint(resume))
    else:
        module.start = start_from(module.model, config.init)
        if run is not None:
            run.summarize({"start": module.start})
    return resume


def pretrain(config: PretrainConfig, callbacks: Sequence[pl.Callback] = ()) -> dict[str, Path]:
    """Train (or finish training) the run in ``config.run_dir``; returns its output files.

    The run is tracked (``run.json``, ``metrics.jsonl`` and W&B as the environment's tracking
    settings say); ``metrics.csv``/``metrics.json`` are written whatever the tracking mode.
    ``encoder.pt`` and ``metrics.json`` appear when the run has finished, not before."""
    run_dir = Path(config.run_dir)
    outputs = {
        "checkpoint": run_dir / LAST,
        "encoder": run_dir / "encoder.pt",
        "metrics_csv": run_dir / "metrics.csv",
        "metrics_json": run_dir / "metrics.json",
    }
    start = prepare(config, is_rank_zero())
    if start.finished:
        return outputs
    pl.seed_everything(config.seed, workers=True, verbose=False)  # same initial weights everywhere
    module, data = MarlinPretrain(config), PretrainData(config)
    tags = [module.size.name]
    if config.repeated_sampling > 1:  # not the official sampling: runs compared must show it
        tags.append(f"repeated_sampling_{config.repeated_sampling}")
        log.info("repeated sampling: %d clips per decoded window", config.repeated_sampling)
    with track_run("pretrain", tracked_config(config), tags, run_dir, resume=start.resume) as run:
        module.image_run = run.wandb_run
        trainer = build_trainer(config, run_dir, [lightning_logger(run)], callbacks)
        if trainer.is_global_zero:
            write_json(run_dir / "config.json", config.to_dict())
            write_corpus(run_dir / CORPUS, *data.split())  # before training: a killed run has it
        trainer.fit(module, datamodule=data, ckpt_path=start_point(config, module, run))
        if trainer.is_global_zero:
            record = provenance(config, data) | module.run_facts()
            save_encoder(module.model, run_dir / FINAL / "encoder.pt", record)
            publish(run_dir)
        run.summarize(read_summary(outputs["metrics_json"]))
    return outputs


def write_corpus(path: Path, train: list[ClipSource], val: list[ClipSource]) -> Path:
    """List the videos a run trains (``train``) and validates (``val``) on, one row per video and
    role (a single video serves both), with its dataset and parse record, written atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(CORPUS_COLUMNS)
        for role, sources in (("train", train), ("val", val)):
            for source in sources:
                writer.writerow([source.dataset, source.video_id, role, str(source.record)])
    return path


def provenance(config: PretrainConfig, data: PretrainData) -> dict:
    """Where a pretrained encoder came from: the settings (the index, often thousands of record
    paths, stands as counts and the corpus.tsv beside the encoder) and the corpus's size; the
    caller adds where the weights started and the precision."""
    long = ("index", "groups")  # given by counts; config.json keeps them whole
    settings = {key: value for key, value in config.to_dict().items() if key not in long}
    train, val = data.split()
    records = len(record_paths(config.index))
    datasets = dict(sorted(Counter(source.dataset for source in train + val).items()))
    corpus = {
        "videos": len(train),
        "val_videos": len(val),
        "records": records,
        "datasets": datasets,
        "list": CORPUS,
    }
    return {"kind": "pretrain", "settings": settings, "corpus": corpus}


def tracked_config(config: PretrainConfig, max_index: int = 8) -> dict:
    """The settings as the tracked run shows them: a long index (the workflow lists every parse
    record) is given by its length; config.json in the run folder keeps it whole."""
    values = config.to_dict()
    if len(config.index) > max_index:
        values["index"] = f"{len(config.index)} entries (listed in config.json)"
    if len(config.groups) > max_index:
        values["groups"] = f"{len(config.groups)} videos in groups (listed in config.json)"
    return values


def read_summary(path: Path) -> dict:
    """The run's summary for the tracked run (empty on ranks that write no files)."""
    return json.loads(path.read_text()) if path.is_file() else {}
