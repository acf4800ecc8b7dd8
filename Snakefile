# marlinflow: MARLIN from raw face videos to pretraining, downstream evaluation and reports.
# Configuration keys and their defaults: workflow/schemas/config.schema.yaml.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/track.smk"
include: "workflow/rules/parse.smk"
include: "workflow/rules/audio.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/downstream.smk"
include: "workflow/rules/lipsync.smk"
include: "workflow/rules/report.smk"


# Quick bookkeeping steps run where Snakemake runs, never as cluster jobs.
localrules:
    all,
    write_manifest,
    write_shard_rows,
    write_pretrain_settings,
    build_task,
    list_usable_faces,
    list_sync_videos,
    summarize_stage,
    record_overlap_check,
    write_plan,
    report_wandb,


rule all:
    default_target: True
    input:
        final_outputs(),
