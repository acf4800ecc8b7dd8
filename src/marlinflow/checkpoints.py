"""Convert MARLIN weights to and from the official layout of the released files.

Reads the released ``marlin_vit_*_ytf.{encoder,full}.pt`` state dicts, Lightning ``.ckpt`` files
(ours keep the autoencoder under ``model.`` and the critic under ``critic.``; the official ones
keep ``encoder.``/``decoder.``/``enc_dec_proj.`` at the top and the critic under
``discriminator.``), and VideoMAE pretraining checkpoints for initialisation. Writes ours in the
official layout, encoder-only or full (reference: marlin.md §4.3, §1.9).
"""

from __future__ import annotations

import argparse
import logging
import pickle
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from marlinflow.atomic import atomic_path
from marlinflow.errors import InputError
from marlinflow.models import SIZES, MarlinModel, ModelSize, resolve_size

log = logging.getLogger(__name__)

CRITIC_PREFIXES = ("critic.", "discriminator.")
# Prefixes under which other wrappers keep the model: our LightningModule, the Hugging Face port.
WRAPPER_PREFIXES = ("model.", "marlin.")


def read_checkpoint(path: str | Path, trusted: bool = False) -> dict[str, Any]:
    """The object saved in ``path``, loaded with ``weights_only=True`` unless ``trusted``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such checkpoint file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=not trusted)
    except pickle.UnpicklingError as err:
        if "allowed global" in str(err):
            raise InputError(
                path,
                "holds Python objects besides tensors, which weights_only loading refuses; "
                "load it with trusted=True only if you trust where it came from",
            ) from err
        raise InputError(path, f"not a readable PyTorch checkpoint ({err})") from err
    except Exception as err:  # torch raises many types for truncated or foreign files
        raise InputError(
            path, f"not a readable PyTorch checkpoint ({type(err).__name__}: {err})"
        ) from err
    if not isinstance(data, Mapping):
        raise InputError(path, f"holds a {type(data).__name__}, not a state dict")
    return dict(data)


def model_state(data: Mapping[str, Any], path: str | Path) -> dict[str, torch.Tensor]:
    """The autoencoder's weights in the official layout, from a state dict or Lightning file."""
    state = data.get("state_dict", data)
    if not isinstance(state, Mapping) or not all(isinstance(key, str) for key in state):
        raise InputError(path, "holds no state dict (a mapping from names to tensors)")
    for prefix in WRAPPER_PREFIXES:
        if any(key.startswith(prefix + "encoder.") for key in state):
            state = {key.removeprefix(prefix): value for key, value in state.items()}
            break
    state = {key: value for key, value in state.items() if not key.startswith(CRITIC_PREFIXES)}
    if not any(key.startswith("encoder.") for key in state):
        sample = ", ".join(list(state)[:3]) or "none"
        raise InputError(path, f"no MARLIN encoder weights (keys 'encoder.*'; found: {sample})")
    if not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise InputError(path, "state dict holds values that are not tensors")
    return state


def _depth(state: Mapping[str, torch.Tensor], part: str) -> int:
    pattern = re.compile(rf"^{part}\.blocks\.(\d+)\.")
    indices = [int(m.group(1)) for key in state if (m := pattern.match(key))]
    return max(indices) + 1 if indices else 0


def _shape(state: Mapping[str, torch.Tensor], key: str, path: str | Path) -> torch.Size:
    if key not in state:
        raise InputError(path, f"missing weight {key!r}")
    return state[key].shape


def infer_size(state: Mapping[str, torch.Tensor], path: str | Path) -> ModelSize:
    """The registered size whose architecture has these weights' shapes.

    The number of frames is read from the position table, so a registered size trained with
    another clip length is recognised too.
    """
    dim, _, tubelet, patch, _ = _shape(state, "encoder.patch_embedding.projection.weight", path)
    n_tokens = _shape(state, "encoder.pos_embedding.emb", path)[1]
    hidden = _shape(state, "encoder.blocks.0.mlp.layers.0.linear.weight", path)[0]
    found = {"enc_dim": dim, "patch_size": patch, "tubelet": tubelet}
    found["enc_depth"] = _depth(state, "encoder")
    if "decoder.mask_token" in state:
        found.update(
            dec_dim=state["decoder.mask_token"].shape[-1], dec_depth=_depth(state, "decoder")
        )
    for size in SIZES.values():
        if int(size.enc_dim * size.mlp_ratio) == hidden and all(
            getattr(size, field) == value for field, value in found.items()
        ):
            return _with_tokens(size, n_tokens, path)
    raise InputError(path, f"weights match no registered model size ({found}); pass the size")


def _with_tokens(size: ModelSize, n_tokens: int, path: str | Path) -> ModelSize:
    if n_tokens == size.n_tokens:
        return size
    _, h, w = size.grid
    if n_tokens % (h * w):
        raise InputError(path, f"position table of {n_tokens} tokens fits no clip of {size.name}")
    return replace(size, n_frames=n_tokens // (h * w) * size.tubelet)


def _size_hint(data: Mapping[str, Any]) -> ModelSize | None:
    """The size recorded in a Lightning checkpoint's hyper-parameters under ``size``, if any."""
    hparams = data.get("hyper_parameters")
    if isinstance(hparams, Mapping) and hparams.get("size") is not None:
        return resolve_size(hparams["size"])
    return None


def load_model(
    path: str | Path,
    size: ModelSize | str | Mapping | None = None,
    full: bool | None = None,
    model_class: type[MarlinModel] = MarlinModel,
    trusted: bool = False,
) -> MarlinModel:
    """Build a model from a weights file and load it strictly.

    ``full=None`` builds whatever the file holds (with a decoder if it has ``decoder.*`` keys);
    ``full=False`` keeps only the encoder of a full file. The size is inferred unless given.
    """
    data = read_checkpoint(path, trusted)
    state = model_state(data, path)
    has_decoder = any(key.startswith("decoder.") for key in state)
    if full and not has_decoder:
        raise InputError(path, "holds encoder weights only; a full model needs the decoder too")
    keep_decoder = has_decoder if full is None else full
    if not keep_decoder:
        state = {key: value for key, value in state.items() if key.startswith("encoder.")}
    size = resolve_size(size) if size is not None else _size_hint(data) or infer_size(state, path)
    model = model_class(size, with_decoder=keep_decoder)
    _load_strict(model, state, path)
    return model


def layout_problems(model: torch.nn.Module, state: Mapping[str, torch.Tensor]) -> list[str]:
    """How ``state`` differs from ``model``'s state dict: missing, unexpected, mis-shaped keys."""
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    misshaped = [
        f"{key} {tuple(state[key].shape)} != {tuple(value.shape)}"
        for key, value in expected.items()
        if key in state and state[key].shape != value.shape
    ]
    problems = []
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape", misshaped)):
        if keys:
            more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
            problems.append(f"{len(keys)} {label}: {', '.join(keys[:3])}{more}")
    return problems


def _load_strict(model: torch.nn.Module, state: Mapping[str, torch.Tensor], path) -> None:
    problems = layout_problems(model, state)
    if problems:
        name = model.size.name
        raise InputError(path, f"weights do not fit model size {name!r}: {'; '.join(problems)}")
    model.load_state_dict(state, strict=True)


def export_official(model: MarlinModel, path: str | Path, full: bool | None = None) -> Path:
    """Write ``model``'s weights as the released files are: a plain state dict with official
    key names; ``full=False`` keeps the encoder only (``*.encoder.pt``). Written atomically."""
    full = model.has_decoder if full is None else full
    if full and not model.has_decoder:
        raise ValueError("cannot export a full model from an encoder-only one")
    state = {
        key: value.detach().cpu().clone()
        for key, value in model.state_dict().items()
        if full or key.startswith("encoder.")
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


VIDEOMAE_RENAMES = (
    ("mlp.fc1.", "mlp.layers.0.linear."),
    ("mlp.fc2.", "mlp.layers.1.linear."),
    ("patch_embed.proj.", "patch_embedding.projection."),
)


def videomae_key(key: str) -> str:
    """A VideoMAE pretraining key under MARLIN's name (marlin.md §1.9)."""
    if key == "mask_token":
        return "decoder.mask_token"
    if key.startswith("encoder_to_decoder."):
        return "enc_dec_proj." + key[len("encoder_to_decoder.") :]
    for old, new in VIDEOMAE_RENAMES:
        key = key.replace(old, new)
    return key


@dataclass(frozen=True)
class LoadReport:
    missing: list[str]
    unexpected: list[str]


def init_from_videomae(model: MarlinModel, path: str | Path, trusted: bool = False) -> LoadReport:
    """Load a VideoMAE pretraining checkpoint (``{"model": state_dict}``) into ``model``,
    non-strictly. Both position tables are expected to be missing (VideoMAE does not store
    them); the report and the log name every missing and unexpected key."""
    data = read_checkpoint(path, trusted)
    state = data.get("model", data)
    renamed = {videomae_key(key): value for key, value in state.items()}
    try:
        result = model.load_state_dict(renamed, strict=False)
    except RuntimeError as err:  # shape mismatches raise even when not strict
        raise InputError(
            path, f"VideoMAE weights do not fit size {model.size.name!r}: {err}"
        ) from err
    report = LoadReport(list(result.missing_keys), list(result.unexpected_keys))
    log.info("VideoMAE init from %s: missing %s; unexpected %s", path, *vars(report).values())
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="weights: .pt state dict or Lightning .ckpt")
    parser.add_argument("output", type=Path, help="where to write the official-layout .pt file")
    parser.add_argument(
        "--full", action="store_true", help="keep the decoder (default: encoder only)"
    )
    parser.add_argument("--size", help="model size name (default: read from the weights)")


def run(args: argparse.Namespace) -> int:
    """Convert weights to the released layout (``export-weights``)."""
    try:
        model = load_model(args.checkpoint, args.size, full=bool(args.full))
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    export_official(model, args.output, full=args.full)
    print(f"wrote {args.output} ({model.size.name}, {'full' if args.full else 'encoder'})")
    return 0
