"""Training data from a Spark DataFrame: the features and label columns become distributed
matrices on the executors (runtime/spark/dataframes.py), never rows on the driver.

The features column holds one flattened sample per row (an array of numbers, an ml Vector, or
several numeric columns, one value each); the label column a class index (one-hot for a
categorical cross-entropy, as with numpy labels) or the targets (a number, an array or a
Vector). Labels are checked and converted on the executors by the same rules as numpy labels
(training/data.py).
"""
from __future__ import annotations

from functools import partial

import numpy as np

from .data import DataError, labels

# the algorithms whose train.dml reads the data batch by batch (or hands it to paramserv), so
# a distributed matrix is never collected; the others gather it whole
DISTRIBUTED_ALGOS = ("minibatch", "looped_minibatch", "paramserv")


def columns_of(value) -> tuple:
    """A features_col / label_col setting as a tuple of column names."""
    return (value,) if isinstance(value, str) else tuple(value)


def check_algo(train_algo: str) -> None:
    if train_algo not in DISTRIBUTED_ALGOS:
        raise DataError(f"train_algo={train_algo!r} reads the whole training set at once and would "
                        "collect a DataFrame to the driver; train from a DataFrame with "
                        "train_algo='paramserv' (or 'minibatch' / 'looped_minibatch')")


def feature_spec(model, features_col):
    from kerasdml.runtime.spark.dataframes import MatrixColumns

    if len(model.inputs) != 1:
        raise DataError(f"the model has {len(model.inputs)} inputs; training from a DataFrame "
                        "takes a model with one input")
    spec = model.inputs[0]
    if spec.columns is None:
        raise DataError(f"model input '{spec.name}' has an open length {spec.shape}; training "
                        "from a DataFrame needs a fixed number of values per row")
    return MatrixColumns("features", columns_of(features_col), spec.columns)


def label_spec(df, model, label_col, first_class: int = 0):
    """Class indices (a number column, the first class numbered `first_class`) or targets (an
    array or Vector of the model's outputs)."""
    from kerasdml.runtime.spark.dataframes import MatrixColumns, column_kind

    if len(model.outputs) != 1:
        raise DataError(f"the model has {len(model.outputs)} outputs; training from a DataFrame "
                        "takes a model with one output (fit numpy arrays for several)")
    columns = columns_of(label_col)
    outputs = model.outputs[0].columns
    given = len(columns) if len(columns) > 1 or column_kind(df, columns[0]) == "number" \
        else outputs
    head = model.heads[0]
    width = head.spec.columns   # class ids: one (or one per position), else the outputs
    what = f"column '{', '.join(columns)}'"
    return MatrixColumns("labels", columns, given,
                         partial(_label_rows, model.loss, outputs, what, first_class,
                                 head.classes), width)


def _label_rows(loss, outputs: int, what: str, first_class: int, classes: int | None,
                values: np.ndarray) -> np.ndarray:
    return labels(values, loss, outputs, len(values), what, first_class, classes)


def training_matrices(runtime, df, model, features_col, label_col, dtype,
                      first_class: int = 0) -> tuple:
    """(features, labels) of df as distributed matrices, rows in the DataFrame's order."""
    from kerasdml.runtime.spark.dataframes import dataframe_matrices

    specs = [feature_spec(model, features_col), label_spec(df, model, label_col, first_class)]
    X, y = dataframe_matrices(runtime, df, specs, dtype)
    return X, y


def read_parquet(spark, path: str, features_col="features", scale: float | None = None):
    """A parquet file or folder as a DataFrame, its features divided by `scale` when given
    (as the .npz path's --scale), lazily: the executors read it when training starts."""
    from pyspark.sql import functions as F

    from .data_files import DataFileError

    try:
        df = spark.read.parquet(path)
    except Exception as err:   # Spark's AnalysisException: no such path, not parquet
        raise DataFileError(f"{path}: cannot read parquet: {str(err).splitlines()[0][:300]}") from None
    if not scale:
        return df
    for column in columns_of(features_col):
        if column not in df.columns:
            raise DataFileError(f"{path}: column '{column}' is missing (the table has "
                                f"{', '.join(df.columns)})")
        kind = type(df.schema[column].dataType).__name__
        if kind == "ArrayType":
            df = df.withColumn(column, F.transform(F.col(column), lambda v: v.cast("double") / scale))
        elif kind == "VectorUDT":
            raise DataFileError(f"{path}: --scale divides arrays and numbers; column "
                                f"'{column}' holds Vectors (scale them before writing)")
        else:
            df = df.withColumn(column, F.col(column).cast("double") / scale)
    return df
