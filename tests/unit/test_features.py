"""Feature extraction: window plans, video features, released-weight download, grad mode."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest
import torch

import marlinflow
from marlinflow.cli import main
from marlinflow.compute.precision import autocast
from marlinflow.errors import InputError, VideoError
from marlinflow.features import Marlin, plan_windows, read_clips, resize_frames
from marlinflow.models import MarlinModel, PatchCritic, get_size, resolve_size
from marlinflow.video.io import iter_frames, read_frames
from marlinflow.weights.checkpoints import export_official
from marlinflow.weights.release import CACHE_ENV, URL_ENV, fetch_release, release_file


def official_count(n_frames: int, clip_frames=16, sample_rate=2, stride=16) -> int:
    """The official package's window count (marlin.md §4.2)."""
    span = clip_frames * sample_rate
    return 1 if n_frames <= span else len(range(0, n_frames - span, stride * sample_rate))


CASES = {15: 1, 16: 1, 27: 1, 32: 1, 64: 2, 143: 4}  # frames -> windows with the fixes


@pytest.mark.parametrize("n_frames", CASES)
def test_plan_windows_counts(n_frames):
    ours = plan_windows(n_frames)
    compat = plan_windows(n_frames, official_compat=True)
    assert len(ours) == CASES[n_frames]
    assert len(compat) == official_count(n_frames)
    for window in ours + compat:
        assert window.shape == (16,) and window.min() >= 0 and window.max() < n_frames


def test_plan_windows_keeps_the_last_full_window():
    first, last = plan_windows(64)
    assert np.array_equal(first, np.arange(0, 32, 2))
    assert np.array_equal(last, np.arange(32, 64, 2))
    assert len(plan_windows(64, official_compat=True)) == 1
    assert len(plan_windows(62)) == 1 and len(plan_windows(63)) == 2  # frame 62 ends window 2


def test_short_videos_keep_the_sampling_and_pad_with_the_last_frame():
    assert plan_windows(15)[0].tolist() == [0, 2, 4, 6, 8, 10, 12, 14] + [14] * 8
    assert plan_windows(27)[0].tolist() == list(range(0, 27, 2)) + [26, 26]
    assert plan_windows(1)[0].tolist() == [0] * 16
    # the official package pads when N <= 16 and takes consecutive frames when 16 < N <= 32
    assert plan_windows(15, official_compat=True)[0].tolist() == list(range(15)) + [14]
    assert plan_windows(27, official_compat=True)[0].tolist() == list(range(16))


def test_official_compat_reproduces_the_reference_outputs_row_counts():
    # marlin.md §5: the reference .npy files of the samples have one row per 16-frame hop
    reference_rows = {143: 7, 104: 5, 216: 12, 15: 1, 27: 1, 300: 17, 195: 11, 240: 13, 570: 34}
    for n_frames, rows in reference_rows.items():
        assert len(plan_windows(n_frames, hop=16, official_compat=True)) == rows
    windows = plan_windows(143, hop=16, official_compat=True)
    assert windows[1].tolist() == list(range(16, 48, 2))


def test_plan_windows_rejects_nonsense():
    with pytest.raises(ValueError):
        plan_windows(0)
    with pytest.raises(ValueError):
        plan_windows(100, hop=0)
    with pytest.raises(ValueError, match="multiple of 2"):
        plan_windows(100, hop=15, official_compat=True)


@pytest.fixture(scope="module")
def tiny16() -> Marlin:
    """A tiny model that takes the official clip length (16 frames) at 64x64."""
    torch.manual_seed(0)
    return Marlin(resolve_size({"name": "tiny", "n_frames": 16}), with_decoder=False).eval()


def test_extract_video_matches_clip_features(tiny16, carphone):
    features = tiny16.extract_video(carphone, batch_size=3)  # 120 frames, 176x144
    assert features.shape == (3, 96) and not features.requires_grad
    windows = plan_windows(120)
    clip = read_frames(carphone, windows[2].tolist())  # (16, 144, 176, 3)
    tensor = torch.from_numpy(resize_frames(clip, 64)).permute(3, 0, 1, 2)[None].float() / 255
    with torch.no_grad():
        pooled = tiny16.extract_features(tensor, keep_seq=False)
        assert torch.allclose(features[2], pooled[0], atol=1e-5)


def test_extract_video_reductions_and_sequences(tiny16, carphone):
    per_window = tiny16.extract_video(carphone)
    assert torch.allclose(tiny16.extract_video(carphone, reduction="mean"), per_window.mean(0))
    assert torch.equal(tiny16.extract_video(carphone, reduction="max"), per_window.amax(0))
    assert tiny16.extract_video(carphone, keep_seq=True, stride=20).shape == (3, 512, 96)
    with pytest.raises(ValueError, match="reduction"):
        tiny16.extract_video(carphone, reduction="median")


def test_read_clips_decodes_each_frame_once_in_window_order(carphone):
    requested = []

    def read(indices):
        requested.append(indices.tolist())
        return read_frames(carphone, indices.tolist())

    windows = plan_windows(120, hop=8)[:2]  # overlapping windows share frames
    clips = read_clips(read, windows, 64)
    assert clips.shape == (2, 3, 16, 64, 64)
    assert requested == [sorted(set(np.concatenate(windows).tolist()))]
    assert torch.equal(clips[1, :, 0], clips[0, :, 4])  # frame 8 in both windows


def centre_faces(path):
    """A stand-in for the face tracker: the centre square of each decoded frame."""
    return np.stack([frame[:, 16:160] for frame in iter_frames(path)])  # (N, 144, 144, 3)


def test_face_cropper_hook(tiny16, carphone):
    features = tiny16.extract_video(carphone, crop_face=True, face_cropper=centre_faces)
    assert features.shape == (3, 96)
    assert not torch.allclose(features, tiny16.extract_video(carphone), atol=1e-3)
    # a cropper may hand back the path of the aligned video instead of its frames
    from_path = tiny16.extract_video(carphone, crop_face=True, face_cropper=lambda path: path)
    assert torch.allclose(from_path, tiny16.extract_video(carphone), atol=1e-6)
    # without a cropper, crop_face uses our tracker (tests/integration/test_features_crop.py)
    with pytest.raises(InputError, match="no face frames"):
        tiny16.extract_video(carphone, crop_face=True, face_cropper=lambda path: np.zeros(0))


def test_bad_video_raises_video_error(tiny16, tmp_path):
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all" * 20)
    with pytest.raises(VideoError, match="broken.mp4"):
        tiny16.extract_video(tmp_path / "broken.mp4")


def test_sample_face_crop_window_counts(tiny16, samples_dir):
    cropped = samples_dir / "cropped01.mp4"  # 143 frames of 224x224
    assert tiny16.extract_video(cropped, batch_size=8).shape == (4, 96)
    official = tiny16.extract_video(cropped, stride=8, official_compat=True, batch_size=8)
    assert official.shape == (7, 96)  # the rows of the official reference output


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_extract_features_trains_in_both_modes(mode):
    model = Marlin(get_size("tiny"), with_decoder=False).train(mode == "train")
    clip = torch.rand(2, *get_size("tiny").clip_shape)
    (model.extract_features(clip, keep_seq=False) @ torch.randn(96)).sum().backward()
    grad = model.encoder.patch_embedding.projection.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    with torch.no_grad():
        assert not model.extract_features(clip).requires_grad


def test_from_online_offline_says_what_to_download(tmp_path, monkeypatch):
    monkeypatch.setenv(URL_ENV, "http://127.0.0.1:9/model_v1")  # nothing listens on port 9
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    with pytest.raises(InputError) as caught:
        Marlin.from_online("marlin_vit_small_ytf")
    message = str(caught.value)
    assert "http://127.0.0.1:9/model_v1/marlin_vit_small_ytf.encoder.pt" in message
    assert str(tmp_path / "cache" / "marlin_vit_small_ytf.encoder.pt") in message
    assert not (tmp_path / "cache" / "marlin_vit_small_ytf.encoder.pt").exists()


def test_from_online_uses_the_cached_file(tmp_path, monkeypatch):
    monkeypatch.setenv(URL_ENV, "http://127.0.0.1:9/model_v1")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    original = MarlinModel(get_size("small"), with_decoder=False)
    export_official(original, tmp_path / release_file("small"))
    loaded = Marlin.from_online("small")
    assert torch.equal(loaded.encoder.norm.weight, original.encoder.norm.weight)
    with pytest.raises(InputError, match="marlin_vit_base_ytf"):
        release_file("huge")


def test_package_exports_marlin():
    assert marlinflow.Marlin is Marlin


EMPTY = inspect.Parameter.empty
# marlin_pytorch 0.3.4's public calls (marlin.md §4.1): argument names, order and defaults.
OFFICIAL_SIGNATURES = {
    "from_file": {"model_name": EMPTY, "path": EMPTY},
    "from_online": {"model_name": EMPTY, "full_model": False},
    "clean_cache": {"verbose": True},
    "extract_features": {"x": EMPTY, "keep_seq": True},
    "extract_video": {
        "video_path": EMPTY,
        "crop_face": False,
        "sample_rate": 2,
        "stride": 16,
        "reduction": "none",
        "keep_seq": False,
        "detector_device": None,
    },
}
# Ours, documented: from_file(path) alone reads the size from the file; stride None is the
# model's clip length, 16 for every released model.
OUR_DEFAULTS = {("from_file", "path"): None, ("extract_video", "stride"): None}


@pytest.mark.parametrize("method", OFFICIAL_SIGNATURES)
def test_the_official_calls_keep_their_names_order_and_defaults(method):
    parameters = list(inspect.signature(getattr(Marlin, method)).parameters.values())
    parameters = [p for p in parameters if p.name not in ("self", "cls")]
    positional = [p for p in parameters if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    expected = OFFICIAL_SIGNATURES[method]
    assert [p.name for p in positional] == list(expected)
    for p in positional:
        assert p.default == OUR_DEFAULTS.get((method, p.name), expected[p.name]), p.name
    extras = [p for p in parameters if p not in positional]  # ours: keyword-only
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in extras)


def test_official_calls_with_positional_arguments(tiny16, carphone, tmp_path):
    clip = torch.rand(2, 3, 16, 64, 64)
    with torch.no_grad():
        assert tiny16.extract_features(clip).shape == (2, 512, 96)  # tokens by default
        assert tiny16.extract_features(clip, False).shape == (2, 96)
    # extract_video(path, True) is crop_face=True, as in the official package
    cropped = tiny16.extract_video(carphone, True, face_cropper=centre_faces)
    assert torch.equal(
        cropped, tiny16.extract_video(carphone, crop_face=True, face_cropper=centre_faces)
    )
    assert not torch.allclose(cropped, tiny16.extract_video(carphone), atol=1e-3)
    # stride counts sampled frames: 16 at rate 2 is the default's back-to-back windows
    default = tiny16.extract_video(carphone)
    assert torch.equal(tiny16.extract_video(carphone, False, 2, 16), default)
    assert tiny16.extract_video(carphone, False, 2, 8).shape == (6, 96)  # half the hop
    assert tiny16.extract_video(carphone, False, 1, 16, "mean").shape == (96,)
    assert tiny16.extract_video(carphone, False, 2, 16, "none", True, "cpu").shape == (3, 512, 96)


def test_from_file_takes_the_model_name_first(tmp_path):
    original = MarlinModel(get_size("small"), with_decoder=False)
    path = export_official(original, tmp_path / "marlin.pt")
    for loaded in (
        Marlin.from_file("marlin_vit_small_ytf", str(path)),
        Marlin.from_file(model_name="marlin_vit_small_ytf", path=str(path)),
        Marlin.from_file(path),  # ours: the size from the file's shapes
    ):
        assert loaded.size == get_size("small") and not loaded.has_decoder
        assert torch.equal(loaded.encoder.norm.weight, original.encoder.norm.weight)
    with pytest.raises(InputError, match="do not fit model size 'tiny'"):
        Marlin.from_file("tiny", str(path))


def test_from_file_reads_an_official_lightning_checkpoint(tmp_path):
    """The official training scripts' .ckpt: the model at the top of ``state_dict`` beside its
    ``discriminator.*``; any key under ``decoder.`` makes it a full model."""
    size = get_size("tiny")
    original, critic = MarlinModel(size), PatchCritic(size)
    state = dict(original.state_dict())
    state |= {f"discriminator.{key}": value for key, value in critic.state_dict().items()}
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "marlin.ckpt")
    loaded = Marlin.from_file("tiny", str(tmp_path / "marlin.ckpt"))
    assert loaded.has_decoder
    for key, value in original.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_from_online_full_model_and_clean_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(URL_ENV, "http://127.0.0.1:9/model_v1")  # offline: the cache only
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    export_official(MarlinModel(get_size("tiny")), tmp_path / "marlin_vit_small_ytf.full.pt")
    with pytest.raises(InputError, match="do not fit model size 'small'"):
        Marlin.from_online("marlin_vit_small_ytf", True)  # tiny weights under small's name
    original = MarlinModel(get_size("small"))
    export_official(original, tmp_path / "marlin_vit_small_ytf.full.pt")
    loaded = Marlin.from_online("marlin_vit_small_ytf", full_model=True)
    assert loaded.has_decoder and loaded.device == torch.device("cpu")
    assert torch.equal(loaded.decoder.head.weight, original.decoder.head.weight)
    (tmp_path / "notes.txt").write_text("not a released file")
    Marlin.clean_cache()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert "marlin_vit_small_ytf.full.pt" in capsys.readouterr().out


def test_extract_features_command(tiny16, carphone, tmp_path):
    weights = tiny16.save(tmp_path / "tiny16.encoder.pt")
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 100)
    videos = [str(carphone), str(tmp_path / "broken.mp4")]
    argv = ["extract", *videos, "--weights", str(weights), "--out", str(tmp_path / "out")]
    assert main(argv) == 1  # the broken video is skipped, the other written
    written = np.load(tmp_path / "out" / f"{carphone.stem}.npy")
    assert written.dtype == np.float32
    assert np.allclose(written, tiny16.extract_video(carphone).numpy(), atol=1e-6)
    assert not (tmp_path / "out" / "broken.npy").exists()
    assert json.loads((tmp_path / "out" / "run.json").read_text())["summary"]["precision"] == "32"


def test_extract_command_in_bf16(tiny16, carphone, tmp_path):
    """The encoder's forward pass under bf16 autocast: features within bf16 rounding of fp32
    (LayerNorm outputs, O(1) a channel), saved as float32, and the precision recorded."""
    weights = tiny16.save(tmp_path / "tiny16.encoder.pt")
    argv = ["extract", str(carphone), "--weights", str(weights), "--out", str(tmp_path / "out")]
    assert main([*argv, "--precision", "bf16-mixed"]) == 0
    written = np.load(tmp_path / "out" / f"{carphone.stem}.npy")
    full = tiny16.extract_video(carphone).numpy()
    assert written.dtype == np.float32 and not np.array_equal(written, full)
    assert np.abs(written - full).max() < 0.1 and np.linalg.norm(
        written - full
    ) < 0.02 * np.linalg.norm(full)
    assert (
        json.loads((tmp_path / "out" / "run.json").read_text())["summary"]["precision"]
        == "bf16-mixed"
    )


def test_bf16_extraction_runs_bf16_matmuls_and_agrees_with_fp32(tiny16, carphone):
    """Under bf16-mixed on the CPU the encoder's linear layers compute in bfloat16 (autocast
    on the CPU, not a no-op), and the pooled features of a real clip's windows keep their
    direction: cosine similarity with fp32 at least 0.999 for every window."""
    dtypes = []
    linear = tiny16.encoder.blocks[0].mlp.layers[0].linear
    hook = linear.register_forward_hook(lambda module, args, out: dtypes.append(out.dtype))
    try:
        full = tiny16.extract_video(carphone, batch_size=4)  # 3 windows: one batch
        with autocast("bf16-mixed", "cpu"):
            half = tiny16.extract_video(carphone, batch_size=4)
    finally:
        hook.remove()
    assert dtypes == [torch.float32, torch.bfloat16]
    assert half.shape == full.shape == (3, 96) and not torch.equal(half.float(), full)
    cosine = torch.nn.functional.cosine_similarity(half.float(), full, dim=-1)
    assert cosine.min() >= 0.999


@pytest.fixture
def weights_server(tmp_path):
    """A real HTTP server on localhost serving the files of a folder."""
    import functools
    import http.server
    import threading

    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_fetch_release_downloads_once_into_the_cache(weights_server, tmp_path, monkeypatch):
    served, url = weights_server
    export_official(MarlinModel(get_size("tiny")), served / "tiny.full.pt")
    monkeypatch.setenv(URL_ENV, url)
    cached = fetch_release("tiny.full.pt", tmp_path / "cache")
    assert cached.read_bytes() == (served / "tiny.full.pt").read_bytes()
    (served / "tiny.full.pt").unlink()  # a second call must not need the server
    assert fetch_release("tiny.full.pt", tmp_path / "cache") == cached
    with pytest.raises(InputError, match="HTTP Error 404"):
        fetch_release("absent.pt", tmp_path / "cache")
    assert sorted(path.name for path in (tmp_path / "cache").iterdir()) == ["tiny.full.pt"]
