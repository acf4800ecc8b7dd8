"""Convert MARLIN weights to and from the official layout of the released files.

Reads the released ``marlin_vit_*_ytf.{encoder,full}.pt`` state dicts and Lightning ``.ckpt``
files (ours keep the autoencoder under ``model.`` and the critic under ``critic.``; the official
ones keep ``encoder.``/``decoder.``/``enc_dec_proj.`` at the top and the critic under
``discriminator.``). Writes the official layout, encoder-only or full (reference: marlin.md
§4.3), for the official package. VideoMAE checkpoints, which pretraining starts from, are
:mod:`.videomae`'s.

Our own weights files (``save_encoder``) hold the same state dict plus the model's geometry and
where the weights came from, because shapes alone do not pin the geometry down: the 1-D position
table gives only the token count, which several (frames, image size) pairs share. Files without
a recorded geometry are inferred from their shapes, and refused when that is ambiguous.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import pickle
import re
import subprocess
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from marlinflow.atomic import atomic_path
from marlinflow.errors import InputError
from marlinflow.models import SIZES, MarlinModel, ModelSize, resolve_size

CRITIC_PREFIXES = ("critic.", "discriminator.")
# Prefixes under which other wrappers keep the model: our LightningModule, the Hugging Face port.
WRAPPER_PREFIXES = ("model.", "marlin.")
# The ``format`` of our self-describing weights files; another version is refused, not misread.
ENCODER_FORMAT = "marlinflow-encoder/1"
# How torch words a weights_only refusal (its advice to turn the check off is not passed on).
REFUSED_BY_WEIGHTS_ONLY = ("allowed global", "unsupported global")
GEOMETRY_FIELDS = tuple(field.name for field in dataclasses.fields(ModelSize))


def read_checkpoint(path: str | Path, trusted: bool = False) -> dict[str, Any]:
    """The object saved in ``path``, loaded with ``weights_only=True`` unless ``trusted``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such checkpoint file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=not trusted)
    except pickle.UnpicklingError as err:
        if any(sign in str(err).lower() for sign in REFUSED_BY_WEIGHTS_ONLY):
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


# How a caller names the size: load_model's argument, a config's model setting, the CLI's --model.
ASK = "size= in Python, the model: setting in a config, --model on the command line"


def infer_size(state: Mapping[str, torch.Tensor], path: str | Path) -> ModelSize:
    """The registered size whose architecture has these weights' shapes, with its own geometry.

    Refuses rather than guesses: when two registered sizes have these shapes, or when the
    position table's token count is not the matched size's own (then several clip lengths and
    image sizes give that count, and shapes cannot tell which one the weights were trained on).
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
    matches = [
        size
        for size in SIZES.values()
        if int(size.enc_dim * size.mlp_ratio) == hidden
        and all(getattr(size, field) == value for field, value in found.items())
    ]
    if not matches:
        raise InputError(path, f"weights match no registered model size ({found}); pass the size")
    if len(matches) > 1:
        names = ", ".join(size.name for size in matches)
        raise InputError(
            path, f"weights fit several registered sizes alike ({names}); pass the size ({ASK})"
        )
    (size,) = matches
    if n_tokens != size.n_tokens:
        raise InputError(path, _ambiguous_tokens(size, n_tokens))
    return size


def geometries(size: ModelSize, n_tokens: int) -> list[ModelSize]:
    """Every variant of ``size`` (square frames) whose token grid has ``n_tokens`` tokens,
    largest image first."""
    sides = [side for side in range(math.isqrt(n_tokens), 0, -1) if n_tokens % side**2 == 0]
    return [
        dataclasses.replace(
            size, n_frames=n_tokens // side**2 * size.tubelet, img_size=side * size.patch_size
        )
        for side in sides
    ]


def _ambiguous_tokens(size: ModelSize, n_tokens: int) -> str:
    candidates = "; ".join(
        f"n_frames={g.n_frames}, img_size={g.img_size}" for g in geometries(size, n_tokens)
    )
    return (
        f"the position table has {n_tokens} tokens, not the {size.n_tokens} of {size.name!r} "
        f"({size.n_frames} frames of {size.img_size} px), and these geometries of "
        f"{size.name!r} all give {n_tokens}: {candidates}. The file does not record which one; "
        f"pass the size ({ASK}), e.g. {{name: {size.name}, n_frames: F, img_size: S}}"
    )


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
    ``full=False`` keeps only the encoder of a full file. The size is the geometry the file
    records (a ``size`` that contradicts it is refused), else ``size``, else a Lightning file's
    recorded size, else inferred from the shapes (refused when ambiguous: see ``infer_size``).
    """
    return model_from_checkpoint(read_checkpoint(path, trusted), path, size, full, model_class)


def model_from_checkpoint(
    data: Mapping[str, Any],
    path: str | Path,
    size: ModelSize | str | Mapping | None = None,
    full: bool | None = None,
    model_class: type[MarlinModel] = MarlinModel,
) -> MarlinModel:
    """``load_model`` of a file already read, so that callers needing its metadata too read it
    once (weights files reach gigabytes)."""
    recorded = recorded_size(data, path)
    state = model_state(data, path)
    has_decoder = any(key.startswith("decoder.") for key in state)
    if full and not has_decoder:
        raise InputError(path, "holds encoder weights only; a full model needs the decoder too")
    keep_decoder = has_decoder if full is None else full
    if not keep_decoder:
        state = {key: value for key, value in state.items() if key.startswith("encoder.")}
    model = model_class(_choose_size(data, state, path, size, recorded), with_decoder=keep_decoder)
    _load_strict(model, state, path)
    return model


def _choose_size(data, state, path, size, recorded: ModelSize | None) -> ModelSize:
    if recorded is not None:
        if size is not None and _architecture(resolve_size(size)) != _architecture(recorded):
            raise InputError(
                path,
                f"was saved with geometry {_describe(recorded)}, but the size passed is "
                f"{_describe(resolve_size(size))}; leave the size out to use the recorded one",
            )
        return recorded
    if size is not None:
        return resolve_size(size)
    return _size_hint(data) or infer_size(state, path)


def _architecture(size: ModelSize) -> dict[str, Any]:
    """Every field but the name, which labels a size without changing the network."""
    return {key: value for key, value in dataclasses.asdict(size).items() if key != "name"}


def _describe(size: ModelSize) -> str:
    return (
        "{" + ", ".join(f"{key}: {value}" for key, value in dataclasses.asdict(size).items()) + "}"
    )


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


def _weights(model: MarlinModel, full: bool | None) -> dict[str, torch.Tensor]:
    """Detached CPU copies of the official-layout weights; ``full=False``: the encoder only."""
    full = model.has_decoder if full is None else full
    if full and not model.has_decoder:
        raise ValueError("cannot save a full model from an encoder-only one")
    return {
        key: value.detach().cpu().clone()
        for key, value in model.state_dict().items()
        if full or key.startswith("encoder.")
    }


def export_official(model: MarlinModel, path: str | Path, full: bool | None = None) -> Path:
    """Write ``model``'s weights as the released files are: a plain state dict with official
    key names, for the official package; ``full=False`` keeps the encoder only
    (``*.encoder.pt``). Written atomically. Our own files are ``save_encoder``'s."""
    state = _weights(model, full)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


def save_encoder(
    model: MarlinModel,
    path: str | Path,
    provenance: Mapping[str, Any] | None = None,
    full: bool = False,
) -> Path:
    """Write ``model`` as a self-describing weights file, atomically: the official-layout state
    dict (the encoder only unless ``full``), every ModelSize field, and ``provenance``.

    Provenance always records the marlinflow version, the source tree's git commit (or None)
    and the UTC time of writing; ``provenance`` adds to it (JSON values; tuples become lists).
    All of it loads with ``torch.load(weights_only=True)``.
    """
    data = {
        "format": ENCODER_FORMAT,
        "state_dict": _weights(model, full),
        "geometry": dataclasses.asdict(model.size),
        "provenance": {**plain(dict(provenance or {})), **stamp()},
    }
    with atomic_path(path) as tmp:
        torch.save(data, tmp)
    return Path(path)


def plain(value: Any) -> Any:
    """``value`` as the plain types weights-only loading accepts (and JSON holds): mappings with
    string keys, lists, str, int, float, bool, None; tuples become lists, paths strings."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int | float):  # numpy scalars too, which weights_only refuses
        return int(value) if isinstance(value, int) else float(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # a numpy or torch scalar
        return plain(value.item())
    raise TypeError(f"provenance values must be JSON values, not {type(value).__name__}")


def stamp() -> dict[str, Any]:
    from marlinflow import __version__

    return {
        "marlinflow_version": __version__,
        "code_commit": code_commit(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


@functools.cache
def code_commit() -> str | None:
    """The git commit of the tree this package's source lies in, or None (an installed package,
    no git, any failure): provenance must never stop a file from being written."""
    here = Path(__file__).resolve().parent
    try:
        # Only a tree that tracks this very file describes the code (not a repository that merely
        # contains a virtual environment with marlinflow installed in it).
        tracked = _git(here, "ls-files", "--error-unmatch", Path(__file__).name)
        commit = _git(here, "rev-parse", "HEAD") if tracked is not None else None
    except Exception:  # never fail for provenance's sake
        return None
    return commit if commit and re.fullmatch(r"[0-9a-f]{40,64}", commit) else None


def _git(folder: Path, *args: str) -> str | None:
    done = subprocess.run(
        ["git", *args], cwd=folder, capture_output=True, text=True, timeout=10, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else None


def recorded_size(data: Mapping[str, Any], path: str | Path) -> ModelSize | None:
    """The geometry one of our files records (None for other files); refuses a file of another
    format version or with an incomplete geometry rather than fill in defaults."""
    kind = data.get("format")
    if kind is None:
        return None
    if kind != ENCODER_FORMAT:
        raise InputError(path, f"weights file format {kind!r} is not {ENCODER_FORMAT!r}")
    geometry = data.get("geometry")
    if not isinstance(geometry, Mapping) or set(geometry) != set(GEOMETRY_FIELDS):
        found = sorted(geometry) if isinstance(geometry, Mapping) else geometry
        raise InputError(path, f"geometry must have the fields {list(GEOMETRY_FIELDS)}: {found}")
    try:
        return ModelSize(**geometry)
    except (TypeError, ValueError) as err:
        raise InputError(path, f"recorded geometry is invalid ({err})") from err


def encoder_info(data: Mapping[str, Any], path: str | Path) -> dict[str, Any] | None:
    """``{"geometry", "provenance"}`` of one of our files already read; None for other files."""
    if recorded_size(data, path) is None:
        return None
    provenance = data.get("provenance")
    return {
        "geometry": dict(data["geometry"]),
        "provenance": dict(provenance) if isinstance(provenance, Mapping) else {},
    }


def read_encoder_info(path: str | Path) -> dict[str, Any] | None:
    """The geometry and provenance a weights file of ours records; None for a foreign file
    (a released or Lightning file). InputError for a file that cannot be read."""
    return encoder_info(read_checkpoint(path), path)
