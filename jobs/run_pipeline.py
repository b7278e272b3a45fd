"""spark-submit entry point for the whole pipeline: `spark-submit jobs/run_pipeline.py --config C --start D [--end D]`.

It never creates a pseudonym key: the key comes from $FOOTFALL_PSEUDONYM_KEY or the configured key file.
"""

from __future__ import annotations

import sys

from footfall.cli import main

if __name__ == "__main__":
    main(["run", *sys.argv[1:]])
