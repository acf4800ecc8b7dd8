"""MARLIN pretraining: the data module (clips + Fasking masks), the LightningModule and the run."""
