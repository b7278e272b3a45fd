"""Great Expectations validates a Spark DataFrame: one expectation passes, one fails."""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe
from pyspark.sql import SparkSession


def test_gx_expectation_passes_and_fails_on_spark_dataframe(spark: SparkSession) -> None:
    df = spark.createDataFrame([(1, 25), (2, 31), (3, None)], "id INT, visitors INT")
    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_spark("spark")
        .add_dataframe_asset("visitors")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": df})
    )

    unique_ids = batch.validate(gxe.ExpectColumnValuesToBeUnique(column="id"))
    no_nulls = batch.validate(gxe.ExpectColumnValuesToNotBeNull(column="visitors"))

    assert unique_ids.success is True
    assert no_nulls.success is False
    assert no_nulls.result["unexpected_count"] == 1
