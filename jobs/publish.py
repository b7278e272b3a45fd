"""spark-submit entry point: `spark-submit jobs/publish.py ...` takes the arguments of `footfall publish`."""

from __future__ import annotations

import sys

from footfall.cli import app

if __name__ == "__main__":
    app(["publish", *sys.argv[1:]])
