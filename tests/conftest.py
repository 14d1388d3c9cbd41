"""Fixtures every test area may use: one real local Spark for the whole run (2 cores, a small
driver, no UI, few shuffle partitions), started by the first test that asks for it."""
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
    """The session's SparkSession (`local[2]`); tests using it are marked slow."""
    pytest.importorskip("pyspark")
    from kerasdml.runtime.spark import spark_session

    session = spark_session("local[2]", SPARK_CONF)
    yield session
    session.stop()
