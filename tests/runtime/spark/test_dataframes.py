"""Distributed matrices from DataFrame columns (runtime/spark/dataframes.py) and the row
shuffle (runtime/spark/row_scatter.py), on a real local Spark: built on the executors, in the
DataFrame's order, nothing collected, and bad rows reported with their column and row."""
from __future__ import annotations

from functools import partial

import numpy as np
import pytest

pytestmark = pytest.mark.slow

pytest.importorskip("pyarrow")


# a conversion the executors can import (a test module's own function would not unpickle there)
_TWICE = partial(np.repeat, repeats=2, axis=1)


@pytest.fixture(scope="module")
def table(spark):
    """30 rows in 3 partitions; features as an array, a dense/sparse Vector and two numbers."""
    from pyspark.ml.linalg import Vectors

    X = np.arange(30 * 2, dtype=float).reshape(30, 2) / 7
    rows = [(X[i].tolist(), Vectors.dense(X[i]) if i % 2 else Vectors.sparse(2, {1: X[i, 1]}),
             float(X[i, 0]), float(X[i, 1]), i % 4) for i in range(30)]
    df = spark.createDataFrame(rows, ["a", "v", "c0", "c1", "label"]).coalesce(3)
    return df, X


@pytest.mark.parametrize("columns", [("a",), ("v",), ("c0", "c1")], ids=["array", "vector", "numbers"])
def test_columns_become_matrices_in_row_order(spark, table, columns):
    from kerasdml.runtime.spark.dataframes import MatrixColumns, dataframe_matrices
    from kerasdml.runtime.spark.runtime import SparkRuntime

    df, X = table
    runtime = SparkRuntime(spark.sparkContext, block=4)
    features, labels = dataframe_matrices(runtime, df, [
        MatrixColumns("features", columns, 2), MatrixColumns("labels", ("label",), 1, _TWICE, 2)])
    assert runtime.collected.count == 0      # built without a collect
    expected = X.copy()
    if columns == ("v",):
        expected[::2, 0] = 0.0   # the sparse vectors hold the second value only
    np.testing.assert_allclose(runtime.collect(features), expected)
    np.testing.assert_array_equal(runtime.collect(labels), np.repeat(np.arange(30) % 4, 2).reshape(30, 2))
    assert (features.rows, features.cols, labels.cols) == (30, 2, 2)


def test_shuffled_rows_move_together(spark, table):
    from kerasdml.runtime.spark.dataframes import MatrixColumns, dataframe_matrices
    from kerasdml.runtime.spark.row_scatter import shuffled_rows
    from kerasdml.runtime.spark.runtime import SparkRuntime

    df, X = table
    runtime = SparkRuntime(spark.sparkContext, block=4)
    matrices = dataframe_matrices(runtime, df, [MatrixColumns("f", ("c0", "c1"), 2),
                                                MatrixColumns("l", ("label",), 1)])
    features, labels = (runtime.collect(m) for m in shuffled_rows(matrices, seed=3))
    order = np.random.default_rng(3).permutation(30)
    np.testing.assert_allclose(features, X[order])
    np.testing.assert_array_equal(labels.ravel(), order % 4)


@pytest.mark.parametrize("rows, columns, width, message", [
    ([([1.0, 2.0], 1)], ("missing",), 2, "column 'missing' is missing"),
    ([([1.0, 2.0], 1), ([1.0], 2)], ("a",), 2, "column 'a', row 1 of partition 0 has 1 values; expected 2"),
    ([([1.0, 2.0], 1), (None, 2)], ("a",), 2, "column 'a', row 1 of partition 0 is null"),
    ([([1.0, None], 1)], ("a",), 2, "column 'a', row 0 of partition 0 holds a null value"),
], ids=["missing", "ragged", "null-row", "null-value"])
def test_bad_columns_are_named(spark, rows, columns, width, message):
    from kerasdml.runtime.spark.arrow_columns import RowInputError
    from kerasdml.runtime.spark.dataframes import MatrixColumns, dataframe_matrices
    from kerasdml.runtime.spark.runtime import SparkRuntime

    df = spark.createDataFrame(rows, "a array<double>, label int").coalesce(1)
    runtime = SparkRuntime(spark.sparkContext, block=4)
    spec = [MatrixColumns("features", columns, width)]
    with pytest.raises(RowInputError, match=message):
        dataframe_matrices(runtime, df, spec)


def test_a_text_column_is_refused_before_any_job(spark):
    from kerasdml.runtime.spark.arrow_columns import RowInputError
    from kerasdml.runtime.spark.dataframes import MatrixColumns, dataframe_matrices
    from kerasdml.runtime.spark.runtime import SparkRuntime

    df = spark.createDataFrame([("x", 1.0)], "name string, value double")
    with pytest.raises(RowInputError, match="column 'name' is string; expected an array"):
        dataframe_matrices(SparkRuntime(spark.sparkContext), df,
                           [MatrixColumns("features", ("name", "value"), 2)])
