"""The per-video steps' library modules import without torch: a data set runs each step once
per video, in a fresh process, and importing torch costs about a second and 300 MB each time."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["marlinflow.face.track_step", "marlinflow.face.parsing_step"])
def test_step_imports_without_torch(module):
    code = (
        f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]", f"{module} imports torch"
