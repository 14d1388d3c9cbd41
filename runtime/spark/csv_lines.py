"""A matrix given as an RDD of CSV lines, one matrix row per line (SystemML's RDD<String> input),
parsed by the local csv parser with read()'s defaults (separator ",", no header, empty fields 0).

`csv_lines_matrix` keeps it distributed: the executors parse their partitions into a DataFrame of
numeric columns, which becomes a distributed matrix as any DataFrame input does.
"""
from __future__ import annotations

import sys
from functools import partial

import numpy as np

from ..errors import DMLRuntimeError
from ..io.csv import parse_csv_lines, read_options
from .convert import from_dataframe


def is_rdd(value) -> bool:
    """A pyspark RDD (whoever made one has imported pyspark)."""
    pyspark = sys.modules.get("pyspark")
    return pyspark is not None and isinstance(value, pyspark.RDD)


def parse_lines(lines: list, label: str, first_line: int = 1) -> np.ndarray:
    """CSV lines as a matrix; `label` and `first_line` say where a bad line is."""
    for number, line in enumerate(lines, first_line):
        if not isinstance(line, str):
            raise DMLRuntimeError(f"{label}: an RDD input holds CSV lines (strings), one matrix "
                                  f"row each; line {number} is a {type(line).__name__}")
    options = read_options({})
    return parse_csv_lines(lines, label, first_line, options["sep"], options["fill"],
                           options["default"], options["na"])


def csv_lines_matrix(runtime, rdd, name: str, dtype=np.float64):
    """The RDD as a distributed matrix of the run's runtime; a bad line is one DML error."""
    from pyspark.sql import SparkSession
    from pyspark.sql.types import DoubleType, StructField, StructType

    label = f"input `{name}`"
    first = rdd.take(1)
    if not first:
        raise DMLRuntimeError(f"{label}: the RDD has no lines")
    cols = parse_lines(first, label).shape[1]
    schema = StructType([StructField(f"C{k}", DoubleType()) for k in range(1, cols + 1)])
    rows = rdd.zipWithIndex().mapPartitions(partial(_rows, label, cols))
    frame = SparkSession.builder.getOrCreate().createDataFrame(rows, schema)
    return runtime.guarded(from_dataframe, runtime, frame, name, dtype)


def _rows(label: str, cols: int, numbered):
    """Executors: one partition's (line, index) pairs, whose indices run consecutively."""
    numbered = list(numbered)
    if not numbered:
        return []
    first_line = numbered[0][1] + 1
    panel = parse_lines([line for line, _ in numbered], label, first_line)
    if panel.shape[1] != cols:
        raise DMLRuntimeError(f"malformed line {first_line} of {label}: {panel.shape[1]} "
                              f"field(s), but line 1 has {cols}")
    return [tuple(row) for row in panel.tolist()]
