"""Distributed matrices from Spark DataFrames, read on the executors (the driver never collects).

A DataFrame is a matrix either by one array or ML vector column (one row of the matrix per row),
or by numeric columns (one matrix column each, in order). Row order is the DataFrame's, unless
the caller names a row-index column (MLContext's `__INDEX`, which SystemML's and kerasdml's
Matrix.toDF() write): that column is not data, and its 1-based numbers place the rows.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from ..errors import DMLRuntimeError
from .matrix import DistributedMatrix, split_panel

_NUMERIC = ("ByteType", "ShortType", "IntegerType", "LongType", "FloatType", "DoubleType",
            "DecimalType", "BooleanType")


def _columns_kind(df, name: str) -> str:
    types = [type(field.dataType).__name__ for field in df.schema.fields]
    if len(types) == 1 and types[0] in ("ArrayType", "VectorUDT"):
        return "vector"
    bad = [f.name for f, t in zip(df.schema.fields, types) if t not in _NUMERIC]
    if bad:
        raise DMLRuntimeError(f"input `{name}`: a DataFrame becomes a matrix through one array or "
                              f"vector column, or numeric columns; column(s) {', '.join(bad)} are not")
    return "columns"


def _row_values(kind: str, row) -> list:
    if kind == "vector":
        cell = row[0]
        return cell.toArray().tolist() if hasattr(cell, "toArray") else list(cell)
    return [float(v) if v is not None else np.nan for v in row]


def _keyed(kind, block, item):
    row, index = item
    return index // block, (index, _row_values(kind, row))


def _panel(block, dtype, item):
    i, rows = item
    ordered = sorted(rows, key=lambda pair: pair[0])
    panel = np.array([values for _, values in ordered], dtype=dtype)
    return split_panel(i, panel, block)


def from_dataframe(runtime, df, name: str, dtype=np.float64,
                   row_index: str | None = None) -> DistributedMatrix:
    """df as a distributed matrix. `row_index`: the name of a column that, when df has it,
    numbers the rows 1..n (SystemML's DF_DOUBLES_WITH_INDEX / DF_VECTOR_WITH_INDEX): it is
    dropped from the data, and each row goes where its number says."""
    index_at = df.columns.index(row_index) if row_index in df.columns else None
    data = df.drop(row_index) if index_at is not None else df
    if index_at is not None and not data.columns:
        raise DMLRuntimeError(f"input `{name}`: the DataFrame has only its {row_index} column, "
                              "no data columns")
    kind = _columns_kind(data, name)
    first = data.first()
    if first is None:
        raise DMLRuntimeError(f"input `{name}`: the DataFrame has no rows")
    cols = len(_row_values(kind, first))
    if index_at is None:
        indexed = df.rdd.zipWithIndex()
        rows = indexed.count()
    else:
        rows = _checked_row_index(df, row_index, name)
        indexed = df.rdd.map(partial(_by_row_index, index_at))
    block = runtime.block
    partitions = max(1, min(-(-rows // block), runtime.sc.defaultParallelism * 4))
    grouped = indexed.map(partial(_keyed, kind, block)).groupByKey(partitions)
    rdd = grouped.flatMap(partial(_panel, block, np.dtype(dtype)))
    return DistributedMatrix(rdd, rows, cols, block, np.dtype(dtype)).materialized()


def _by_row_index(position: int, row) -> tuple:
    """(the row's data values, its 0-based place) from a row whose column `position` holds
    the 1-based row number."""
    return tuple(row[:position]) + tuple(row[position + 1:]), int(row[position]) - 1


def _checked_row_index(df, column: str, name: str) -> int:
    """The number of rows, once one Spark job has checked that `column` numbers them 1..n,
    each once (SystemML placed rows by it; a gap or a repeat would leave a row unset)."""
    from pyspark.sql import functions as F

    field = next(f for f in df.schema.fields if f.name == column)
    if type(field.dataType).__name__ not in _NUMERIC:
        raise DMLRuntimeError(f"input `{name}`: the row-index column {column} must be numeric "
                              f"(1-based row numbers), got {field.dataType.simpleString()}")
    c = F.col(f"`{column}`").cast("double")
    total, present, low, high, distinct, fractional = df.agg(
        F.count(F.lit(1)), F.count(c), F.min(c), F.max(c), F.countDistinct(c),
        F.sum(F.when(c != F.floor(c), 1).otherwise(0))).first()
    if total and (present != total or fractional or low != 1 or high != total
                  or distinct != total):
        raise DMLRuntimeError(f"input `{name}`: the {column} column must number the rows 1..{total}"
                              f", each once (it holds values from {low} to {high}, "
                              f"{distinct} distinct, {total - present} null)")
    return int(total)
