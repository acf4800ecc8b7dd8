"""The run folder's bookkeeping between starts of a pretraining run: which settings make another
run, and how the other processes of a distributed run wait for rank 0 to prepare the folder."""

from __future__ import annotations

import json
import threading
import time

import pytest

from marlinflow.errors import InputError
from marlinflow.pretrain.config import PretrainConfig
from marlinflow.pretrain.rundir import FINGERPRINT, fingerprint, prepare, same_run
from tests.synthetic import write_clip


def config(tmp_path, **changes) -> PretrainConfig:
    values = dict(
        model="tiny", index=[str(tmp_path / "data/parsing")], run_dir=str(tmp_path / "run")
    )
    return PretrainConfig(**{**values, **changes})


@pytest.fixture
def data(tmp_path):
    write_clip(tmp_path / "data", "a", n_frames=8)


def test_where_and_how_long_a_run_trains_do_not_make_another_run(tmp_path, data):
    base = fingerprint(config(tmp_path))
    same = config(tmp_path, epochs=3, workers=0, devices=2, run_dir=str(tmp_path / "elsewhere"))
    assert same_run(base, fingerprint(same))
    assert fingerprint(same)["extent"] != base["extent"]
    for other in (dict(mask_ratio=0.75), dict(seed=1), dict(model="small"), dict(batch_size=4)):
        assert not same_run(base, fingerprint(config(tmp_path, **other))), other


def test_a_changed_parse_record_makes_another_run(tmp_path, data):
    base = fingerprint(config(tmp_path))
    (record,) = (tmp_path / "data/parsing").glob("*.json")
    record.write_text(record.read_text().replace('"ok"', '"ok" '))
    assert not same_run(base, fingerprint(config(tmp_path)))


def test_other_ranks_wait_for_rank_zero(tmp_path, data):
    run = config(tmp_path)
    with pytest.raises(InputError, match="did not prepare the run folder"):
        prepare(run, rank_zero=False, wait_s=0.3)
    seen = []
    waiter = threading.Thread(target=lambda: seen.append(prepare(run, rank_zero=False, wait_s=20)))
    waiter.start()
    time.sleep(0.6)
    assert not seen  # still waiting
    start = prepare(run)
    waiter.join(timeout=20)
    assert seen and not seen[0].finished and not start.resume
    assert json.loads((tmp_path / "run" / FINGERPRINT).read_text())["records"] == 1
