"""``python -m marlinflow.pretrain CONFIG``: the same as ``marlinflow pretrain`` (and the entry
point Lightning re-runs in each extra process of a DDP run)."""

import sys

from marlinflow.cli import main

if __name__ == "__main__":
    sys.exit(main(["pretrain", *sys.argv[1:]]))
