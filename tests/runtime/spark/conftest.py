"""One local Spark for all Spark tests (2 cores, small driver, no UI, few shuffle partitions)."""
from __future__ import annotations

import pytest

SPARK_CONF = {
    "spark.driver.memory": "1g",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
}


@pytest.fixture(scope="session")
def spark():
    pytest.importorskip("pyspark")
    from kerasdml.runtime.spark import spark_session

    session = spark_session("local[2]", SPARK_CONF)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def runtime(spark):
    """Blocks of 3x3, so that the small matrices of the tests span several blocks."""
    from kerasdml.runtime.spark.runtime import SparkRuntime

    return SparkRuntime(spark.sparkContext, block=3)
