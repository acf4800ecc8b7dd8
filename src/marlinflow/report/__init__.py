"""Reports: the local HTML report, its tables and figures, and the W&B Report."""
