"""VideoMAE pretraining checkpoints as the weights MARLIN pretraining starts from.

The official runs start from a VideoMAE pretraining checkpoint, loaded non-strictly (marlin.md
§1.9). Checkpoints come in these layouts (:func:`checkpoint_layout`):

- ``videomae``: the original release (MCG-NJU/VideoMAE), a ``.pth`` holding ``{"model": state}``
  (``{"module": state}`` from DeepSpeed runs) with keys such as ``encoder.patch_embed.proj.*``,
  ``encoder.blocks.<i>.attn.qkv.weight``, ``.attn.q_bias``, ``.mlp.fc1.*``, ``encoder.norm.*``,
  ``encoder_to_decoder.weight``, ``mask_token``, ``decoder.blocks.<i>.*``, ``decoder.head.*``.
  Four renames give MARLIN's names, as the official code makes them.
- ``huggingface``: transformers' ``VideoMAEForPreTraining`` (``pytorch_model.bin``, a plain
  state dict): ``videomae.embeddings.patch_embeddings.projection.*``,
  ``videomae.encoder.layer.<i>.{layernorm_before, attention.attention.{query, key, value,
  q_bias, v_bias}, attention.output.dense, layernorm_after, intermediate.dense, output.dense}``,
  ``videomae.layernorm.*``, ``encoder_to_decoder.weight``, ``mask_token``,
  ``decoder.decoder_layers.<i>.*``, ``decoder.norm.*``, ``decoder.head.*``. The separate
  bias-free query, key and value weights are stacked, in that order, into MARLIN's fused ``qkv``.
- ``marlin``: weights already under MARLIN's names (the official release's full model, say).

None of them stores the position tables (fixed sinusoids), which stay MARLIN's. What the
checkpoint lacks keeps its initialisation: the critic, and decoder blocks beyond its depth
(ViT-L's decoder has 12 blocks, VideoMAE-L's 4). The decoder head's outputs are in VideoMAE's
pixel order (pt, ph, pw, c), not MARLIN's (c, pt, ph, pw); like the official code, the head is
loaded as it is and relearnt.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from marlinflow.errors import InputError
from marlinflow.models import MarlinModel
from marlinflow.weights.checkpoints import read_checkpoint
from marlinflow.weights.importing import sha256

log = logging.getLogger(__name__)

LAYOUTS = ("videomae", "huggingface", "marlin")
# Weights no VideoMAE checkpoint holds: MARLIN's fixed sinusoidal position tables.
POSITION_TABLES = ("encoder.pos_embedding.emb", "decoder.pos_embedding.emb")

VIDEOMAE_RENAMES = (
    ("mlp.fc1.", "mlp.layers.0.linear."),
    ("mlp.fc2.", "mlp.layers.1.linear."),
    ("patch_embed.proj.", "patch_embedding.projection."),
)
TOP_LEVEL = {"mask_token": "decoder.mask_token", "encoder_to_decoder.weight": "enc_dec_proj.weight"}
# Hugging Face prefixes -> ours; then, inside a block, the start of the rest -> ours.
HF_PREFIXES = (
    ("videomae.embeddings.patch_embeddings.projection.", "encoder.patch_embedding.projection."),
    ("videomae.encoder.layer.", "encoder.blocks."),
    ("videomae.layernorm.", "encoder.norm."),
    ("decoder.decoder_layers.", "decoder.blocks."),
)
HF_BLOCK_PARTS = (
    ("layernorm_before.", "norm1."),
    ("layernorm_after.", "norm2."),
    ("attention.attention.", "attn."),  # query/key/value weights, q_bias, v_bias
    ("attention.output.dense.", "attn.proj."),
    ("intermediate.dense.", "mlp.layers.0.linear."),
    ("output.dense.", "mlp.layers.1.linear."),
)
QKV = ("query", "key", "value")
BLOCK = re.compile(r"^((?:encoder|decoder)\.blocks\.\d+\.)(.*)$")
SPLIT_QKV = re.compile(r"^(.*\.attn)\.(query|key|value)\.weight$")


def videomae_key(key: str) -> str:
    """A key of the original VideoMAE release under MARLIN's name (marlin.md §1.9)."""
    if key in TOP_LEVEL:
        return TOP_LEVEL[key]
    for old, new in VIDEOMAE_RENAMES:
        key = key.replace(old, new)
    return key


def huggingface_key(key: str) -> str:
    """A key of transformers' VideoMAEForPreTraining under MARLIN's name; the query, key and
    value weights become ``<block>.attn.{query,key,value}.weight``, for :func:`fuse_qkv`."""
    if key in TOP_LEVEL:
        return TOP_LEVEL[key]
    for old, new in HF_PREFIXES:
        if key.startswith(old):
            key = new + key.removeprefix(old)
            break
    match = BLOCK.match(key)
    if match:
        block, rest = match.groups()
        for old, new in HF_BLOCK_PARTS:
            if rest.startswith(old):
                return block + new + rest.removeprefix(old)
    return key


def fuse_qkv(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Separate query, key and value weights (each (D, D)) stacked into one ``qkv.weight``
    (3D, D), rows q then k then v; a block missing one of them keeps its parts (unexpected)."""
    fused: dict[str, torch.Tensor] = {}
    parts: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        match = SPLIT_QKV.match(key)
        if match:
            parts.setdefault(match.group(1), {})[match.group(2)] = value
        else:
            fused[key] = value
    for attn, found in parts.items():
        if set(found) == set(QKV):
            fused[f"{attn}.qkv.weight"] = torch.cat([found[name] for name in QKV])
        else:
            fused.update({f"{attn}.{name}.weight": value for name, value in found.items()})
    return fused


def checkpoint_state(data: Mapping[str, Any], path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict of a checkpoint: under ``model`` or ``module``, or the mapping itself."""
    state = next((data[key] for key in ("model", "module") if key in data), data)
    if not isinstance(state, Mapping) or not state:
        raise InputError(path, "holds no state dict (under 'model', 'module', or at the top)")
    if not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise InputError(path, "its state dict holds values that are not tensors")
    return dict(state)


def checkpoint_layout(state: Mapping[str, torch.Tensor], path: str | Path) -> str:
    """Which of ``LAYOUTS`` a state dict is in, by its patch embedding's name."""
    keys = list(state)
    if any(key.startswith("videomae.") for key in keys):
        return "huggingface"
    if any(key.startswith("encoder.patch_embed.") for key in keys):
        return "videomae"
    if any(key.startswith("encoder.patch_embedding.") for key in keys):
        return "marlin"
    sample = ", ".join(keys[:3])
    raise InputError(
        path,
        "not a VideoMAE pretraining checkpoint: no patch embedding under the names of the "
        f"original release, Hugging Face's VideoMAEForPreTraining or MARLIN (keys: {sample}, ...)",
    )


def marlin_names(state: Mapping[str, torch.Tensor], layout: str) -> dict[str, torch.Tensor]:
    """``state`` (in ``layout``) under MARLIN's names."""
    if layout == "huggingface":
        return fuse_qkv({huggingface_key(key): value for key, value in state.items()})
    if layout == "videomae":
        return {videomae_key(key): value for key, value in state.items()}
    return dict(state)


@dataclass(frozen=True)
class LoadReport:
    """What a VideoMAE checkpoint gave a model: the file, its layout and digest, and the keys
    (MARLIN's names) loaded, left at their initialisation (missing) and ignored (unexpected)."""

    path: str
    layout: str
    sha256: str
    loaded: list[str]
    missing: list[str]
    unexpected: list[str]

    def record(self) -> dict[str, Any]:
        """The run's record of where it started (``{"from": "videomae", ...}``)."""
        return {"from": "videomae", **asdict(self)}


def init_from_videomae(model: MarlinModel, path: str | Path, trusted: bool = False) -> LoadReport:
    """Load a VideoMAE pretraining checkpoint (any of ``LAYOUTS``) into ``model``, non-strictly;
    InputError for a file that is no such checkpoint or whose shapes do not fit the model."""
    state = checkpoint_state(read_checkpoint(path, trusted), path)
    layout = checkpoint_layout(state, path)
    renamed = marlin_names(state, layout)
    try:
        result = model.load_state_dict(renamed, strict=False)
    except RuntimeError as err:  # shape mismatches raise even when not strict
        raise InputError(
            path, f"VideoMAE weights do not fit size {model.size.name!r}: {err}"
        ) from err
    expected = model.state_dict()
    report = LoadReport(
        path=str(Path(path).resolve()),
        layout=layout,
        sha256=sha256(Path(path)),
        loaded=[key for key in renamed if key in expected],
        missing=list(result.missing_keys),
        unexpected=list(result.unexpected_keys),
    )
    log.info(
        "VideoMAE init from %s (%s layout): %d weights loaded; missing %s; unexpected %s",
        path,
        layout,
        len(report.loaded),
        report.missing,
        report.unexpected,
    )
    return report
