"""Task tables: saving and loading, validation, deterministic low-label subsets."""

from __future__ import annotations

import pandas as pd
import pytest

from marlinflow.downstream.splits import carve_val, hash_splits, low_label
from marlinflow.downstream.tasks import Task, load_task
from marlinflow.errors import InputError


def emotion_task(n: int = 60) -> Task:
    classes = ["happy", "sad", "neutral"]
    rows = [
        {"id": f"v{i:03d}", "split": "train" if i < 45 else "test", "label": classes[i % 3]}
        for i in range(n)
    ]
    return Task("emo", "multiclass", classes, pd.DataFrame(rows))


def test_targets_per_kind():
    task = emotion_task()
    assert task.targets()[:4].tolist() == [0, 1, 2, 0]
    assert task.n_outputs == 3
    binary = Task("b", "binary", [], pd.DataFrame({"id": ["a"], "split": ["test"], "label": [1]}))
    assert binary.n_outputs == 1 and binary.targets().tolist() == [1.0]


def test_save_load_round_trip_keeps_spec_and_exclusions(tmp_path):
    task = emotion_task()
    task.excluded = [{"id": "v999", "reason": "no face"}]
    loaded = load_task(task.save(tmp_path / "emo.tsv"))
    assert loaded.kind == "multiclass" and loaded.classes == task.classes
    assert loaded.table.equals(task.table)
    assert loaded.excluded == task.excluded


def test_load_names_bad_rows_and_missing_spec(tmp_path):
    path = emotion_task().save(tmp_path / "emo.tsv")
    text = path.read_text().replace("v002\ttrain\tneutral", "v002\ttrian\tangry")
    path.write_text(text)
    with pytest.raises(InputError, match=r"(?s)row 4 \(id='v002'\).*split 'trian'.*'angry'"):
        load_task(path)
    path.with_suffix(".json").unlink()
    with pytest.raises(InputError, match="spec"):
        load_task(path)


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind"):
        Task("x", "ranking", [], pd.DataFrame({"id": [], "split": []}))


def test_hash_splits_are_seeded_and_roughly_proportional():
    keys = [f"clip{i}" for i in range(2000)]
    splits = hash_splits(keys, seed=1)
    assert splits == hash_splits(keys, seed=1) and splits != hash_splits(keys, seed=2)
    assert 150 < splits.count("test") < 250 and 150 < splits.count("val") < 250


def test_carve_val_moves_only_train_rows():
    table = carve_val(emotion_task().table, 0.3, seed=0)
    assert (table["split"] == "test").sum() == 15
    assert 5 < (table["split"] == "val").sum() < 25


def test_low_label_k_per_class_and_fraction_are_seeded():
    task = emotion_task()
    few = low_label(task, k=2, seed=3)
    train = few.split("train")
    assert train["label"].value_counts().to_dict() == {"happy": 2, "sad": 2, "neutral": 2}
    assert len(few.split("test")) == 15  # evaluation rows untouched
    assert few.table.equals(low_label(task, k=2, seed=3).table)
    assert not few.table.equals(low_label(task, k=2, seed=4).table)
    assert len(low_label(task, fraction=0.2, seed=0).split("train")) == 9


def test_low_label_multilabel_takes_k_positives_per_attribute():
    rows = [
        {"id": f"v{i}", "split": "train", "a": int(i % 2 == 0), "b": int(i % 5 == 0)}
        for i in range(40)
    ]
    task = Task("ml", "multilabel", ["a", "b"], pd.DataFrame(rows))
    train = low_label(task, k=3, seed=0).split("train")
    assert train["a"].sum() >= 3 and train["b"].sum() >= 3 and len(train) <= 6
    with pytest.raises(ValueError, match="not both"):
        low_label(task, fraction=0.5, k=2)
    assert low_label(task) is task  # no budget: every label


def test_table_without_ids_or_with_a_foreign_spec(tmp_path):
    path = emotion_task().save(tmp_path / "emo.tsv")
    path.write_text("name\tsplit\tlabel\nv1\ttrain\thappy\n")
    with pytest.raises(InputError, match=r"lacks column\(s\) \['id'\]"):
        load_task(path)
    path.with_suffix(".json").write_text("[1, 2]")
    with pytest.raises(InputError, match="not a JSON object"):
        load_task(path)
