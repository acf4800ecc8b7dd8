"""Encoders to evaluate: trained MARLIN weights, and the baselines every table shows beside them.

A spec names one:

- a weights path (``.pt`` in the released layout, one of ours, or a Lightning ``.ckpt``);
- ``random:<size>``: a randomly initialised encoder of that registered size (seeded), so a
  table shows what pretraining adds;
- ``videomae:<size>:<path>``: a VideoMAE pretraining checkpoint loaded into an encoder of that
  size (``videomae.init_from_videomae``: any of its layouts), the tube-masking baseline.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from marlinflow.models import MarlinEncoder, MarlinModel, resolve_size


def load_encoder(spec: str, seed: int = 0, trusted: bool = False) -> tuple[MarlinEncoder, str]:
    """(encoder, a short name for result tables) of ``spec``."""
    kind, _, rest = spec.partition(":")
    if kind == "random" and rest:
        torch.manual_seed(seed)
        return MarlinEncoder(resolve_size(rest)), f"random-{rest}"
    if kind == "videomae" and ":" in rest:
        from marlinflow.weights.videomae import init_from_videomae

        size, _, path = rest.partition(":")
        model = MarlinModel(resolve_size(size), with_decoder=False)
        init_from_videomae(model, path, trusted=trusted)
        return model.encoder, f"videomae-{size}"
    from marlinflow.features import Marlin

    model = Marlin.from_file(spec, full=False, trusted=trusted)
    return model.encoder, Path(spec).stem


def write_random_weights(size: str | Mapping, path: str | Path, seed: int = 0) -> Path:
    """Encoder weights of a randomly initialised encoder of ``size`` (a name or a mapping such
    as ``{"name": "tiny", "img_size": 128}``), in our self-describing format with provenance
    ``{"kind": "random", "seed": seed}``: extract features with them (``marlinflow extract
    --weights``) for the linear probe's baseline. The same seed gives the weights of
    ``load_encoder(f"random:{size}", seed)``."""
    from marlinflow.weights.checkpoints import save_encoder

    torch.manual_seed(seed)
    model = MarlinModel(resolve_size(size), with_decoder=False)
    return save_encoder(model, path, {"kind": "random", "seed": seed})
