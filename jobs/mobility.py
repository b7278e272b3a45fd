"""spark-submit entry point: `spark-submit jobs/mobility.py ...` takes the arguments of `footfall mobility`."""

from __future__ import annotations

import sys

from footfall.cli import main

if __name__ == "__main__":
    main(["mobility", *sys.argv[1:]])
