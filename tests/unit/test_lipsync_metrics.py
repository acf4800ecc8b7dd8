"""SyncNet, LSE-D / LSE-C and FID: the network with random weights, the weights loaders, our MFCC
against python_speech_features, the metrics on features with a known lag, and torchmetrics'
Fréchet distance against the closed form."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from scipy import linalg

from marlinflow.errors import InputError
from marlinflow.lipsync.fid import FIDInception, frechet_metric, load_inception
from marlinflow.lipsync.syncnet import (
    SyncNet,
    load_syncnet,
    lse,
    mfcc,
    offset_distances,
    score_video,
    windows,
)


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.mark.skipif(
    importlib.util.find_spec("python_speech_features") is None,
    reason="python_speech_features is not installed (the dev extra installs it)",
)
def test_mfcc_matches_python_speech_features():
    import python_speech_features as psf

    samples = np.random.default_rng(0).uniform(-0.3, 0.3, 16000 + 123).astype(np.float32)
    reference = psf.mfcc(samples.astype(np.float64) * 32768, 16000)  # syncnet's int16 scale
    ours = mfcc(samples)
    assert ours.shape == (13, 100) == reference.T.shape  # 1 + ⌈(16123 - 400) / 160⌉
    np.testing.assert_allclose(ours, reference.T, rtol=1e-4, atol=1e-3)


def test_syncnet_embeds_its_windows_and_loads_its_weights(tmp_path):
    torch.manual_seed(0)
    net = SyncNet().eval()
    with torch.no_grad():
        assert net.embed_faces(torch.rand(1, 3, 5, 224, 224) * 255).shape == (1, 1024)
        assert net.embed_audio(torch.randn(2, 1, 13, 20)).shape == (2, 1024)
    # the released file predates the batch norms' step counters
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "syncnet_v2.model")
    loaded = load_syncnet(tmp_path / "syncnet_v2.model")
    assert torch.equal(loaded.netfclip[3].weight, net.netfclip[3].weight)
    with pytest.raises(InputError, match="no such SyncNet weights file"):
        load_syncnet(tmp_path / "absent.model")
    del state["netfcaud.0.weight"]
    torch.save(state, tmp_path / "partial.model")
    with pytest.raises(InputError, match="not SyncNet's weights"):
        load_syncnet(tmp_path / "partial.model")


def test_lse_is_the_best_offsets_mean_distance_with_zero_padded_audio():
    faces = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    audio = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    offsets, dist = offset_distances(faces, audio, max_offset=1)
    assert offsets.tolist() == [-1, 0, 1]
    # window 0 at offset -1 meets the zero vector: distance |faces[0]| = 1
    r2, r5 = np.sqrt(2), np.sqrt(5)
    expected = np.array([[1.0, 0.0, r5], [r2, 1.0, 1.0], [r2, 0.0, r2]])
    np.testing.assert_allclose(dist, expected, rtol=1e-6)
    mean = expected.mean(axis=0)
    found = lse(dist, offsets)
    assert found["lse_d"] == pytest.approx(mean.min())
    assert found["lse_c"] == pytest.approx(np.median(mean) - mean.min())
    assert found["offset"] == 0


@pytest.mark.parametrize("lag", [-4, 0, 3])
def test_lse_finds_a_known_lag_and_is_confident_only_when_synced(lag):
    rng = np.random.default_rng(lag + 10)
    faces = torch.from_numpy(rng.standard_normal((60, 32)).astype(np.float32))
    # the sound of window i + lag is the face of window i: sound lags the picture by lag
    audio = torch.roll(faces, lag, dims=0) + 0.3 * torch.randn(60, 32)
    synced = lse(*offset_distances(faces, audio, 6)[::-1])
    assert synced["offset"] == lag
    shuffled = lse(*offset_distances(faces, audio[rng.permutation(60)], 6)[::-1])
    assert synced["lse_c"] > shuffled["lse_c"] + 1 and synced["lse_d"] < shuffled["lse_d"]


def test_a_real_video_with_its_sound_through_syncnet(samples_dir):
    from marlinflow.audio.clock import clip_samples, read_audio
    from marlinflow.video.io import probe, read_frames

    path = samples_dir / "video01.mp4"  # 30 fps, with sound
    fps = float(probe(path).fps)
    frames = read_frames(path, list(range(12)))
    audio = read_audio(path)
    sound = clip_samples(audio, np.array([audio.video_start]))
    assert windows(12, len(sound), fps) == 7
    torch.manual_seed(0)
    found = score_video(SyncNet().eval(), frames, sound, fps, audio.sample_rate, max_offset=2)
    assert np.isfinite(found["lse_d"]) and found["lse_c"] >= 0 and -2 <= found["offset"] <= 2


class Identity(torch.nn.Module):
    num_features = 3

    def forward(self, x):
        return x


def test_frechet_distance_against_the_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = np.array([0.0, 1.0, -1.0]), np.array([0.5, 1.0, 0.0])
    var1, var2 = np.array([1.0, 2.0, 0.5]), np.array([0.5, 2.0, 1.5])
    a = rng.normal(mu1, np.sqrt(var1), (40000, 3))
    b = rng.normal(mu2, np.sqrt(var2), (40000, 3))
    fid = frechet_metric(Identity())
    fid.update(torch.from_numpy(a).float(), real=True)
    fid.update(torch.from_numpy(b).float(), real=False)
    found = float(fid.compute())
    # the textbook formula on the same sample moments ...
    c1, c2 = np.cov(a.T), np.cov(b.T)
    sample = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(
        c1 + c2 - 2 * linalg.sqrtm(c1 @ c2).real
    )
    assert found == pytest.approx(sample, rel=1e-3)
    # ... and the closed form of the two Gaussians (diagonal covariances)
    closed = np.sum((mu1 - mu2) ** 2) + np.sum(var1 + var2 - 2 * np.sqrt(var1 * var2))
    assert found == pytest.approx(closed, abs=0.03)


def test_fid_inception_features_and_weights(tmp_path):
    torch.manual_seed(0)
    net = FIDInception().eval()
    with torch.no_grad():
        features = net(torch.rand(1, 3, 48, 48))
    assert features.shape == (1, 2048) and torch.isfinite(features).all()
    torch.save(net.state_dict(), tmp_path / "pt_inception.pth")
    loaded = load_inception(tmp_path / "pt_inception.pth")
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in net.state_dict().items())
    with pytest.raises(InputError, match="no such Inception weights file"):
        load_inception(tmp_path / "absent.pth")
    torch.save({"fc.weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(InputError, match="not FID's Inception weights"):
        load_inception(tmp_path / "other.pth")
