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
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import netrc
import os
import re
import secrets
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from marlinflow.atomic import write_json
from marlinflow.errors import InputError

log = logging.getLogger(__name__)

MODES = ("auto", "offline", "online", "disabled")
ENV_PREFIX = "MARLINFLOW_TRACKING_"
RUN_FILE = "run.json"
METRICS_FILE = "metrics.jsonl"
REDACTED = "<redacted>"
# Config keys whose values are credentials whatever they hold.
SECRET_KEY = re.compile(r"api_?key|token|password|secret", re.IGNORECASE)
# W&B's spellings of the modes, as WANDB_MODE accepts them.
WANDB_MODE_ALIASES = {"dryrun": "offline", "run": "online"}


@dataclasses.dataclass(frozen=True)
class TrackingSettings:
    """The config's ``tracking`` section (documented in the workflow's config schema)."""

    mode: str = "auto"
    dir: str = "logs/wandb"  # W&B writes its run folders under <dir>/wandb/
    project: str = "marlinflow"
    entity: str | None = None
    group: str | None = None  # None: one new group per pipeline invocation

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"tracking mode {self.mode!r} is not one of {MODES}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None, source: str = "<config>"):
        names = {f.name for f in dataclasses.fields(cls)}
        values = dict(values or {})
        unknown = sorted(set(values) - names)
        if unknown:
            raise InputError(source, f"unknown tracking settings {unknown}; known: {sorted(names)}")
        try:
            return cls(**values)
        except ValueError as err:
            raise InputError(source, str(err)) from None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TrackingSettings:
        """The settings a job inherited from :func:`start_pipeline` (defaults where unset)."""
        environ = os.environ if environ is None else environ
        values = {}
        for field in dataclasses.fields(cls):
            value = environ.get(ENV_PREFIX + field.name.upper())
            if value:
                values[field.name] = value
        return cls.from_mapping(values, source="environment")

    def to_env(self) -> dict[str, str]:
        values = dataclasses.asdict(self)
        return {ENV_PREFIX + k.upper(): str(v) for k, v in values.items() if v is not None}


def new_group_id(prefix: str = "run") -> str:
    """``<prefix>-20261128-114237-3fa2``: sortable by start time, unique across machines."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{prefix}-{stamp}-{secrets.token_hex(2)}"


def start_pipeline(tracking: Mapping[str, Any] | None, name: str) -> TrackingSettings:
    """Called once per workflow invocation: fix the group and export the settings to the jobs.

    A group already in the environment is kept: a cluster job re-reads the workflow with its
    submitter's environment, and must stay in its submitter's group.
    """
    settings = TrackingSettings.from_mapping(tracking, source="config: tracking")
    group = settings.group or os.environ.get(ENV_PREFIX + "GROUP") or new_group_id(name)
    settings = dataclasses.replace(settings, group=group)
    os.environ.update(settings.to_env())
    return settings


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


def plain(value: Any) -> Any:
    """A JSON-writable copy: numbers from numpy/torch scalars, containers walked, the rest as
    its type name (an image logged to W&B is recorded as ``<Image>``)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # JSON has no NaN/inf
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):  # numpy/torch scalar
        return plain(value.item())
    return f"<{type(value).__name__}>"


def redact(value: Any, secret: str | None, key: str = "") -> Any:
    """Replace credentials in a config: values under secret-looking keys, and the API key."""
    if isinstance(value, Mapping):
        return {k: redact(v, secret, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, secret, key) for v in value]
    if SECRET_KEY.search(key) and value not in (None, ""):
        return REDACTED
    if secret and isinstance(value, str) and secret in value:
        return value.replace(secret, REDACTED)
    return value


class TrackedRun:
    """One step's run: our files always, the W&B run (``wandb_run``) when tracking is on."""

    def __init__(self, out_dir: str | Path | None, header: dict[str, Any], wandb_run: Any = None):
        self.out_dir = Path(out_dir) if out_dir is not None else None  # None: write no files
        self.header = header
        self.group: str = header["group"]
        self.job_type: str = header["job_type"]
        self.mode: str = header["mode"]  # the mode W&B runs in (disabled if it could not start)
        self.wandb_run = wandb_run
        self.summary: dict[str, Any] = {}
        self.logged_keys: list[str] = []
        self._next_step = 0
        self._started = time.time()
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        target = os.devnull if self.out_dir is None else self.out_dir / METRICS_FILE
        self._metrics = open(target, "w")  # noqa: SIM115 (closed in finish)

    def log(self, values: Mapping[str, Any], step: int | None = None) -> None:
        """Record values at ``step`` (default: one after the last); a line is flushed per call."""
        step = self._next_step if step is None else int(step)
        self._next_step = step + 1
        self.logged_keys += [k for k in values if k not in self.logged_keys]
        self._metrics.write(json.dumps({"step": step, **plain(dict(values))}) + "\n")
        self._metrics.flush()  # a killed run keeps what it logged
        if self.wandb_run is not None:
            self.wandb_run.log(dict(values), step=step)

    def summarize(self, values: Mapping[str, Any]) -> None:
        """Final values of the run (W&B's run summary; ``summary`` in run.json)."""
        self.summary.update(plain(dict(values)))
        if self.wandb_run is not None:
            self.wandb_run.summary.update(dict(values))

    def update_config(self, values: Mapping[str, Any]) -> None:
        """Add parameters known only once the step runs (a model's hyperparameters)."""
        values = redact(plain(dict(values)), os.environ.get("WANDB_API_KEY"))
        self.header["config"].update(values)
        if self.wandb_run is not None:
            self.wandb_run.config.update(values, allow_val_change=True)

    def write_record(self, status: str) -> None:
        wandb_info = None
        if self.wandb_run is not None:
            wandb_info = {"id": self.wandb_run.id, "dir": str(Path(self.wandb_run.dir).parent)}
        record = {**self.header, "status": status, "seconds": round(time.time() - self._started, 3),
                  "logged_keys": self.logged_keys, "summary": self.summary, "wandb": wandb_info}  # fmt: skip
        if self.out_dir is not None:
            write_json(self.out_dir / RUN_FILE, record)

    def finish(self, status: str) -> None:
        self._metrics.close()
        self.write_record(status)
        if self.wandb_run is not None:
            self.wandb_run.finish(exit_code=0 if status == "finished" else 1)


def _start_wandb(settings: TrackingSettings, mode: str, header: dict[str, Any]) -> Any:
    """A W&B run, or None when W&B cannot start (the step goes on with our record only).
    An online run that cannot reach the server falls back to offline (``wandb sync`` later)."""
    import wandb

    Path(settings.dir).mkdir(parents=True, exist_ok=True)
    kwargs = dict(project=settings.project, entity=settings.entity, group=header["group"],
                  job_type=header["job_type"], config=header["config"], tags=header["tags"],
                  dir=settings.dir, settings=wandb.Settings(console="off"))  # fmt: skip
    for attempt in ("online", "offline") if mode == "online" else (mode,):
        try:
            run = wandb.init(mode=attempt, **kwargs)
            header["mode"] = attempt
            return run
        except Exception as err:  # W&B's errors share no base class; a step must not die of them
            reason = redact(str(err), os.environ.get("WANDB_API_KEY"))
            log.warning("W&B could not start in %s mode (%s)", attempt, reason)
    header["mode"] = "disabled"
    return None


@contextlib.contextmanager
def track_run(
    job_type: str,
    config: Mapping[str, Any] | None = None,
    tags: list[str] | tuple[str, ...] = (),
    out_dir: str | Path = ".",
    settings: TrackingSettings | None = None,
) -> Iterator[TrackedRun]:
    """Record one run of a step (see the module's docstring); the record says ``failed`` if the
    block raises."""
    settings = settings or TrackingSettings.from_env()
    mode = resolve_mode(settings.mode)
    header = {
        "group": settings.group or new_group_id(job_type),
        "job_type": job_type,
        "config": redact(plain(dict(config or {})), os.environ.get("WANDB_API_KEY")),
        "tags": [str(t)[:64] for t in tags if t not in (None, "")],  # W&B's tag length limit
        "mode": mode,
        "project": settings.project,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if not is_rank_zero():  # another process of a distributed run: rank 0 records it
        header["mode"], out_dir = "disabled", None
    wandb_run = _start_wandb(settings, mode, header) if header["mode"] != "disabled" else None
    run = TrackedRun(out_dir, header, wandb_run)
    run.write_record("running")
    status = "failed"
    try:
        yield run
        status = "finished"
    finally:
        run.finish(status)


def lightning_logger(run: TrackedRun) -> Any:
    """A Lightning logger that records through ``run``: what the trainer logs lands in
    metrics.jsonl and, when on, the W&B run (one run per step, on rank 0 only)."""
    from pytorch_lightning.loggers.logger import Logger
    from pytorch_lightning.utilities import rank_zero_only

    class RunLogger(Logger):
        name = property(lambda self: run.job_type)
        version = property(lambda self: run.group)

        @rank_zero_only
        def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
            run.log(metrics, step=step)

        @rank_zero_only
        def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
            run.update_config(params if isinstance(params, Mapping) else vars(params))

    return RunLogger()
