"""spark-submit probe: where do the driver and the executors' Python workers import footfall from?

Prints one line, `EXECUTOR_PROBE <json>`: the master, the driver's interpreter and footfall, and what each task
saw (the interpreter, its prefix, its working folder, the real path of footfall/__init__.py and how footfall was
installed, from its direct_url.json).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from pyspark.sql import SparkSession


def where(_: Iterator[int]) -> Iterator[str]:
    import importlib.metadata
    import os
    import sys

    import footfall

    yield json.dumps(
        {
            "executable": sys.executable,
            "prefix": sys.prefix,
            "cwd": os.getcwd(),
            "footfall": os.path.realpath(footfall.__file__),
            "direct_url": json.loads(importlib.metadata.distribution("footfall").read_text("direct_url.json") or "{}"),
        },
        sort_keys=True,
    )


if __name__ == "__main__":
    spark = SparkSession.builder.appName("footfall-executor-probe").getOrCreate()
    sc = spark.sparkContext
    seen = sorted(set(sc.parallelize(range(4), 4).mapPartitions(where).collect()))
    import sys

    import footfall

    driver = {"executable": sys.executable, "footfall": footfall.__file__}
    report = {"master": sc.master, "driver": driver, "tasks": [json.loads(s) for s in seen]}
    print("EXECUTOR_PROBE " + json.dumps(report), flush=True)
    spark.stop()
