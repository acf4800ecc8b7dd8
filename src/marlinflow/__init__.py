"""marlinflow: MARLIN facial video masked autoencoder, as a library and a reproducible pipeline."""

__version__ = "0.1.0"

__all__ = ["Marlin", "__version__"]


def __getattr__(name: str):
    # Imported on first use so that ``import marlinflow`` stays light (no torch).
    if name == "Marlin":
        from marlinflow.features import Marlin

        return Marlin
    raise AttributeError(f"module 'marlinflow' has no attribute {name!r}")
