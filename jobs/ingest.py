"""spark-submit entry point: `spark-submit jobs/ingest.py --config conf/local.yaml --start D [--end D]`."""

from __future__ import annotations

import sys

from footfall.cli import main

if __name__ == "__main__":
    main(["ingest", *sys.argv[1:]])
