"""marlinflow: MARLIN facial video masked autoencoder, as a library and a reproducible pipeline."""

__version__ = "0.1.0"
