"""The house style is part of the suite: ruff, snakefmt and Snakemake's linter."""

import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["snakefmt", "--check", "Snakefile", "workflow"],
    ],
    ids=["ruff-check", "ruff-format", "snakefmt"],
)
def test_style(repo_root, command):
    result = subprocess.run(
        [str(BIN / command[0]), *command[1:]], cwd=repo_root, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakemake_lint(repo_root):
    result = subprocess.run(
        [str(BIN / "snakemake"), "--lint"], cwd=repo_root, capture_output=True, text=True
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Lints for" not in output, output
