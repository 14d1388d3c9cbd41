"""The local Spark every Spark test shares: 2 cores, a small driver, no UI, few shuffle
partitions (one definition for all the conftest.py files that offer a `spark` fixture)."""
from __future__ import annotations

from collections.abc import Iterator

SPARK_CONF = {
    "spark.driver.memory": "1g",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
}


def local_spark() -> Iterator:
    """Yields the session and stops it afterwards (for a session-scoped fixture)."""
    from kerasdml.runtime.spark import spark_session

    session = spark_session("local[2]", SPARK_CONF)
    yield session
    session.stop()
