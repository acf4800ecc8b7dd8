"""MARLIN networks as plain ``nn.Module``s, weight-compatible with the official release.

The size registry imports without torch (the per-video steps read a model's token grid from
it); the networks are imported on first use.
"""

import importlib

from marlinflow.models.registry import RELEASED, SIZES, ModelSize, get_size, resolve_size

_NETWORKS = {  # name -> the module that defines it (each imports torch)
    "LAYER_INITS": "vit",
    "MarlinDecoder": "decoder",
    "PatchCritic": "discriminator",
    "MarlinEncoder": "encoder",
    "MarlinModel": "marlin",
    "patchify": "marlin",
    "unpatchify": "marlin",
}

__all__ = [
    "LAYER_INITS",
    "RELEASED",
    "SIZES",
    "MarlinDecoder",
    "MarlinEncoder",
    "MarlinModel",
    "ModelSize",
    "PatchCritic",
    "get_size",
    "patchify",
    "resolve_size",
    "unpatchify",
]


def __getattr__(name: str):
    if name in _NETWORKS:
        return getattr(importlib.import_module(f"{__name__}.{_NETWORKS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
