"""extract_video(crop_face=True) runs our tracker on a video of a face in the wild."""

import torch

from marlinflow.features import Marlin
from marlinflow.models import resolve_size


def test_crop_face_tracks_then_extracts(carphone):
    size = resolve_size({"name": "tiny", "n_frames": 16, "img_size": 64, "patch_size": 16})
    model = Marlin(size, with_decoder=False).eval()
    features = model.extract_video(carphone, crop_face=True)  # 120 frames of a 176x144 video
    assert (
        features.ndim == 2 and features.shape[1] == size.enc_dim and torch.isfinite(features).all()
    )
    plain = model.extract_video(carphone, crop_face=False)
    assert plain.shape == features.shape and not torch.allclose(plain, features)
