"""The probe reads what the feature extractor writes: (n_windows, D) per video, by file stem."""

from __future__ import annotations

import numpy as np

from marlinflow.cli import main
from marlinflow.downstream.encoders import write_random_weights
from marlinflow.downstream.probe import load_features


def test_probe_loads_features_extracted_from_a_real_video(carphone, tmp_path):
    weights = write_random_weights("tiny", tmp_path / "random.pt")
    out = tmp_path / "features"
    assert main(["extract", str(carphone), "--weights", str(weights), "--out", str(out)]) == 0
    ids, table, skipped = load_features(out, [carphone.stem, "absent"])
    windows = np.load(out / f"{carphone.stem}.npy")
    assert ids == [carphone.stem] and table.shape == (1, 96)
    assert np.allclose(table[0], windows.mean(axis=0), atol=1e-6)
    assert skipped[0]["id"] == "absent"
