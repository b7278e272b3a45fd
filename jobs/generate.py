"""spark-submit entry point: `spark-submit jobs/generate.py ...` takes the arguments of `footfall generate`."""

from __future__ import annotations

import sys

from footfall.cli import main

if __name__ == "__main__":
    main(["generate", *sys.argv[1:]])
