import numpy as np
import pytest

from marlinflow.errors import InputError
from marlinflow.face.store import (
    CHUNK_FRAMES,
    FaceTrack,
    ParsingReader,
    ParsingWriter,
    load_parsing,
    save_parsing,
)


def frames_with_ids(n, size=32):
    """Label maps whose frame index is readable back from them."""
    labels = np.zeros((n, size, size), np.uint8)
    labels[:, 0, 0] = np.arange(n) % 11
    labels[:, 1, 0] = (np.arange(n) // 11) % 11
    labels[:, 2, 0] = (np.arange(n) // 121) % 11
    return labels


def test_chunked_round_trip_and_partial_reads(tmp_path):
    n = CHUNK_FRAMES * 2 + 17
    labels, present = frames_with_ids(n), np.arange(n) % 3 > 0
    with ParsingWriter(tmp_path / "a.npz") as writer:  # added in pieces, as the parse step does
        for start in range(0, n, 100):
            writer.add(labels[start : start + 100], present[start : start + 100])
    loaded, loaded_present = load_parsing(tmp_path / "a.npz")
    assert np.array_equal(loaded, labels) and np.array_equal(loaded_present, present)
    picked = [0, CHUNK_FRAMES + 5, n - 1, 3]
    some, _ = load_parsing(tmp_path / "a.npz", frames=picked)
    assert np.array_equal(some, labels[picked])
    with pytest.raises(InputError, match="out of range"):
        load_parsing(tmp_path / "a.npz", frames=[n])


def test_storage_is_compact(tmp_path):
    labels = np.zeros((300, 224, 224), np.uint8)
    labels[:, 60:170, 50:175] = 1
    labels[:, 90:100, 80:100] = 4
    save_parsing(tmp_path / "b.npz", labels, np.ones(300, bool))
    assert (tmp_path / "b.npz").stat().st_size / 300 < 3000


def test_failed_write_leaves_no_file_and_bad_files_are_named(tmp_path):
    with pytest.raises(ValueError), ParsingWriter(tmp_path / "c.npz") as writer:
        writer.add(np.full((2, 8, 8), 99, np.uint8), np.ones(2, bool))
    assert not (tmp_path / "c.npz").exists()
    with pytest.raises(ValueError), ParsingWriter(tmp_path / "e.npz") as writer:
        writer.add(frames_with_ids(CHUNK_FRAMES + 1), np.ones(CHUNK_FRAMES + 1, bool))
        writer.add(np.zeros((1, 8, 8, 1)), np.ones(1, bool))  # while the chunk is written
    assert not list(tmp_path.glob("*e.npz*")), "a failed write left a file"
    (tmp_path / "d.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="d.npz"):
        load_parsing(tmp_path / "d.npz")


def test_face_track_round_trip(tmp_path):
    n = 5
    track = FaceTrack(
        present=np.array([1, 1, 0, 1, 1], bool),
        boxes=np.arange(n * 4, dtype=np.float32).reshape(n, 4),
        landmarks=np.random.default_rng(0).uniform(0, 224, (n, 68, 2)).astype(np.float32),
        scores=np.linspace(0, 1, n, dtype=np.float32),
        track_ids=np.array([0, 0, -1, 1, 1], np.int32),
        meta={"fps": 25.0},
    )
    track.save(tmp_path / "t.json")
    loaded = FaceTrack.load(tmp_path / "t.json")
    assert np.allclose(loaded.landmarks, track.landmarks, atol=0.006)
    assert loaded.track_ids.tolist() == [0, 0, -1, 1, 1] and loaded.meta == {"fps": 25.0}


def test_patches_are_stored_beside_the_labels_and_old_files_have_none(tmp_path):
    n = CHUNK_FRAMES + 40
    labels, present = frames_with_ids(n), np.ones(n, bool)
    patches = np.arange(n * 4, dtype=np.uint16).reshape(n, 2, 2)
    with ParsingWriter(tmp_path / "p.npz") as writer:
        for start in range(0, n, 100):
            writer.add(
                labels[start : start + 100],
                present[start : start + 100],
                patches[start : start + 100],
            )
    picked = [CHUNK_FRAMES + 39, 0, 7]
    with ParsingReader(tmp_path / "p.npz") as reader:
        assert np.array_equal(reader.patches(picked, (2, 2)), patches[picked])
        assert reader.patches(picked, (14, 14)) is None  # stored for another grid
        assert np.array_equal(reader.labels(picked), labels[picked])
    assert np.array_equal(load_parsing(tmp_path / "p.npz")[0], labels)
    save_parsing(tmp_path / "old.npz", labels, present)  # as written before patches were stored
    with ParsingReader(tmp_path / "old.npz") as reader:
        assert reader.patches(picked, (2, 2)) is None
        assert np.array_equal(reader.labels(picked), labels[picked])
    with pytest.raises(ValueError, match="every add"), ParsingWriter(tmp_path / "q.npz") as writer:
        writer.add(labels[:3], present[:3], patches[:3])
        writer.add(labels[3:6], present[3:6])
