"""spark-submit entry point: `spark-submit jobs/forget.py --config conf/local.yaml`."""

from __future__ import annotations

import sys

from footfall.cli import main

if __name__ == "__main__":
    main(["forget", *sys.argv[1:]])
