"""spark-submit entry point: `spark-submit jobs/spatial.py --config conf/local.yaml [--force]`."""

from __future__ import annotations

import sys

from footfall.cli import main

if __name__ == "__main__":
    main(["spatial", *sys.argv[1:]])
