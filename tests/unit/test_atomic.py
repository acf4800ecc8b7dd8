"""Atomic writes: all or nothing, and files as readable as the umask allows."""

from __future__ import annotations

import os

import numpy as np
import pytest

from marlinflow.atomic import atomic_path, current_umask, write_json


@pytest.fixture
def umask():
    """Set a umask for one test, and restore the caller's."""
    saved = os.umask(0o022)

    def set_to(mask: int) -> None:
        os.umask(mask)

    yield set_to
    os.umask(saved)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_follow_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    assert current_umask() == mask
    write_json(tmp_path / "record.json", {"ok": True})
    with atomic_path(tmp_path / "features.npy") as tmp:
        np.save(tmp, np.zeros(3))  # a writer that opens the temporary file in place
    for name in ("record.json", "features.npy"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode, name


def test_a_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert not target.exists() and list(tmp_path.iterdir()) == []
