"""One local Spark for all Spark tests (2 cores, small driver, no UI, few shuffle partitions)."""
from __future__ import annotations

import pytest

from support.local_spark import local_spark


@pytest.fixture(scope="session")
def spark():
    pytest.importorskip("pyspark")
    yield from local_spark()


@pytest.fixture(scope="session")
def runtime(spark):
    """Blocks of 3x3, so that the small matrices of the tests span several blocks."""
    from kerasdml.runtime.spark.runtime import SparkRuntime

    return SparkRuntime(spark.sparkContext, block=3)
