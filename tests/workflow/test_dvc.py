"""DVC round trip of the sample experiment with a real local-folder remote: the finished run is
committed and pushed; a fresh clone pulls the same bytes and Snakemake has nothing to redo."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.workflow.conftest import BIN, SAMPLE_ARGS, SMALL_CONFIG, snakemake

pytestmark = pytest.mark.slow

DVC_FILES = ("dvc.yaml", ".dvcignore", ".gitignore")  # beside the workflow files
WORKFLOW = ("Snakefile", "workflow", "config", "environment.yml")
SAMPLE_CONFIG = "config/experiments/sample.yaml"
# The external encoder's weights file, an input of import_encoder. Versioned with `dvc add`, as
# released weights would be (hundreds of MB, not for git): the clone pulls it with the rest.
EXTERNAL = "external/official-tiny.pt"
DATASETS = ("sample_corpus", "sample")
EXP = "results/experiments/sample"


def dataset_outs(ds: str) -> set[str]:
    results = f"results/datasets/{ds}"
    return {
        f"data/sample/{ds}",
        f"data/manifests/{ds}.tsv",
        f"data/raw/{ds}",
        f"{results}/download_summary.tsv",
        f"data/interim/{ds}/faces",
        f"{results}/track_summary.tsv",
        f"data/interim/{ds}/parsing",
        f"{results}/parse_summary.tsv",
        f"{results}/contact_sheets",
    }


EXPERIMENT_OUTS = {
    f"{EXP}/encoders",
    f"{EXP}/plan.json",
    f"{EXP}/overlap.json",
    f"{EXP}/report",
    f"{EXP}/wandb_report.json",
    f"{EXP}/metrics.json",
}
EXPECTED_OUTS = (
    dataset_outs("sample_corpus")
    | dataset_outs("sample")
    | {"results/datasets/sample/tasks", "results/datasets/sample/usable_faces.txt"}
    | EXPERIMENT_OUTS
    | {f"{EXP}/features", f"{EXP}/downstream"}
    # lip sync on the sample: its audio stage, the videos it reads, the experts and generators
    | {"data/interim/sample/audio", "results/datasets/sample/audio_summary.tsv"}
    | {"results/datasets/sample/sync_videos.tsv", f"{EXP}/lipsync/sample"}
)
# W&B run records of the stage summaries: kept like logs, not versioned.
SIDE_RECORDS = tuple(f"results/datasets/{ds}/runs" for ds in DATASETS)


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: int = 120) -> str:
    """A command under `timeout -k`; fails the test with its output if it fails."""
    done = subprocess.run(
        ["timeout", "-k", "10", str(timeout), *command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"{command}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done.stdout + done.stderr


def tool_env(home: Path) -> dict[str, str]:
    """This environment's commands first; git identity and DVC state kept inside the test."""
    env = dict(
        os.environ,
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
        HOME=str(home),
        DVC_NO_ANALYTICS="1",
        DVC_SITE_CACHE_DIR=str(home / "dvc-site"),
        GIT_AUTHOR_NAME="test",
        GIT_AUTHOR_EMAIL="test@example.org",
        GIT_COMMITTER_NAME="test",
        GIT_COMMITTER_EMAIL="test@example.org",
    )
    env.pop("WANDB_SERVICE", None)  # stage commands start their own W&B service
    return env


def dvc_vars(
    config: str, overrides: str, datasets, tasks, experiments, suites, lipsync=()
) -> list[dict]:
    """dvc.yaml's vars: the named entries of each list, run with `config` and `overrides`
    (``lipsync``: (data set, experiment) pairs)."""
    entry = {"config": config, "overrides": overrides}
    return [
        {"datasets": {ds: {**entry, "sources": f"data/sample/{ds}"} for ds in datasets}},
        {"tasks": {ds: dict(entry) for ds in tasks}},
        {"lipsync": {ds: {"experiment": exp, **entry} for ds, exp in lipsync}},
        {"experiments": {name: dict(entry) for name in experiments}},
        {"suites": {name: dict(entry) for name in suites}},
    ]


def set_vars(project: Path, variables: list[dict]) -> None:
    spec = yaml.safe_load((project / "dvc.yaml").read_text())
    spec["vars"] = variables
    (project / "dvc.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))


def make_project(repo_root: Path, finished: Path, dest: Path, folders=("data", "results")) -> Path:
    """The finished project's workflow, small config, external encoder and data, with the DVC
    files and the sources the stages depend on."""
    dest.mkdir(parents=True)
    for name in (*WORKFLOW, "external", *folders):
        shutil.copytree(finished / name, dest / name) if (finished / name).is_dir() else (
            shutil.copy2(finished / name, dest / name)
        )
    for name in DVC_FILES:
        shutil.copy2(repo_root / name, dest / name)
    shutil.copytree(repo_root / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def digests(root: Path) -> dict[str, str]:
    """Every file the pipeline wrote (data/, results/) but its side records, and the external
    encoder's folder, by SHA-256."""
    files = [p for folder in ("data", "results", "external") for p in (root / folder).rglob("*")]
    side = [root / record for record in SIDE_RECORDS]
    kept = sorted(p for p in files if p.is_file() and not any(r in p.parents for r in side))
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in kept}


def locked_stages(project: Path) -> dict[str, dict]:
    return yaml.safe_load((project / "dvc.lock").read_text())["stages"]


def lock_outs(project: Path) -> set[str]:
    stages = locked_stages(project).values()
    return {out["path"] for stage in stages for out in stage.get("outs", [])}


def under(path: str, outs: set[str]) -> bool:
    return any(path == out or path.startswith(f"{out}/") for out in outs)


def canonical(value) -> str:
    """A JSON value as canonical text, in which a NaN (a speed a short run never measured)
    equals itself."""
    return json.dumps(value, sort_keys=True)


def metrics(project: Path, folder: str) -> dict[str, str]:
    """Every metrics.json under an experiment folder (one per pretrained encoder, or per
    downstream run), read and written again canonically."""
    found = sorted((project / EXP / folder).rglob("metrics.json"))
    return {str(p.relative_to(project)): canonical(json.loads(p.read_text())) for p in found}


def dvc_metrics(project: Path, env: dict[str, str]) -> dict:
    """`dvc metrics show --json`: the one metrics file of the experiment's report stage."""
    done = subprocess.run(
        [str(BIN / "dvc"), "metrics", "show", "--json"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    (workspace,) = shown.values()
    return workspace["data"][f"{EXP}/metrics.json"]["data"]


def results_table(project: Path) -> pd.DataFrame:
    return pd.read_csv(project / EXP / "report/results.tsv", sep="\t")


def assert_nothing_to_do(project: Path, *args: str) -> None:
    dry = snakemake(project, "-n", *args, timeout=120)
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr, (
        f"{args}: {dry.stdout[-3000:]}{dry.stderr[-3000:]}"
    )


def commit_and_push(project: Path, remote: Path, env: dict[str, str]) -> None:
    """Record the finished run in dvc.lock without running a stage, push the data, commit."""
    git, dvc = ["git"], [str(BIN / "dvc")]
    run([*git, "init", "-q"], project, env)
    run([*dvc, "init", "-q"], project, env)
    run([*dvc, "remote", "add", "-d", "store", str(remote)], project, env)
    run([*dvc, "add", "-q", EXTERNAL], project, env)
    run([*dvc, "commit", "--force"], project, env)
    run([*dvc, "push"], project, env)
    run([*git, "add", "-A"], project, env)
    run([*git, "commit", "-q", "-m", "sample results"], project, env)


def test_clean_clone_pulls_the_whole_experiment_and_has_nothing_to_redo(
    repo_root, sample_project, tmp_path
):
    env = tool_env(tmp_path)
    project = make_project(repo_root, sample_project, tmp_path / "project")
    sample = (SAMPLE_CONFIG, DATASETS, ["sample"], ["sample"], ["sample"], [("sample", "sample")])
    # the committed vars are the sample experiment's; the test's run is the small sample
    assert yaml.safe_load((project / "dvc.yaml").read_text())["vars"] == dvc_vars(
        sample[0], "", *sample[1:]
    )
    set_vars(project, dvc_vars(sample[0], SMALL_CONFIG, *sample[1:]))
    commit_and_push(project, tmp_path / "remote", env)
    assert lock_outs(project) == EXPECTED_OUTS  # every stage, each out a file the run made
    made = digests(project)
    written = [path for path in made if path.startswith(("data/", "results/"))]
    unversioned = [path for path in written if not under(path, EXPECTED_OUTS)]
    assert not unversioned  # all the run wrote is in some stage's outs
    tracked = run(["git", "ls-files", "data", "results", "external"], project, env).split()
    assert set(tracked) == {f"{EXTERNAL}.dvc", "external/.gitignore"}  # the data is DVC's

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(project), str(clone)], tmp_path, env)
    assert not (clone / "data").exists() and not (clone / "results").exists()
    assert not (clone / EXTERNAL).exists()
    run([str(BIN / "dvc"), "pull"], clone, env)
    run([str(BIN / "dvc"), "status", "--quiet"], clone, env)  # data match code and config
    touched = snakemake(clone, "--touch", "--forceall", "--cores", "1", *SAMPLE_ARGS)
    assert touched.returncode == 0, touched.stderr[-5000:]
    assert_nothing_to_do(clone, "--cores", "1", *SAMPLE_ARGS)  # the default target
    for name, stage in locked_stages(clone).items():  # each DVC stage's own command, too
        command = stage["cmd"].split()
        assert command[0] == "snakemake" and command[-2:] == [SAMPLE_CONFIG, SMALL_CONFIG], name
        assert_nothing_to_do(clone, *command[1:])

    assert digests(clone) == made  # every file of the run pulled, byte for byte
    assert_code_change_reruns_its_jobs(clone, env)
    # the numbers: of both pretrained encoders, and of tasks x protocols x encoders downstream
    for folder, at_least in (("encoders", 2), ("downstream", 3 * 2 * 4)):
        assert len(metrics(project, folder)) >= at_least, folder
        assert metrics(clone, folder) == metrics(project, folder), folder
    table = results_table(project)
    pd.testing.assert_frame_equal(results_table(clone), table)
    # DVC's own view of the numbers: the report stage's metrics file, the same in the clone
    shown = dvc_metrics(project, env)
    assert canonical(shown) == canonical(dvc_metrics(clone, env))
    downstream = shown["downstream"]["sample"]["expression"]["probe-k2"]["tiny"]
    assert set(downstream) == {"war", "uar"} and shown["pretrain"]["tiny"]["iterations"] > 0
    encoders = {"tiny", "videomae-tiny", "random-tiny", "official-tiny"}
    assert set(table["encoder"]) == encoders


def assert_code_change_reruns_its_jobs(clone: Path, env: dict[str, str]) -> None:
    """A change to the probe's module: DVC runs the stages whose deps hold the package's
    downstream folder (tasks, evaluation), and Snakemake, run by the evaluation stage, redoes the
    jobs whose results depend on that folder (task tables, probes, fine-tuning) and nothing
    else."""
    probe = clone / "src/marlinflow/downstream/probe.py"
    probe.write_text(probe.read_text() + "\n# changed\n")
    status = run([str(BIN / "dvc"), "status"], clone, env)
    assert "evaluation@sample" in status and "tasks@sample" in status
    assert "faces@sample" not in status and "encoders@sample" not in status
    command = locked_stages(clone)["evaluation@sample"]["cmd"].split()
    plan = run([*command, "-n"], clone, {**env, "PYTHONPATH": str(clone / "src")})
    planned = {
        line.split()[1].rstrip(":") for line in plan.splitlines() if line.startswith("rule ")
    }
    downstream = {"build_task", "probe", "finetune", "probe_low_label", "finetune_low_label"}
    assert {"probe", "finetune"} <= planned <= downstream
    assert "Params have changed" in plan


def test_a_pretraining_only_experiment_has_every_out_of_its_stages(
    repo_root, sample_project, tmp_path
):
    """An experiment without an evaluation suite is listed under experiments only, and its data
    sets under datasets only: it has no tasks or evaluation stages, and `dvc repro` of the stages
    it has makes every out (on the sample's prepared data sets, pretrained on in full)."""
    env = tool_env(tmp_path)
    project = make_project(repo_root, sample_project, tmp_path / "project", ("data",))
    shutil.copytree(sample_project / "results/datasets", project / "results/datasets")
    experiment = yaml.safe_load((project / SAMPLE_CONFIG).read_text())
    section = experiment["experiment"]
    section |= {
        "name": "pretraining",
        "suite": [],
        "encoders": {"tiny": {}},
        "corpus": [{"dataset": ds, "splits": ["train", "val", "test"]} for ds in DATASETS],
    }
    config = "config/experiments/pretraining.yaml"
    (project / config).write_text(yaml.safe_dump(experiment, sort_keys=False))
    # the small overrides without the shared run's evaluation suite
    small = yaml.safe_load((project / SMALL_CONFIG).read_text())
    small["experiment"].pop("suite", None)
    overrides = "config/small_pretraining.yaml"
    (project / overrides).write_text(yaml.safe_dump(small, sort_keys=False))
    set_vars(project, dvc_vars(config, overrides, DATASETS, [], ["pretraining"], []))

    run([str(BIN / "dvc"), "init", "-q", "--no-scm"], project, env)
    run([str(BIN / "dvc"), "repro"], project, env, timeout=1200)
    run([str(BIN / "dvc"), "status", "--quiet"], project, env)
    stages = locked_stages(project)
    assert not [name for name in stages if name.startswith(("tasks", "evaluation"))]
    assert {"encoders@pretraining", "report@pretraining", "sample"} <= set(stages)
    root = "results/experiments/pretraining"
    experiment_outs = {out.replace(EXP, root) for out in EXPERIMENT_OUTS}
    assert lock_outs(project) == dataset_outs("sample_corpus") | dataset_outs("sample") | (
        experiment_outs
    )
    assert all((project / out).exists() for out in lock_outs(project))
    assert not (project / root / "features").exists()
    assert not (project / root / "downstream").exists()
    assert (project / root / "encoders/tiny/encoder.pt").is_file()
