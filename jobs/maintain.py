"""spark-submit entry point: `spark-submit jobs/maintain.py --config conf/local.yaml` (weekly)."""

from __future__ import annotations

import sys

from footfall.cli import main

if __name__ == "__main__":
    main(["maintain", *sys.argv[1:]])
