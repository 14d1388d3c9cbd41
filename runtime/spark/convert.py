"""Distributed matrices from Spark DataFrames, read on the executors (the driver never collects).

A DataFrame is a matrix either by one array or ML vector column (one row of the matrix per row),
or by numeric columns (one matrix column each, in order). Row order is the DataFrame's.
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


def from_dataframe(runtime, df, name: str, dtype=np.float64) -> DistributedMatrix:
    kind = _columns_kind(df, name)
    first = df.first()
    if first is None:
        raise DMLRuntimeError(f"input `{name}`: the DataFrame has no rows")
    cols = len(_row_values(kind, first))
    indexed = df.rdd.zipWithIndex()
    rows = indexed.count()
    block = runtime.block
    partitions = max(1, min(-(-rows // block), runtime.sc.defaultParallelism * 4))
    grouped = indexed.map(partial(_keyed, kind, block)).groupByKey(partitions)
    rdd = grouped.flatMap(partial(_panel, block, np.dtype(dtype)))
    return DistributedMatrix(rdd, rows, cols, block, np.dtype(dtype)).materialized()
