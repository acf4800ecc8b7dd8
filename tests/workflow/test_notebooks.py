"""The notebooks run from top to bottom against a real sample run's outputs.

They run in the small sample project the workflow tests share (``sample_project``), in a kernel
of this Python, the one the package is installed in.
"""

from __future__ import annotations

import json
import sys

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

NOTEBOOKS = ("01_faces_and_masks", "02_reconstructions", "03_feature_space")
KERNEL = "marlinflow-test"


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory) -> KernelSpecManager:
    """A kernel spec that starts this Python (whatever the user's default ``python3`` is)."""
    folder = tmp_path_factory.mktemp("kernels") / KERNEL
    folder.mkdir()
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "marlinflow tests",
        "language": "python",
    }
    (folder / "kernel.json").write_text(json.dumps(spec))
    return KernelSpecManager(kernel_dirs=[str(folder.parent)])


def test_notebooks_are_stored_without_outputs(repo_root):
    for name in NOTEBOOKS:
        notebook = nbformat.read(repo_root / "notebooks" / f"{name}.ipynb", as_version=4)
        nbformat.validate(notebook)
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        assert code and all(not cell.outputs and cell.execution_count is None for cell in code)
        assert 'PLAN = Path("results/experiments/sample/plan.json")' in code[0].source


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name, repo_root, sample_project, kernel_specs):
    notebook = nbformat.read(repo_root / "notebooks" / f"{name}.ipynb", as_version=4)
    manager = KernelManager(kernel_name=KERNEL, kernel_spec_manager=kernel_specs)
    client = NotebookClient(
        notebook, km=manager, timeout=300, resources={"metadata": {"path": str(sample_project)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on failure
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, f"{name} showed no figure"
