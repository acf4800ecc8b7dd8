"""Recording a step's run: the project's own record always, and a W&B run when tracking is on.

Every step that logs values does so through :func:`track_run`::

    with track_run("pretrain", config=params, tags=[dataset, model], out_dir=run_dir) as run:
        run.log({"train/loss": 0.5}, step=10)
        run.summarize({"best_val_loss": 0.4})

``<out_dir>/run.json`` (group, job type, config, tags, status, summary) and
``<out_dir>/metrics.jsonl`` (one line per ``log`` call) are written whatever the mode, so nothing
depends on W&B's storage format. A Lightning trainer logs through the run with
``Trainer(logger=lightning_logger(run))``; in a distributed run only rank 0 records.

W&B runs share a *group* per pipeline invocation: the workflow calls :func:`start_pipeline` once,
which puts the settings and a fresh group id into the environment that every job inherits (local
jobs, and cluster jobs, which take the submitting environment). A step run by hand without it
gets a group of its own.

Modes: ``offline`` (files only, no account), ``online`` (sync live), ``disabled`` (no W&B; our
record still written), ``auto`` (online when logged in or ``WANDB_API_KEY`` is set, otherwise
offline). ``WANDB_MODE``, when set, overrides the configured mode. The API key itself is never
stored: values containing it are redacted from the config before anything is written.

What is a run. A step that produces numbers worth comparing across pipeline runs is one
tracked run, ``job_type`` its rule's name: ``pretrain``, ``probe``, ``finetune``,
``extract_features`` (per encoder), ``lipsync_expert``, ``lipsync_generator`` and
``lipsync_eval`` (per encoder), ``report_html`` (the results table), and the stage
summaries, which are the preprocessing runs: ``summarize_download``, ``summarize_track`` and
``summarize_parse`` (rule ``summarize_stage`` with its stage), each logging every video's
statistics as one table. The per-video steps (download, track, parse, contact sheets) are not
runs: a real data set has thousands of them, so their statistics reach W&B through the summary
of their stage. Bookkeeping steps (writing the manifest, making the sample, the pretraining
settings, task tables, the W&B report itself) log no numbers and are not runs either.

Names and tags: the workflow names every job's run after what it did (``probe sample/expression
tiny``, :func:`job_tracking`) and tags it with its experiment (``experiment:<name>``, exported by
:func:`start_pipeline` for the whole invocation), data set, task, encoder and model size
(``dataset:``, ``task:``, ``encoder:``, ``size:``), besides any tags the step gives itself.
"""

from marlinflow.tracking.run import (
    METRICS_FILE,
    REDACTED,
    RUN_FILE,
    TrackedRun,
    lightning_logger,
    plain,
    redact,
    track_run,
)
from marlinflow.tracking.settings import (
    ENV_PREFIX,
    TAGS_ENV,
    TrackingSettings,
    clean_tags,
    has_wandb_credentials,
    is_rank_zero,
    job_name,
    job_tracking,
    new_group_id,
    pipeline_tags,
    resolve_mode,
    start_pipeline,
)

__all__ = [
    "ENV_PREFIX",
    "METRICS_FILE",
    "REDACTED",
    "RUN_FILE",
    "TAGS_ENV",
    "TrackedRun",
    "TrackingSettings",
    "clean_tags",
    "has_wandb_credentials",
    "is_rank_zero",
    "job_name",
    "job_tracking",
    "lightning_logger",
    "new_group_id",
    "pipeline_tags",
    "plain",
    "redact",
    "resolve_mode",
    "start_pipeline",
    "track_run",
]
