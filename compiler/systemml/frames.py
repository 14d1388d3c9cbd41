"""Spark DataFrames as SystemML's Keras2DML took and returned them.

In: a features column (an ml Vector or an array; without it, every column of the DataFrame, as
SystemML's VectorAssembler made one) holding the same channels-first C*H*W rows as numpy input,
and a label column of 1-based class indices (SystemML's python reference: "when training using
mllearn API (i.e. model.fit(X_df)), SystemML expects that labels have been converted to
1-based value").
Out (predict, predict_proba, transform): the DataFrame with SystemML's columns: __INDEX first
(1-based row numbers, doubles), the given columns, `probability` (an ml Vector of the model's
outputs) and `prediction` (the 1-based class index as a double; a regression model's outputs).
"""
from __future__ import annotations

from ..training.data import DataError
from .data import moves_channels_last

FIRST_CLASS = 1          # SystemML's class indices in DataFrames start at 1
INDEX = "__INDEX"
FEATURES = "__features"  # the model-ordered features while a DataFrame is scored or trained on


def with_model_features(df, columns: tuple, input_shape, model_shape):
    """df with FEATURES added: the features as array<double> in the model's sample order (the
    channels-first rows transposed to (H, W, C) images where the model takes those)."""
    from pyspark.sql import functions as F

    from kerasdml.runtime.spark.arrow_columns import RowInputError
    from kerasdml.runtime.spark.dataframes import as_array_column

    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"the DataFrame has no column {missing[0]!r} (its columns: "
                        f"{', '.join(df.columns)}); name the features with set_features_col")
    try:
        df = df.withColumn(FEATURES, as_array_column(df, columns, FEATURES))
    except RowInputError as error:
        raise DataError(str(error)) from None
    transposed = _channels_first_to_last(input_shape, model_shape)
    if transposed is None:
        return df
    channels, pixels = transposed
    rows = F.col(FEATURES)
    # value i of an (H, W, C) sample is channel i % C of pixel i // C of the C*H*W row
    reorder = F.transform(F.sequence(F.lit(0), F.lit(channels * pixels - 1)),
                          lambda i: F.element_at(rows, ((i % channels) * pixels
                                                        + F.floor(i / channels) + 1).cast("int")))
    return df.withColumn(FEATURES, reorder)


def _channels_first_to_last(input_shape, model_shape) -> tuple | None:
    """(C, H*W) when SystemML's (C, H, W) rows must become the model's (H, W, C) samples."""
    if not moves_channels_last(input_shape, model_shape) or input_shape[0] == 1:
        return None   # one channel: the same order either way
    channels, height, width = input_shape
    return channels, height * width


def with_index(df):
    """df with __INDEX first: 1-based row numbers in the DataFrame's order."""
    from pyspark.sql.types import DoubleType, StructField, StructType

    schema = StructType([StructField(INDEX, DoubleType(), False)] + df.schema.fields)
    numbered = df.rdd.zipWithIndex().map(lambda pair: (float(pair[1] + 1),) + tuple(pair[0]))
    return df.sparkSession.createDataFrame(numbered, schema)


def systemml_output(scored, classifier: bool):
    """The scored DataFrame with SystemML's prediction (1-based) and probability (a Vector)."""
    from pyspark.ml.functions import array_to_vector
    from pyspark.sql import functions as F

    if not classifier:
        return scored
    given = [F.col(c) for c in scored.columns if c not in ("probability", "prediction")]
    return scored.select(*given, array_to_vector(F.col("probability")).alias("probability"),
                         (F.col("prediction") + float(FIRST_CLASS)).alias("prediction"))

