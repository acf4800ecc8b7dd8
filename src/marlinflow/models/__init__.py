"""MARLIN networks as plain ``nn.Module``s, weight-compatible with the official release."""

from marlinflow.models.decoder import MarlinDecoder
from marlinflow.models.discriminator import PatchCritic
from marlinflow.models.encoder import MarlinEncoder
from marlinflow.models.marlin import MarlinModel, patchify, unpatchify
from marlinflow.models.registry import RELEASED, SIZES, ModelSize, get_size, resolve_size
from marlinflow.models.vit import LAYER_INITS

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
