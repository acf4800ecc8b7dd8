"""How many jobs an experiment's workflow runs, rule by rule, and how many SLURM submissions
they make.

The counts follow the rules of workflow/rules/ as they are (a test compares them with
``snakemake -n``). Two facts are read from the workflow's own files rather than repeated here:
the rules that run where Snakemake runs (the Snakefile's ``localrules``), and how the SLURM
profile bundles the per-video steps (its ``groups`` and ``group-components``): a group job is
one submission, holding up to ``group-components`` videos' steps.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from marlinflow import datasets
from marlinflow.errors import InputError
from marlinflow.experiment.plan import downstream_runs, used_datasets
from marlinflow.experiment.spec import Experiment
from marlinflow.layout import STAGES
from marlinflow.shards import shard_size

# What one video of a data set passes through, in order; make_sample comes first for a
# generated data set (it makes all of its videos) and a contact sheet only for the first few.
CHAIN = ("make_sample", "download_video", "track_video", "parse_video", "contact_sheet")
# What one shard of a large data set's videos passes through (dataset.shard_size).
SHARD_CHAIN = ("write_shard_rows", "download_shard", "track_shard", "parse_shard")
PROTOCOL_RULES = {"probe": "probe", "finetune": "finetune"}


@dataclass(frozen=True)
class Jobs:
    rules: dict[str, int]  # rule -> its jobs, as the job stats of snakemake -n count them
    local: frozenset[str]  # rules run where Snakemake runs, never submitted
    grouped: dict[str, str]  # rule -> its group in the profile
    groups: dict[str, int]  # group -> its group jobs (one submission each)

    @property
    def total(self) -> int:
        return sum(self.rules.values())

    @property
    def on_login_node(self) -> int:
        return sum(n for rule, n in self.rules.items() if rule in self.local)

    @property
    def submitted(self) -> int:
        """SLURM submissions: every group job, and every job of a rule neither local nor grouped."""
        alone = sum(
            n for rule, n in self.rules.items() if rule not in self.local | set(self.grouped)
        )
        return alone + sum(self.groups.values())


def rule_jobs(experiment: Experiment, config: dict[str, Any], videos: dict[str, int]) -> dict:
    """rule -> the jobs it runs for ``experiment`` (``videos``: each used data set's videos)."""
    names = used_datasets(experiment)
    evaluated = experiment.task_datasets()
    lipsync = experiment.lipsync_datasets()
    sheets = config["report"]["contact_sheets"]
    counts = {
        "all": 1,
        "write_manifest": len(names),
        "make_sample": sum(generated(experiment, n) for n in names),
        **{rule: sum(per_video(experiment, n, videos[n]) for n in names) for rule in CHAIN[1:4]},
        **{rule: sum(shards(experiment, n, videos[n]) for n in names) for rule in SHARD_CHAIN},
        "contact_sheet": sum(min(sheets, videos[n]) for n in names),
        "summarize_stage": len(STAGES) * len(names) + len(lipsync),
        "audio_video": sum(per_video(experiment, n, videos[n]) for n in lipsync),
        "audio_shard": sum(shards(experiment, n, videos[n]) for n in lipsync),
        "list_sync_videos": len(lipsync),
        "lipsync_expert": len(lipsync) * len(experiment.encoders),
        "lipsync_generator": len(lipsync) * len(experiment.generator_encoders()),
        "lipsync_eval": len(lipsync) * len(experiment.generator_encoders()),
        "list_usable_faces": len(evaluated),
        "build_task": len({(e.dataset, task) for e in experiment.suite for task in e.tasks}),
        "record_overlap_check": 1,
        "write_pretrain_settings": len(experiment.encoders_of("pretrain")),
        "pretrain": len(experiment.encoders_of("pretrain")),
        "random_encoder": len(experiment.encoders_of("random")),
        "import_encoder": len(experiment.encoders_of("external")),
        "extract_features": len(evaluated) * len(experiment.encoders),
        "write_plan": 1,
        "report_html": 1,
        "report_wandb": 1,
    }
    for run in downstream_runs(experiment, config["downstream"]):
        protocol, _, budget = run.protocol.partition("-")
        rule = PROTOCOL_RULES[protocol] + ("_low_label" if budget else "")
        counts[rule] = counts.get(rule, 0) + 1
    return {rule: n for rule, n in counts.items() if n}


def shards(experiment: Experiment, name: str, videos: int) -> int:
    """The shard jobs of each step of a data set (0: it runs one job per video)."""
    size = shard_size(experiment.datasets[name].config["shard_size"], videos)
    return math.ceil(videos / size) if size else 0


def per_video(experiment: Experiment, name: str, videos: int) -> int:
    """The jobs of each per-video step of a data set (0: it runs shards)."""
    return 0 if shards(experiment, name, videos) else videos


def generated(experiment: Experiment, name: str) -> bool:
    return datasets.get(experiment.datasets[name].config["builder"]).generated


def count_jobs(
    experiment: Experiment,
    config: dict[str, Any],
    videos: dict[str, int],
    snakefile: Path,
    profile: Path | None,
) -> Jobs:
    """The jobs of ``experiment``, bundled as ``profile`` (a Snakemake profile folder) groups
    them; None: no groups, every job its own submission."""
    rules = rule_jobs(experiment, config, videos)
    grouped, sizes = read_groups(profile) if profile is not None else ({}, {})
    components: dict[str, int] = {}
    for name in used_datasets(experiment):
        for group, n in chain_components(experiment, name, videos[name], config, grouped):
            components[group] = components.get(group, 0) + n
    groups = {g: math.ceil(n / sizes.get(g, 1)) for g, n in components.items()}
    return Jobs(rules, local_rules(snakefile), grouped, groups)


def chain_components(experiment, name: str, videos: int, config, grouped: dict[str, str]):
    """(group, connected parts) of one data set's per-video jobs. Consecutive steps of CHAIN in
    one group join: one part per video, or one for the whole data set when they start with
    make_sample (every video hangs on it). A step without jobs (a data set's shards run them)
    parts the steps around it."""
    present = {
        "make_sample": int(generated(experiment, name)),
        **dict.fromkeys(CHAIN[1:4], per_video(experiment, name, videos)),
        "contact_sheet": min(config["report"]["contact_sheets"], videos),
    }
    run: list[str] = []
    for rule in [*CHAIN, None]:
        group = grouped.get(rule) if rule and present[rule] else None
        if run and group != grouped[run[0]]:
            yield grouped[run[0]], 1 if run[0] == "make_sample" else max(present[r] for r in run)
            run = []
        if group is not None:
            run.append(rule)


def read_groups(profile: Path) -> tuple[dict[str, str], dict[str, int]]:
    """The profile's ``groups`` (rule -> group) and ``group-components`` (group -> jobs bundled)."""
    path = Path(profile) / "config.yaml"
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise InputError(path, f"not a readable Snakemake profile ({err})") from err
    return dict(document.get("groups") or {}), dict(document.get("group-components") or {})


def local_rules(snakefile: Path) -> frozenset[str]:
    """The rules the Snakefile's ``localrules:`` names."""
    try:
        text = Path(snakefile).read_text()
    except OSError as err:
        raise InputError(snakefile, f"cannot read the Snakefile ({err})") from err
    block = re.search(r"^localrules:[ \t]*\n((?:[ \t]+[\w, \t]+\n)+)", text, re.MULTILINE)
    if block is None:
        raise InputError(snakefile, "no localrules: block found")
    return frozenset(re.findall(r"\w+", block.group(1)))
