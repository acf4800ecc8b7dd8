"""Fixtures for the SLURM tests: a real single-node cluster for the session (see minicluster),
a copy of the workflow, a site profile, and Snakemake run with our profile and the site's.

The cluster fixture starts the daemons and always stops them; it skips, with the reason, only
where SLURM cannot be installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from .minicluster import (
    ROOT_PREFIX,
    configure,
    ensure_packages,
    publish_conf,
    start_daemons,
    stop_cluster,
    unpublish_conf,
)

BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def slurm_cluster():
    """A running single-node cluster (partition `marlintest`, 1 simulated GPU) for the session.

    SLURM_CONF points the clients (and Snakemake's executor, which calls them) at it meanwhile.
    """
    ensure_packages()
    if os.geteuid() != 0:
        pytest.skip("the test cluster's slurmd runs as root")
    root = Path(tempfile.mkdtemp(prefix=ROOT_PREFIX))
    previous_conf = os.environ.get("SLURM_CONF")
    cluster = None
    try:
        cluster = configure(root)
        publish_conf(cluster)
        start_daemons(cluster)
        os.environ["SLURM_CONF"] = str(cluster.conf)
        yield cluster
    finally:
        if cluster is not None:
            stop_cluster(cluster)
            unpublish_conf(cluster)
        if previous_conf is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous_conf
        shutil.rmtree(root, ignore_errors=True)


# What a user's checkout needs to run the workflow: the `slurm` link makes `--profile slurm` work.
WORKFLOW_PARTS = ["Snakefile", "workflow", "config", "environment.yml", "slurm"]


@pytest.fixture(scope="session")
def copy_workflow(repo_root):
    """Copy the workflow into a folder (a temp checkout) and return the folder."""

    def copy(dest: Path) -> Path:
        for part in WORKFLOW_PARTS:
            source = repo_root / part
            if source.is_symlink():
                (dest / part).symlink_to(source.readlink())
            elif source.is_dir():
                shutil.copytree(source, dest / part)
            else:
                shutil.copy2(source, dest / part)
        return dest

    return copy


def write_site_profile(folder: Path, partition: str) -> Path:
    """A user's own profile: site specifics only, layered after ours."""
    folder.mkdir(parents=True)
    (folder / "partitions.yaml").write_text(
        f"partitions:\n  {partition}:\n    max_runtime: 1440\n    max_gpu: 1\n"
    )
    (folder / "config.yaml").write_text(
        "slurm-partition-config: partitions.yaml\n"
        "slurm-no-account: true\n"
        # A test cluster answers at once; the first status check need not wait 40 s.
        "slurm-init-seconds-before-status-checks: 2\n"
    )
    return folder


@pytest.fixture(scope="session")
def make_site_profile():
    """write_site_profile(folder, partition), for tests that need no cluster."""
    return write_site_profile


@pytest.fixture(scope="session")
def site_profile(slurm_cluster, tmp_path_factory) -> Path:
    """The test site's profile (partition `marlintest`), as a user keeps it outside the repo."""
    return write_site_profile(tmp_path_factory.mktemp("site") / "mysite", slurm_cluster.partition)


@pytest.fixture(scope="session")
def run_snakemake(site_profile, repo_root):
    """Snakemake with our profile, then the site's, in a folder; bounded in time with a kill
    after it (the executor can ignore SIGTERM). The project's environment is first on PATH."""

    def run(workdir: Path, *args: str, timeout: int = 240) -> subprocess.CompletedProcess:
        ours = "slurm" if (workdir / "slurm").exists() else str(repo_root / "slurm")
        command = ["timeout", "-k", "10", str(timeout), str(BIN / "snakemake")]
        command += ["--profile", ours, "--profile", str(site_profile), *args]
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
        env.pop("WANDB_SERVICE", None)  # jobs start their own W&B service
        return subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)

    return run
