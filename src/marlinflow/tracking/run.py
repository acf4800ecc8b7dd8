"""A step's tracked run: our own record (``run.json``, ``metrics.jsonl``, tables) always, and a
W&B run beside it when tracking is on; credentials never written."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from marlinflow.atomic import atomic_path, write_json
from marlinflow.tracking.settings import (
    TrackingSettings,
    clean_tags,
    is_rank_zero,
    job_name,
    new_group_id,
    pipeline_tags,
    resolve_mode,
)

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
METRICS_FILE = "metrics.jsonl"
REDACTED = "<redacted>"
# Config keys whose values are credentials whatever they hold.
SECRET_KEY = re.compile(r"api_?key|token|password|secret", re.IGNORECASE)


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


def _read_lines(path: Path) -> list[tuple[str, int]]:
    """The lines of a metrics.jsonl with their steps (unreadable lines left out)."""
    lines = []
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            try:
                lines.append((line, int(json.loads(line)["step"])))
            except (ValueError, KeyError, TypeError):
                continue
    return lines


class TrackedRun:
    """One step's run: our files always, the W&B run (``wandb_run``) when tracking is on."""

    def __init__(
        self,
        out_dir: str | Path | None,
        header: dict[str, Any],
        wandb_run: Any = None,
        resume: bool = False,
    ):
        self.out_dir = Path(out_dir) if out_dir is not None else None  # None: write no files
        self.header = header
        self.group: str = header["group"]
        self.job_type: str = header["job_type"]
        self.mode: str = header["mode"]  # the mode W&B runs in (disabled if it could not start)
        self.wandb_run = wandb_run
        self.summary: dict[str, Any] = {}
        self.logged_keys: list[str] = []
        self.tables: list[str] = []  # names of the tables logged, each in <out_dir>/<name>.tsv
        self._next_step = 0
        self._started = time.time()
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        target = os.devnull if self.out_dir is None else self.out_dir / METRICS_FILE
        # A resumed run continues the earlier lines, from its first step on (see _continue).
        self._earlier = _read_lines(target) if resume and self.out_dir is not None else None
        if not self._earlier:
            self._metrics = open(target, "w")  # noqa: SIM115 (closed in finish)

    def _continue(self, step: int) -> None:
        """Keep the earlier start's lines of the steps before ``step`` (later ones are logged
        again; a line cut short by a kill is dropped), then append."""
        path = self.out_dir / METRICS_FILE
        kept = [line for line, logged in self._earlier if logged < step]
        with atomic_path(path) as tmp:
            tmp.write_text("".join(line + "\n" for line in kept))
        self._earlier = None
        self._metrics = open(path, "a")  # noqa: SIM115 (closed in finish)

    def _step(self, step: int | None, keys: Iterable[str]) -> int:
        """The step of a log call (default: one after the last), noting the keys logged."""
        step = self._next_step if step is None else int(step)
        self._next_step = step + 1
        self.logged_keys += [k for k in keys if k not in self.logged_keys]
        return step

    def log(self, values: Mapping[str, Any], step: int | None = None) -> None:
        """Record values at ``step`` (default: one after the last); a line is flushed per call."""
        step = self._step(step, values)
        if self._earlier:
            self._continue(step)
        self._metrics.write(json.dumps({"step": step, **plain(dict(values))}) + "\n")
        self._metrics.flush()  # a killed run keeps what it logged
        if self.wandb_run is not None:
            self.wandb_run.log(dict(values), step=step)

    def log_table(self, name: str, table: pd.DataFrame, step: int | None = None) -> None:
        """Record a table (one row per item): ``<out_dir>/<name>.tsv``, and a W&B Table when on."""
        step = self._step(step, [name])
        self.tables += [name] if name not in self.tables else []
        if self.out_dir is not None:
            with atomic_path(self.out_dir / f"{name}.tsv") as tmp:
                table.to_csv(tmp, sep="\t", index=False)
        if self.wandb_run is not None:
            import wandb

            shown = table.head(wandb.Table.MAX_ROWS)  # W&B would cut a longer table itself
            if len(shown) < len(table):
                log.warning(
                    "W&B gets the first %d of the %d rows of %s (%s.tsv has all)",
                    len(shown),
                    len(table),
                    name,
                    name,
                )
            cells = shown.astype(object).where(shown.notna(), None)  # W&B's empty cell is None
            wandb_table = wandb.Table(dataframe=cells, allow_mixed_types=True)
            self.wandb_run.log({name: wandb_table}, step=step)

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
        record = {
            **self.header,
            "status": status,
            "seconds": round(time.time() - self._started, 3),
            "logged_keys": self.logged_keys,
            "tables": self.tables,
            "summary": self.summary,
            "wandb": wandb_info,
        }
        if self.out_dir is not None:
            write_json(self.out_dir / RUN_FILE, record)

    def finish(self, status: str) -> None:
        if not self._earlier:  # a resumed run that logged nothing leaves the earlier lines
            self._metrics.close()
        self.write_record(status)
        if self.wandb_run is not None:
            self.wandb_run.finish(exit_code=0 if status == "finished" else 1)


def _start_wandb(settings: TrackingSettings, mode: str, header: dict[str, Any]) -> Any:
    """A W&B run, or None when W&B cannot start (the step goes on with our record only).
    An online run that cannot reach the server falls back to offline (``wandb sync`` later)."""
    import wandb

    Path(settings.dir).mkdir(parents=True, exist_ok=True)
    kwargs = dict(
        project=settings.project,
        entity=settings.entity,
        group=header["group"],
        job_type=header["job_type"],
        name=header["name"],
        config=header["config"],
        tags=header["tags"],
        dir=settings.dir,
        settings=wandb.Settings(console="off"),
    )
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
    resume: bool = False,
) -> Iterator[TrackedRun]:
    """Record one run of a step (see the module's docstring); the record says ``failed`` if the
    block raises. A ``resume`` continues the earlier start's metrics.jsonl in ``out_dir``."""
    settings = settings or TrackingSettings.from_env()
    mode = resolve_mode(settings.mode)
    header = {
        "group": settings.group or new_group_id(job_type),
        "job_type": job_type,
        "name": job_name(),
        "config": redact(plain(dict(config or {})), os.environ.get("WANDB_API_KEY")),
        "tags": clean_tags([*pipeline_tags(), *tags]),
        "mode": mode,
        "project": settings.project,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if not is_rank_zero():  # another process of a distributed run: rank 0 records it
        header["mode"], out_dir = "disabled", None
    wandb_run = _start_wandb(settings, mode, header) if header["mode"] != "disabled" else None
    run = TrackedRun(out_dir, header, wandb_run, resume)
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
