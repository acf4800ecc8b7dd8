"""The Wav2Lip-style generator: what it sees, how the frozen expert's sync loss reaches it, its
training and generation, its file, and the three lip-sync verbs end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from marlinflow import cli
from marlinflow.errors import InputError
from marlinflow.lipsync.generate import (
    GeneratorSettings,
    build_generator,
    frame_mels,
    generate_video,
    generator_starts,
    load_generator,
    sample_batch,
    save_generator,
    train_generator,
)
from marlinflow.lipsync.generator import Generator, expert_sync_loss, pyramid
from marlinflow.lipsync.train import expert_score, load_expert, save_expert
from tests.unit.test_lipsync import talking_video, tiny_expert

SMALL = GeneratorSettings(face_size=32, width=4, steps=2, batch_size=2, lr=1e-3)


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def test_the_pyramid_reaches_a_few_pixels():
    assert pyramid(96) == [96, 48, 24, 12, 6, 3]  # Wav2Lip's
    assert pyramid(32) == [32, 16, 8, 4]
    assert pyramid(50) == [50, 25, 13, 7, 4]


def test_the_generator_never_sees_the_lower_half_of_its_target():
    torch.manual_seed(0)
    generator = Generator(32, 4, window=3).eval()
    faces, refs = torch.rand(2, 3, 3, 32, 32), torch.rand(2, 3, 3, 32, 32)
    mels = torch.randn(2, 3, 80, 16)
    out = generator(faces, refs, mels)
    assert out.shape == (2, 3, 3, 32, 32) and out.min() >= 0 and out.max() <= 1
    other_mouth = faces.clone()
    other_mouth[..., 16:, :] = torch.rand_like(other_mouth[..., 16:, :])
    torch.testing.assert_close(generator(other_mouth, refs, mels), out)
    other_face = faces.clone()
    other_face[..., :16, :] = 0
    assert not torch.allclose(generator(other_face, refs, mels), out)
    mels.requires_grad_(True)
    generator(faces, refs, mels).sum().backward()
    assert mels.grad.abs().sum() > 0  # it hears the sound


def test_windows_frame_mels_and_references():
    video = talking_video(3, n=40, side=32)
    starts = generator_starts(video, 8, 5)
    assert starts[0] == 2  # two frames of sound before the first frame
    last = starts[-1]
    mels = frame_mels(video, last, 8, 5)
    assert mels.shape == (8, 80, 16)  # 5 frames at 25 fps: Wav2Lip's 16 steps
    np.testing.assert_array_equal(mels[3], video.mel.window(last + 3 - 2, 5))
    batch = sample_batch([video], 4, 8, SMALL, np.random.default_rng(0))
    assert batch.faces.shape == batch.references.shape == (4, 8, 3, 32, 32)
    assert batch.mel.shape == (4, 80, 26) and batch.frame_mels.shape == (4, 8, 80, 16)
    assert not torch.equal(batch.faces, batch.references)
    with pytest.raises(InputError, match="no video has a window"):
        sample_batch([talking_video(3, n=10, side=32)], 1, 8, SMALL, np.random.default_rng(0))


def test_the_frozen_expert_passes_gradients_to_generated_faces_and_stays_put():
    expert = tiny_expert(True).eval()
    faces = torch.rand(2, 8, 3, 32, 32, requires_grad=True)
    loss = expert_sync_loss(expert, faces, torch.randn(2, 80, 26))
    loss.backward()
    assert faces.grad is not None and faces.grad.abs().sum() > 0
    videos = [talking_video(s, side=32) for s in range(2)]
    before = {k: v.clone() for k, v in expert.state_dict().items()}
    generator = build_generator(SMALL, 8)
    start = {k: v.clone() for k, v in generator.state_dict().items()}
    history = train_generator(generator, expert, videos, SMALL.replace(discriminator=True))
    assert all(torch.equal(before[k], v) for k, v in expert.state_dict().items())
    assert any(not torch.equal(start[k], v) for k, v in generator.state_dict().items())
    assert set(history[-1]) == {"loss", "l1", "sync", "critic"}
    with pytest.raises(ValueError, match="16-frame windows"):
        train_generator(build_generator(SMALL, 16), expert, videos, SMALL)


def test_the_generator_learns_to_reconstruct():
    expert = tiny_expert(True)
    videos = [talking_video(s, side=32) for s in range(3)]
    cfg = SMALL.replace(steps=30, lr=3e-3)
    history = train_generator(build_generator(cfg, 8), expert, videos, cfg)
    l1 = [h["l1"] for h in history]
    assert np.mean(l1[-5:]) < 0.6 * np.mean(l1[:5])


def test_generation_covers_the_sounded_frames_and_the_file_round_trips(tmp_path):
    generator = build_generator(SMALL, 8)
    video = talking_video(4, n=30, side=32)
    first, frames = generate_video(generator, video)
    starts = generator_starts(video, 8, 5)
    assert first == starts[0] and len(frames) == starts[-1] + 8 - first
    assert frames.shape[1:] == (32, 32, 3) and frames.dtype == np.uint8
    path = save_generator(generator, tmp_path / "g.pt", {"expert": "e.pt"})
    again, provenance = load_generator(path)
    assert provenance["expert"] == "e.pt" and again.window == 8
    np.testing.assert_array_equal(generate_video(again, video)[1], frames)
    with pytest.raises(InputError, match="not a marlinflow-lipsync-expert/1 file"):
        load_expert(path)


def test_an_expert_file_round_trips(tmp_path):
    expert = tiny_expert(False)
    path = save_expert(expert, tmp_path / "e.pt", {"encoder": "random:tiny"})
    again, provenance = load_expert(path)
    assert provenance["encoder"] == "random:tiny" and not again.freeze_encoder
    video = talking_video(5, side=32)
    faces = [video.faces(k, 8) for k in (0, 10)]
    mels = np.stack([video.mel.window(k, 8) for k in (0, 10)])[None]
    np.testing.assert_allclose(expert_score(again)(faces, mels), expert_score(expert)(faces, mels))


def _write_clip(folder, seed: int, n: int):
    """A talking face clip, its mel file, its source with sound, and its face track."""
    from marlinflow.audio.clock import Audio, align_mel
    from marlinflow.face.store import FaceTrack
    from marlinflow.video.writer import add_audio, write_video
    from tests.synthetic import speech_audio, speech_envelope, talking_frames

    env = speech_envelope(n, seed)
    frames, sound = talking_frames(env, 64), speech_audio(env, 25.0, 16000, seed)
    clip, source = folder / f"v{seed}.mp4", folder / f"v{seed}_src.mp4"
    write_video(clip, frames, 25.0, crf=10)
    add_audio(clip, sound, 16000, source)
    mel = folder / f"v{seed}.npz"
    align_mel(Audio(sound, 16000, 0.0, 0.0), np.arange(n) / 25.0, 25.0, "v").save(mel)
    track = folder / f"v{seed}.json"
    FaceTrack(
        np.ones(n, bool),
        np.zeros((n, 4)),
        np.zeros((n, 68, 2)),
        np.ones(n),
        np.zeros(n, int),
        {"fps": 25.0},
    ).save(track)
    return clip, mel, source, track


def test_the_verbs_train_an_expert_then_a_generator_and_score_it(tmp_path):
    from marlinflow.lipsync.syncnet import SyncNet

    files = [_write_clip(tmp_path, s, n) for s, n in ((0, 40), (1, 40), (2, 22))]
    clips, mels = [str(f[0]) for f in files[:2]], [str(f[1]) for f in files[:2]]
    expert, generator = tmp_path / "expert.pt", tmp_path / "generator.pt"
    common = ["--clips", *clips, "--mels", *mels]
    assert (
        cli.main(
            [
                "lipsync-expert",
                "--encoder",
                "random:tiny",
                *common,
                "--out",
                str(expert),
                "--steps",
                "2",
                "--batch-size",
                "4",
                "--dim",
                "16",
                "--audio-width",
                "8",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert (
        cli.main(
            [
                "lipsync-generator",
                "--expert",
                str(expert),
                *common,
                "--out",
                str(generator),
                "--face-size",
                "32",
                "--width",
                "4",
                "--steps",
                "2",
                "--batch-size",
                "2",
                "--metrics",
                str(tmp_path / "g.json"),
            ]
        )
        == 0
    )
    assert len(json.loads((tmp_path / "g.json").read_text())["history"]) == 2
    torch.manual_seed(0)
    torch.save(SyncNet().state_dict(), tmp_path / "syncnet.model")
    clip, mel, source, track = map(str, files[2])
    out = tmp_path / "metrics.json"
    assert (
        cli.main(
            [
                "lipsync-eval",
                "--generator",
                str(generator),
                "--clips",
                clip,
                "--mels",
                mel,
                "--sources",
                source,
                "--tracks",
                track,
                "--syncnet",
                str(tmp_path / "syncnet.model"),
                "--max-offset",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    metrics = json.loads(out.read_text())
    assert metrics["videos"] == 1 and metrics["fid"] is None
    assert metrics["generator"]["expert"] == str(expert)
    assert metrics["lse_c"] >= 0 and metrics["lse_d"] > 0 and np.isfinite(metrics["lse_d_real"])
    assert -2 <= metrics["per_video"][0]["offset"] <= 2


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA sees a GPU here")
@pytest.mark.parametrize("verb", ["lipsync-expert", "lipsync-generator", "lipsync-eval"])
def test_a_lip_sync_verb_asked_for_a_gpu_where_there_is_none_says_so(verb, tmp_path, capsys):
    """lipsync.device: cuda on a node whose GPU CUDA cannot see stops before any work, naming
    the fix; auto (the default) takes the CPU there."""
    needed = {
        "lipsync-expert": ["--encoder", "random:tiny"],
        "lipsync-generator": ["--expert", str(tmp_path / "expert.pt")],
        "lipsync-eval": ["--generator", str(tmp_path / "g.pt"), "--syncnet", "random"],
    }[verb]
    clips = ["--clips", str(tmp_path / "a.mp4"), "--mels", str(tmp_path / "a.npz")]
    args = [verb, *needed, *clips, "--out", str(tmp_path / "out"), "--device", "cuda"]
    assert cli.main(args) == 2
    assert "CUDA sees no GPU here; use --device cpu or auto" in capsys.readouterr().err
