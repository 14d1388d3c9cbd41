"""The Spark runtime the distributed-operation tests run on (over the `spark` fixture of
tests/conftest.py)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def runtime(spark):
    """Blocks of 3x3, so that the small matrices of the tests span several blocks."""
    from kerasdml.runtime.spark.runtime import SparkRuntime

    return SparkRuntime(spark.sparkContext, block=3)
