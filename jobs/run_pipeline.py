"""spark-submit entry point for the whole pipeline: `spark-submit jobs/run_pipeline.py --config conf/local.yaml`."""

from __future__ import annotations

import sys

from footfall.cli import app

if __name__ == "__main__":
    app(["run", *sys.argv[1:]])
