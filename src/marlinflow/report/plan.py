"""An experiment's plan (``results/experiments/<exp>/plan.json``): every input of its reports.

The report verbs read this one file and nothing else tells them where things are: they never
glob a results tree, so a report shows exactly what the experiment declares, and a file the plan
names that is not there yet (a partial run) becomes a note instead of silently vanishing.
Paths in the plan are relative to the folder the workflow runs in (``root``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marlinflow.errors import InputError

REQUIRED = ("experiment", "datasets", "encoders")
DEFAULT_CONTACT_SHEETS = 4
DEFAULT_MASK_VIDEOS = 3
# Shown above both reports of a plan with "sample": true.
SAMPLE_BANNER = (
    "Smoke test: these results come from the embedded sample, a handful of generated videos. "
    "They show that the pipeline runs end to end, not anything about MARLIN."
)


@dataclass
class Plan:
    document: dict[str, Any]
    root: Path  # where the workflow ran: every path in the plan starts there
    source: Path  # the plan file itself

    def path(self, relative: str | Path) -> Path:
        """A path of the plan on this machine (an absolute one stays as it is)."""
        path = Path(relative)
        return path if path.is_absolute() else self.root / path

    @property
    def name(self) -> str:
        return str(self.document["experiment"])

    @property
    def sample(self) -> bool:
        return bool(self.document.get("sample", False))

    @property
    def reference(self) -> str | None:
        return self.document.get("reference")

    @property
    def datasets(self) -> dict[str, dict[str, Any]]:
        return self.document["datasets"]

    @property
    def encoders(self) -> dict[str, dict[str, Any]]:
        return self.document["encoders"]

    @property
    def corpus(self) -> list[dict[str, Any]]:
        return list(self.document.get("corpus") or [])

    @property
    def features(self) -> list[dict[str, Any]]:
        return list(self.document.get("features") or [])

    @property
    def results(self) -> list[dict[str, Any]]:
        return list(self.document.get("results") or [])

    @property
    def lipsync(self) -> dict[str, dict[str, Any]]:
        """Lip-sync data set -> its expert and generator result files (plan ``lipsync``)."""
        return dict(self.document.get("lipsync") or {})

    def setting(self, key: str, default: int) -> int:
        """A report setting (``report.contact_sheets``, ``report.mask_videos``)."""
        return int((self.document.get("report") or {}).get(key, default))

    def evaluation_datasets(self) -> list[str]:
        return [name for name, d in self.datasets.items() if "evaluation" in d.get("roles", [])]

    def pretrained(self) -> dict[str, Path]:
        """Encoder name -> its pretraining run folder, for the encoders this experiment trains."""
        return {
            name: self.path(e["run_dir"])
            for name, e in self.encoders.items()
            if e.get("kind") == "pretrain" and e.get("run_dir")
        }

    def model_name(self, encoder: str | None) -> str:
        """The size name of an encoder's model ("" when unknown, e.g. an external file)."""
        model = (self.encoders.get(encoder or "") or {}).get("model")
        return model.get("name", "") if isinstance(model, dict) else str(model or "")

    def dataset_paths(self, dataset: str, key: str) -> list[Path]:
        """The paths a data set lists under ``key`` (parse_records, contact_sheets)."""
        return [self.path(p) for p in self.datasets[dataset].get(key) or []]

    def summaries(self, dataset: str) -> dict[str, Path]:
        """Stage -> summary path, in the plan's (pipeline) order."""
        return {s: self.path(p) for s, p in (self.datasets[dataset].get("summaries") or {}).items()}

    def task_path(self, dataset: str, task: str) -> Path | None:
        tasks = (self.datasets.get(dataset) or {}).get("tasks") or {}
        return self.path(tasks[task]) if task in tasks else None


def load_plan(path: str | Path, root: str | Path = ".") -> Plan:
    """Read a plan; InputError when it is missing, not JSON, or lacks the keys every report needs."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "experiment plan not found")
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise InputError(path, f"not a readable experiment plan ({err})") from err
    if not isinstance(document, dict):
        raise InputError(path, "an experiment plan is a JSON object")
    missing = [key for key in REQUIRED if key not in document]
    if missing:
        raise InputError(path, f"experiment plan lacks key(s) {missing}")
    return Plan(document, Path(root), path)
