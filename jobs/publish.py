"""spark-submit entry point: `spark-submit jobs/publish.py ...` takes the arguments of `footfall publish`."""

from __future__ import annotations

import sys

from footfall.cli import main

if __name__ == "__main__":
    main(["publish", *sys.argv[1:]])
