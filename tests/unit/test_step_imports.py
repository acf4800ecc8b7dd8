"""The per-video steps' library modules import without torch or scipy.signal: a data set runs
each step once per video, in a fresh process, and importing torch costs about a second and 300 MB
each time."""

import subprocess
import sys

import pytest

STEPS = [
    "marlinflow.face.track_step",
    "marlinflow.face.parsing_step",
    "marlinflow.commands.download",
    "marlinflow.audio.step",
]


@pytest.mark.parametrize("module", STEPS)
def test_step_imports_without_torch_or_scipy_signal(module):
    """scipy.signal alone takes 0.6 s to import."""
    heavy = "('torch', 'scipy.signal')"
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.startswith({heavy})))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]", f"{module} imports {result.stdout.strip()}"
