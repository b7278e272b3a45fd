"""spark-submit entry point: `spark-submit jobs/evaluate.py ...` takes the arguments of `footfall evaluate`."""

from __future__ import annotations

import sys

from footfall.cli import main

if __name__ == "__main__":
    main(["evaluate", *sys.argv[1:]])
