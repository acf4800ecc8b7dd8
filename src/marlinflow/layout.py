"""Every path of the workflow, in one place: a data set's prepared files and an experiment's runs.

A data set is prepared once and shared by every experiment that uses it::

    data/manifests/<ds>.tsv                      the validated manifest
    data/raw/<ds>/<id>.status.json               download   (the video beside its record)
    data/interim/<ds>/faces/<id>.status.json     track      (face clip, boxes, landmarks)
    data/interim/<ds>/parsing/<id>.status.json   parse      (uint8 part labels)
    data/interim/<ds>/audio/<id>.status.json     audio      (mel on the face clip's clock;
                                                             lip-sync data sets only)
    data/manifests/<ds>.shards/<shard>.tsv       a shard's rows (large data sets: marlinflow.shards)
    <stage folder>/shards/<shard>.txt            the records of a shard's videos, one a line
    results/datasets/<ds>/                       stage summaries, contact sheets, task tables

An experiment (config ``experiment``) keys what it trains and measures by its own name::

    results/experiments/<exp>/encoders/<encoder>/          encoder.pt (+ the pretraining run)
    results/experiments/<exp>/features/<ds>/<encoder>/     <id>.npy
    results/experiments/<exp>/downstream/<ds>/<task>/<protocol>/<encoder>/metrics.json
    results/experiments/<exp>/lipsync/<ds>/<encoder>/    expert.pt, expert.json, generator.pt,
                                                         generator.json, metrics.json, frames.png
    results/experiments/<exp>/{plan,overlap,metrics}.json, report/, wandb_report.json

The Snakefile builds its patterns from these classes (a name may be a wildcard such as
``"{ds}"``), and the library reads the same paths, so no other module spells a folder name.
"""

from __future__ import annotations

from dataclasses import dataclass

STAGES = ("download", "track", "parse")
# the stage of the data sets of a lip-sync evaluation alone (the sound of every video)
AUDIO = "audio"
SAMPLE_ROOT = "data/sample"  # where the embedded sample's videos are generated, per data set


@dataclass(frozen=True)
class DatasetLayout:
    """The prepared files of one data set (``name`` may be a wildcard pattern)."""

    name: str

    @property
    def manifest(self) -> str:
        return f"data/manifests/{self.name}.tsv"

    @property
    def sample_sources(self) -> str:
        """The folder the embedded sample's videos are generated in (builder ``sample``)."""
        return f"{SAMPLE_ROOT}/{self.name}"

    def stage_dir(self, stage: str) -> str:
        folders = {
            "download": f"data/raw/{self.name}",
            "track": f"data/interim/{self.name}/faces",
            "parse": f"data/interim/{self.name}/parsing",
            AUDIO: f"data/interim/{self.name}/audio",
        }
        return folders[stage]

    def record(self, stage: str, video_id: str) -> str:
        """The stage record of one video, written last by its per-video step."""
        return f"{self.stage_dir(stage)}/{video_id}.status.json"

    def shard_rows(self, shard: str) -> str:
        """The manifest rows of one shard (:mod:`marlinflow.shards`)."""
        return f"data/manifests/{self.name}.shards/{shard}.tsv"

    def shard_list(self, stage: str, shard: str) -> str:
        """The records of a shard's videos after ``stage``, one path a line, written last by its
        shard job."""
        return f"{self.stage_dir(stage)}/shards/{shard}.txt"

    @property
    def results(self) -> str:
        return f"results/datasets/{self.name}"

    def summary(self, stage: str) -> str:
        return f"{self.results}/{stage}_summary.tsv"

    def summary_run(self, stage: str) -> str:
        """The tracked run record of a stage summary (``marlinflow summary``'s default)."""
        return f"{self.results}/runs/summarize_{stage}/run.json"

    def contact_sheet(self, video_id: str) -> str:
        return f"{self.results}/contact_sheets/{video_id}.png"

    def task_table(self, task: str) -> str:
        return f"{self.results}/tasks/{task}.tsv"

    def task_spec(self, task: str) -> str:
        return f"{self.results}/tasks/{task}.json"

    def stages(self, lipsync: bool) -> tuple[str, ...]:
        """The stages every video of the data set passes through (the audio stage for a data
        set a lip-sync evaluation reads)."""
        return (*STAGES, AUDIO) if lipsync else STAGES

    @property
    def sync_videos(self) -> str:
        """The videos a lip-sync evaluation reads (usable face clip and sound), one a row."""
        return f"{self.results}/sync_videos.tsv"

    @property
    def usable_faces(self) -> str:
        """The face clips of the usable videos, one path a line (after parsing)."""
        return f"{self.results}/usable_faces.txt"

    @property
    def logs(self) -> str:
        return f"logs/datasets/{self.name}"


@dataclass(frozen=True)
class ExperimentLayout:
    """The runs and results of one experiment (``name`` may be a wildcard pattern)."""

    name: str

    @property
    def root(self) -> str:
        return f"results/experiments/{self.name}"

    def encoder_dir(self, encoder: str) -> str:
        return f"{self.root}/encoders/{encoder}"

    def encoder(self, encoder: str) -> str:
        """The encoder's weights, with its geometry and provenance (``checkpoints.save_encoder``)."""
        return f"{self.encoder_dir(encoder)}/encoder.pt"

    def features(self, dataset: str, encoder: str) -> str:
        return f"{self.root}/features/{dataset}/{encoder}"

    def downstream(self, dataset: str, task: str, protocol: str, encoder: str) -> str:
        return f"{self.root}/downstream/{dataset}/{task}/{protocol}/{encoder}"

    def metrics(self, dataset: str, task: str, protocol: str, encoder: str) -> str:
        return f"{self.downstream(dataset, task, protocol, encoder)}/metrics.json"

    def lipsync(self, dataset: str, encoder: str) -> str:
        """The lip-sync runs of one encoder on one data set: its expert, and the generator
        trained against that expert, with their metrics."""
        return f"{self.root}/lipsync/{dataset}/{encoder}"

    def expert(self, dataset: str, encoder: str) -> str:
        return f"{self.lipsync(dataset, encoder)}/expert.pt"

    def expert_metrics(self, dataset: str, encoder: str) -> str:
        """Sync and offset accuracy on held-out videos, the offset curves, the losses."""
        return f"{self.lipsync(dataset, encoder)}/expert.json"

    def generator(self, dataset: str, encoder: str) -> str:
        return f"{self.lipsync(dataset, encoder)}/generator.pt"

    def generator_metrics(self, dataset: str, encoder: str) -> str:
        """LSE-D, LSE-C and FID of the generator on held-out videos (``lipsync-eval``)."""
        return f"{self.lipsync(dataset, encoder)}/metrics.json"

    def generator_frames(self, dataset: str, encoder: str) -> str:
        """Generated mouths beside the real ones (a held-out video's frames)."""
        return f"{self.lipsync(dataset, encoder)}/frames.png"

    @property
    def plan(self) -> str:
        """Everything the experiment declares, with the path of every input of its reports."""
        return f"{self.root}/plan.json"

    @property
    def overlap(self) -> str:
        """The record of the check that pretraining saw no evaluation val or test video."""
        return f"{self.root}/overlap.json"

    @property
    def report(self) -> str:
        return f"{self.root}/report"

    @property
    def headline(self) -> str:
        """The headline numbers in one file (DVC's metrics)."""
        return f"{self.root}/metrics.json"

    @property
    def wandb_report(self) -> str:
        return f"{self.root}/wandb_report.json"

    @property
    def logs(self) -> str:
        return f"logs/experiments/{self.name}"
