"""Tracking settings: the config's ``tracking`` section, the W&B mode it resolves to, and the
pipeline-wide group and tags that :func:`start_pipeline` passes to every job in the environment."""

from __future__ import annotations

import dataclasses
import netrc
import os
import secrets
import shlex
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlparse

from marlinflow.config.settings import settings_class

ENV_PREFIX = "MARLINFLOW_TRACKING_"
TAGS_ENV = ENV_PREFIX + "TAGS"  # the invocation's tags, comma-separated (not a setting)
NAME_ENV = ENV_PREFIX + "NAME"  # one job's run name (set per job by the workflow)
JOB_TAGS_ENV = ENV_PREFIX + "JOB_TAGS"  # one job's own tags, comma-separated
# W&B's spellings of the modes, as WANDB_MODE accepts them.
WANDB_MODE_ALIASES = {"dryrun": "offline", "run": "online"}


class TrackingSettings(settings_class("tracking", "TrackingSection")):
    """The config's ``tracking`` section; W&B writes its run folders under ``<dir>/wandb/``, and
    a null group is one new group per pipeline invocation."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TrackingSettings:
        """The settings a job inherited from :func:`start_pipeline` (defaults where unset)."""
        environ = os.environ if environ is None else environ
        values = {}
        for field in dataclasses.fields(cls):
            value = environ.get(ENV_PREFIX + field.name.upper())
            if value:
                values[field.name] = value
        return cls.from_dict(values, source="environment")

    def to_env(self) -> dict[str, str]:
        values = dataclasses.asdict(self)
        return {ENV_PREFIX + k.upper(): str(v) for k, v in values.items() if v is not None}


def new_group_id(prefix: str = "run") -> str:
    """``<prefix>-20261128-114237-3fa2``: sortable by start time, unique across machines."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{prefix}-{stamp}-{secrets.token_hex(2)}"


def start_pipeline(
    tracking: Mapping[str, Any] | None, experiment: str, tags: Iterable[str] = ()
) -> TrackingSettings:
    """Called once per workflow invocation: fix the group and export the settings to the jobs.

    ``experiment`` is the experiment's name: the group id's prefix and, as ``experiment:<name>``
    with ``tags``, a tag of every run of the invocation. A group already in the environment is kept: a cluster job
    re-reads the workflow with its submitter's environment, and must stay in its submitter's
    group. A W&B service address inherited from the caller (``WANDB_SERVICE``, left by a W&B run
    in the process that started the workflow) is dropped: each job starts its own service, and
    a job attached to a foreign one can lose its run's log.
    """
    os.environ.pop("WANDB_SERVICE", None)
    settings = TrackingSettings.from_dict(tracking or {}, source="config")
    group = settings.group or os.environ.get(ENV_PREFIX + "GROUP") or new_group_id(experiment)
    settings = dataclasses.replace(settings, group=group)
    os.environ.update(settings.to_env())
    os.environ[TAGS_ENV] = ",".join(clean_tags([f"experiment:{experiment}", *tags]))
    return settings


def job_tracking(
    rule: str,
    experiment: str,
    dataset: str | None = None,
    task: str | None = None,
    encoder: str | None = None,
    model: str | Mapping[str, Any] | None = None,
) -> str:
    """The environment that names one job's run, as a shell prefix (``env NAME=... TAGS=...``).

    The name reads as what the job did: ``probe sample/expression tiny``; the tags say which
    experiment (from :func:`start_pipeline`), data set, task, encoder and model size it was.
    """
    where = "/".join(part for part in (dataset, task) if part)
    name = " ".join(part for part in (rule, where, encoder) if part)
    size = model.get("name") if isinstance(model, Mapping) else model
    tags = [
        f"{key}:{value}"
        for key, value in (
            ("dataset", dataset),
            ("task", task),
            ("encoder", encoder),
            ("size", size),
        )
        if value
    ]
    values = {NAME_ENV: name, JOB_TAGS_ENV: ",".join(clean_tags(tags))}
    return "env " + " ".join(f"{key}={shlex.quote(value)}" for key, value in values.items())


def job_name(environ: Mapping[str, str] | None = None) -> str | None:
    """The run name the workflow gave this job, if any."""
    environ = os.environ if environ is None else environ
    return environ.get(NAME_ENV) or None


def clean_tags(tags: Iterable[Any]) -> list[str]:
    """Tags as W&B takes them: strings of at most 64 characters, no blanks, each once."""
    cleaned = [str(t).replace(",", " ")[:64] for t in tags if t not in (None, "")]
    return list(dict.fromkeys(cleaned))


def pipeline_tags(environ: Mapping[str, str] | None = None) -> list[str]:
    """The tags :func:`start_pipeline` gave every run of the invocation and the job's own
    (:func:`job_tracking`); none for a step run by hand."""
    environ = os.environ if environ is None else environ
    tags = environ.get(TAGS_ENV, "").split(",") + environ.get(JOB_TAGS_ENV, "").split(",")
    return clean_tags(tags)


def has_wandb_credentials(environ: Mapping[str, str] | None = None) -> bool:
    """True when W&B would find an API key (environment or ``wandb login``'s netrc entry)."""
    environ = os.environ if environ is None else environ
    if environ.get("WANDB_API_KEY") or environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = urlparse(environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    path = environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    try:
        return netrc.netrc(path).authenticators(host or "") is not None
    except (OSError, netrc.NetrcParseError):
        return False


def resolve_mode(configured: str, environ: Mapping[str, str] | None = None) -> str:
    """The W&B mode a run uses: ``offline``, ``online`` or ``disabled``."""
    environ = os.environ if environ is None else environ
    forced = environ.get("WANDB_MODE", "").strip().lower()
    if forced:
        return WANDB_MODE_ALIASES.get(forced, forced)
    if configured != "auto":
        return configured
    return "online" if has_wandb_credentials(environ) else "offline"


def is_rank_zero(environ: Mapping[str, str] | None = None) -> bool:
    """False in the other processes of a distributed run, as launchers (torchrun, Lightning,
    SLURM) number them."""
    environ = os.environ if environ is None else environ
    return all(
        environ.get(n, "0") in ("", "0")
        for n in ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID")
    )
