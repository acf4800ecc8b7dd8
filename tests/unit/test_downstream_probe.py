"""The linear probe on cached (n_windows, D) features: learning, chance, skipping, the verb."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd

from marlinflow.cli import main
from marlinflow.downstream.finetune import FinetuneSettings
from marlinflow.downstream.probe import ProbeConfig, ProbeSettings, load_features, run_probe
from marlinflow.downstream.tasks import Task
from marlinflow.downstream.training import TrainConfig
from marlinflow.downstream.usable import UsableClips

WIDTH = 24
SPLITS = ["train", "train", "train", "val", "test"]


def write_features(folder, n: int, seed: int = 0, signal: float = 1.5) -> pd.DataFrame:
    """Videos of 1-4 windows whose first 3 feature dims shift with their 3 binary labels."""
    rng = np.random.default_rng(seed)
    folder.mkdir(exist_ok=True)
    rows = []
    for i in range(n):
        labels = rng.integers(0, 2, 3)
        windows = rng.normal(size=(int(rng.integers(1, 5)), WIDTH)).astype(np.float32)
        windows[:, :3] += signal * (2 * labels - 1)
        np.save(folder / f"v{i:03d}.npy", windows)
        rows.append(
            {"id": f"v{i:03d}", "split": SPLITS[i % 5], **dict(zip("abc", labels, strict=True))}
        )
    return pd.DataFrame(rows)


def quick(seed: int = 0, **changes) -> ProbeConfig:
    settings = ProbeSettings(lr=1e-2, max_epochs=60, early_stop=15, bootstrap=100)
    return dataclasses.replace(
        ProbeConfig.from_settings(settings, seed, "mean", "marlin"), **changes
    )


def test_probe_learns_a_separable_multilabel_problem(tmp_path):
    table = write_features(tmp_path / "f", 250)
    result = run_probe(Task("syn", "multilabel", list("abc"), table), tmp_path / "f", quick())
    assert result.metrics["auc_micro"]["value"] > 0.95
    assert result.metrics["acc_micro"]["value"] > 0.85
    assert result.counts == {"n_train": 150, "n_val": 50, "n_test": 50}
    assert set(result.predictions["split"]) == {"val", "test"}


def test_probe_on_shuffled_labels_is_at_chance(tmp_path):
    table = write_features(tmp_path / "f", 500)
    shuffled = table.copy()
    shuffled[list("abc")] = table[list("abc")].sample(frac=1, random_state=0).to_numpy()
    result = run_probe(Task("syn", "multilabel", list("abc"), shuffled), tmp_path / "f", quick())
    assert 0.35 < result.metrics["auc_micro"]["value"] < 0.65


def test_multiclass_and_regression_probes(tmp_path):
    table = write_features(tmp_path / "f", 200)
    classes = table.assign(label=np.where(table["a"] == 1, "up", "down"))
    task = Task("mc", "multiclass", ["down", "up"], classes[["id", "split", "label"]])
    assert run_probe(task, tmp_path / "f", quick()).metrics["war"]["value"] > 0.8
    values = table.assign(label=table["a"] * 2.0 - 1.0)[["id", "split", "label"]]
    result = run_probe(Task("r", "regression", [], values), tmp_path / "f", quick())
    assert result.metrics["corr"]["value"] > 0.8


def test_unusable_videos_are_dropped_with_reasons(tmp_path):
    folder = tmp_path / "f"
    table = write_features(folder, 12)
    np.save(folder / "v000.npy", np.zeros((0, WIDTH), np.float32))  # zero windows
    np.save(folder / "v001.npy", np.full((2, WIDTH), np.nan, np.float32))
    np.save(folder / "v002.npy", np.zeros((2, WIDTH + 1), np.float32))
    (folder / "v003.npy").unlink()
    # the workflow's list of usable face clips: v005 lost its face in preprocessing
    listing = tmp_path / "usable_faces.txt"
    listing.write_text("".join(f"faces/{i}.mp4\n" for i in table["id"].drop(5)))
    usable = UsableClips.read(listing)
    ids, features, skipped = load_features(folder, table["id"].tolist(), usable)
    reasons = {item["id"]: item["reason"] for item in skipped}
    assert features.shape == (7, WIDTH) and "v000" not in ids
    assert "no windows" in reasons["v000"] and "NaN" in reasons["v001"]
    assert "width 25" in reasons["v002"] and "no features file" in reasons["v003"]
    assert "v005: not usable after preprocessing" in reasons["v005"]


def test_same_seed_same_result_other_seed_differs(tmp_path):
    table = write_features(tmp_path / "f", 100, signal=0.5)
    task = Task("syn", "multilabel", list("abc"), table)
    first = run_probe(task, tmp_path / "f", quick(seed=1)).predictions
    assert first.equals(run_probe(task, tmp_path / "f", quick(seed=1)).predictions)
    assert not first.equals(run_probe(task, tmp_path / "f", quick(seed=2)).predictions)


def test_probe_verb_writes_metrics_and_predictions(tmp_path, capsys):
    table = write_features(tmp_path / "f", 100)
    np.save(tmp_path / "f" / "v004.npy", np.zeros((0, WIDTH), np.float32))
    Task("syn", "multilabel", list("abc"), table).save(tmp_path / "syn.tsv")
    argv = [
        "probe",
        str(tmp_path / "f"),
        str(tmp_path / "syn.tsv"),
        "--out",
        str(tmp_path / "out"),
        "--seeds",
        "0",
        "1",
        "--lr",
        "0.01",
        "--max-epochs",
        "30",
        "--bootstrap",
        "50",
        "--k-per-class",
        "10",
    ]
    assert main(argv) == 0
    lines = capsys.readouterr().err.splitlines()
    for seed in (0, 1):  # each training's progress: its start, and its end after <= 30 epochs
        progress = [line for line in lines if line.startswith(f"probe syn (seed {seed}):")]
        assert "0/30 [" in progress[0] and "loss=" in progress[-1] and "val=" in progress[-1]
    document = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert document["protocol"] == "linear_probe" and document["seeds"] == [0, 1]
    assert set(document["summary"]["auc_micro"]) == {"mean", "std", "n"}
    run = document["runs"][0]
    assert run["metrics"]["auc_micro"]["low"] <= run["metrics"]["auc_micro"]["value"]
    assert run["counts"]["n_train"] <= 30
    assert set(run["per_output"]) == {"a", "b", "c"}
    assert run["skipped"][0]["id"] == "v004" and "no windows" in run["skipped"][0]["reason"]
    predictions = pd.read_csv(tmp_path / "out" / "predictions.csv")
    assert set(predictions["seed"]) == {0, 1} and "score_a" in predictions
    tracked = json.loads((tmp_path / "out" / "run.json").read_text())  # the step's own record
    assert tracked["job_type"] == "probe" and tracked["status"] == "finished"
    assert tracked["config"]["seeds"] == [0, 1] and "test/auc_micro/mean" in tracked["summary"]
    steps = [
        json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()
    ]
    assert [row["step"] for row in steps] == [0, 1]
    assert tracked["tables"] == ["per_class"]  # per attribute and seed, as a W&B table too
    per_class = pd.read_csv(tmp_path / "out" / "per_class.tsv", sep="\t")
    assert len(per_class) == 2 * 3 and {"seed", "class", "auc", "f1"} <= set(per_class)
    assert per_class.loc[0, "auc"] == run["per_output"][per_class.loc[0, "class"]]["auc"]


def test_probe_verb_reports_a_bad_task_file(tmp_path, capsys):
    assert main(["probe", str(tmp_path), str(tmp_path / "none.tsv"), "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error == f"marlinflow probe: error: {tmp_path / 'none.tsv'}: task table not found\n"


def test_defaults_are_the_official_settings():
    official = TrainConfig.from_settings(ProbeSettings(), seed=0)
    assert (official.lr, official.betas, official.weight_decay) == (1e-4, (0.5, 0.9), 0.0)
    assert (official.plateau_factor, official.plateau_patience, official.min_lr) == (0.5, 7, 1e-8)
    assert (official.stop_lr, official.batch_size, official.early_stop) == (1e-6, 32, None)
    assert ProbeSettings().max_epochs == FinetuneSettings().max_epochs == 2000


def test_training_stops_once_the_learning_rate_reaches_the_floor(tmp_path):
    table = write_features(tmp_path / "f", 50)
    task = Task("syn", "multilabel", list("abc"), table)
    quick = ProbeSettings(max_epochs=50, bootstrap=10)
    floor = ProbeConfig.from_settings(quick, 0, "mean", "marlin", stop_lr=1e-4)
    assert run_probe(task, tmp_path / "f", floor).epochs == 1
    patient = ProbeConfig.from_settings(quick.replace(early_stop=3), 0, "mean", "marlin")
    result = run_probe(task, tmp_path / "f", patient)
    assert result.epochs <= 50 and result.epochs - 1 - result.best_epoch <= 3
