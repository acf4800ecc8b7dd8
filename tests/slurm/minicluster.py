"""A real single-node SLURM cluster: munge, slurmctld and slurmd, all in a temp dir.

Debian's packages are installed when missing (as root, with apt-get); the daemons run in the
foreground as children of the test process. Everything (munge key and socket, slurm.conf, state,
spool, logs, ports) is private to the cluster, so it neither needs nor disturbs a system-wide
munge or SLURM; only /run/slurm/conf (where clients look when SLURM_CONF is unset) is borrowed.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
DAEMONS = ["/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd"]
PARTITION = "marlintest"
ROOT_PREFIX = "marlinflow-slurm-"
# Where SLURM clients look for the configuration when SLURM_CONF is unset (after /etc/slurm). The
# executor's job step drops SLURM_* variables before its `srun`, so the cluster must be found here.
CLIENT_CONF_DIR = Path("/run/slurm/conf")
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
# The node offers at least this many CPUs whatever the machine has (slurmd is told to trust the
# configuration), so a 2-task job step and the default 4 GB jobs fit on a small CI machine.
NODE_CPUS = 4
NODE_MEMORY_MB = 16000
# Simulated GPUs: enough for a one-GPU rule and for a two-rank training launch.
NODE_GPUS = 2


@dataclass
class Cluster:
    """What a test needs to know about the running cluster."""

    root: Path
    conf: Path
    node: str
    partition: str = PARTITION
    processes: list = field(default_factory=list)

    @property
    def ctld_log(self) -> Path:
        return self.root / "log" / "slurmctld.log"

    def env(self) -> dict:
        """The environment for SLURM clients: this cluster's slurm.conf."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def run(self, *command: str, timeout: float = 15) -> subprocess.CompletedProcess:
        """A SLURM client command, bounded in time (clients hang when no controller answers)."""
        return subprocess.run(
            ["timeout", "-k", "2", str(timeout), *command],
            env=self.env(),
            capture_output=True,
            text=True,
        )


def ensure_packages() -> None:
    """Install SLURM and munge when missing; skip (with the reason) where that cannot be done."""
    if all(Path(daemon).exists() for daemon in DAEMONS) and shutil.which("sbatch"):
        return
    if os.geteuid() != 0:
        pytest.skip("SLURM is not installed and installing it needs root")
    if not shutil.which("apt-get"):
        pytest.skip("SLURM is not installed and there is no apt-get to install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "-q", *PACKAGES]):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            pytest.skip(f"could not install SLURM ({' '.join(command)}): {result.stderr[-500:]}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_gpu_devices(root: Path) -> str:
    """Character devices (the null device's numbers; slurmd refuses regular files as GPUs),
    named gpu0, gpu1, ...: returns the gres.conf File= pattern."""
    for index in range(NODE_GPUS):
        os.mknod(root / f"gpu{index}", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return f"{root}/gpu[0-{NODE_GPUS - 1}]"


def slurm_conf(root: Path, node: str, cpus: int, gpu_files: str) -> str:
    """slurm.conf with one setting per line (several settings on one line fail to parse)."""
    settings = {
        "ClusterName": "marlinflow",
        "SlurmctldHost": node,
        "SlurmUser": "root",
        "SlurmdUser": "root",
        "SlurmctldPort": free_port(),
        "SlurmdPort": free_port(),
        "AuthType": "auth/munge",
        "CredType": "cred/munge",
        # cred_expire is also how long a requeued job waits before it may start again (120 s default).
        "AuthInfo": f"socket={root / 'munge.sock'},cred_expire=10",
        "ProctrackType": "proctrack/linuxproc",
        "TaskPlugin": "task/none",
        "JobAcctGatherType": "jobacct_gather/none",
        "AccountingStorageType": "accounting_storage/none",
        "SelectType": "select/cons_tres",
        "SelectTypeParameters": "CR_Core_Memory",
        # Look at pending jobs every 2 s (60 s by default): a requeued job starts again promptly.
        "SchedulerParameters": "sched_interval=2",
        "GresTypes": "gpu",
        "MpiDefault": "none",
        "SlurmdParameters": "config_overrides",
        "ReturnToService": 2,
        # squeue keeps finished jobs this long: the executor's squeue status checks rely on it,
        # and the tests read the first jobs' records after the whole workflow has run.
        "MinJobAge": 3600,
        "JobRequeue": 1,
        "StateSaveLocation": root / "state",
        "SlurmdSpoolDir": root / "spool",
        "SlurmctldPidFile": root / "slurmctld.pid",
        "SlurmdPidFile": root / "slurmd.pid",
        "SlurmctldLogFile": root / "log" / "slurmctld.log",
        "SlurmdLogFile": root / "log" / "slurmd.log",
        "SlurmctldDebug": "info",
    }
    lines = [f"{key}={value}" for key, value in settings.items()]
    lines.append(
        f"NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={NODE_MEMORY_MB}"
        f" Gres=gpu:{NODE_GPUS} State=UNKNOWN"
    )
    lines.append(f"PartitionName={PARTITION} Nodes={node} Default=YES MaxTime=INFINITE State=UP")
    (root / "gres.conf").write_text(f"AutoDetect=off\nNodeName={node} Name=gpu File={gpu_files}\n")
    return "\n".join(lines) + "\n"


def start(cluster: Cluster, name: str, *command: str) -> None:
    """A daemon in the foreground, as this process's child, logging to root/log/<name>.out."""
    out = open(cluster.root / "log" / f"{name}.out", "w")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(
        command, env=cluster.env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    cluster.processes.append((name, process, out))


def wait_until(check, what: str, cluster: Cluster, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    logs = "\n".join(p.read_text()[-1500:] for p in sorted((cluster.root / "log").glob("*")))
    raise RuntimeError(f"SLURM test cluster: {what} did not happen in {timeout} s\n{logs}")


def node_state(cluster: Cluster) -> str:
    return cluster.run("sinfo", "-h", "-N", "-o", "%T", timeout=5).stdout.strip()


def configure(root: Path) -> Cluster:
    node = socket.gethostname().split(".")[0]
    for folder in ("state", "spool", "log"):
        (root / folder).mkdir()
    gpu_files = make_gpu_devices(root)
    conf = root / "slurm.conf"
    conf.write_text(slurm_conf(root, node, max(os.cpu_count() or 1, NODE_CPUS), gpu_files))
    return Cluster(root=root, conf=conf, node=node)


def publish_conf(cluster: Cluster) -> None:
    """Make the cluster's configuration the one clients find without SLURM_CONF."""
    if SYSTEM_CONF.exists():
        pytest.skip(f"a SLURM configuration is installed ({SYSTEM_CONF}); not starting a second")
    if CLIENT_CONF_DIR.is_symlink() and CLIENT_CONF_DIR.readlink().name.startswith(ROOT_PREFIX):
        CLIENT_CONF_DIR.unlink()  # left behind by an earlier test session that was killed
    if CLIENT_CONF_DIR.exists():
        pytest.skip(f"a SLURM daemon already serves its configuration ({CLIENT_CONF_DIR})")
    CLIENT_CONF_DIR.parent.mkdir(parents=True, exist_ok=True)
    CLIENT_CONF_DIR.symlink_to(cluster.root, target_is_directory=True)


def unpublish_conf(cluster: Cluster) -> None:
    if CLIENT_CONF_DIR.is_symlink() and CLIENT_CONF_DIR.resolve() == cluster.root.resolve():
        CLIENT_CONF_DIR.unlink()


def start_daemons(cluster: Cluster) -> None:
    root, conf = cluster.root, cluster.conf
    key = root / "munge.key"
    subprocess.run(["mungekey", "--create", f"--keyfile={key}"], check=True, capture_output=True)
    munge_files = [f"--{name}-file={root / f'munged.{name}'}" for name in ("log", "pid", "seed")]
    start(
        cluster,
        "munged",
        "/usr/sbin/munged",
        "-F",
        "--force",
        f"--socket={root / 'munge.sock'}",
        f"--key-file={key}",
        *munge_files,
    )
    wait_until(lambda: (root / "munge.sock").exists(), "munged socket", cluster)
    start(cluster, "slurmctld", "/usr/sbin/slurmctld", "-D", "-i", "-f", str(conf))
    start(cluster, "slurmd", "/usr/sbin/slurmd", "-D", "-f", str(conf))
    wait_until(lambda: node_state(cluster) == "idle", "node idle", cluster)


def stop_cluster(cluster: Cluster) -> None:
    """Cancel what is left, then stop the daemons in reverse order (always; errors ignored)."""
    if not cluster.processes:
        return
    cluster.run("scancel", "--full", f"--partition={cluster.partition}", timeout=5)
    deadline = time.monotonic() + 15  # let the job steps end while slurmd still runs them
    while cluster.run("squeue", "-h", "-t", "RUNNING,COMPLETING", timeout=5).stdout.strip():
        if time.monotonic() > deadline:
            break
        time.sleep(0.3)
    for _name, process, out in reversed(cluster.processes):
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        out.close()
