"""What every section of the local report gets: the experiment's plan and the page's folder."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from marlinflow.report.plan import DEFAULT_CONTACT_SHEETS, DEFAULT_MASK_VIDEOS, Plan


class Missing(Exception):
    """A section's inputs are not there; the message says which."""


class Absent(Exception):
    """The experiment declares nothing a section shows (no lip-sync evaluation): no section."""


@dataclass
class Inputs:
    plan: Plan
    out_dir: Path  # the report's folder; figures go to out_dir/figures

    @property
    def mask_videos(self) -> int:
        return self.plan.setting("mask_videos", DEFAULT_MASK_VIDEOS)

    @property
    def contact_sheets(self) -> int:
        return self.plan.setting("contact_sheets", DEFAULT_CONTACT_SHEETS)

    def figure(self, name: str) -> Path:
        return self.out_dir / "figures" / name

    def src(self, path: Path) -> str:
        return path.relative_to(self.out_dir).as_posix()


def copy_figure(source: Path, target: Path) -> Path:
    """A copy beside the page: the report folder is self-contained and can move as a whole."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target
