"""Distributed matrices from the columns of a Spark DataFrame, built on the executors: the driver
sees the schema and the row count of each Arrow batch, never a row.

    features, labels = dataframe_matrices(runtime, df, [
        MatrixColumns("features", ("features",), width=784),
        MatrixColumns("labels", ("label",), width=1, convert=one_hot, out_width=10)])

A matrix comes from one column holding an array of numbers or an ml Vector (dense or sparse),
or from several numeric columns (one matrix column each). Every row is checked where it is
read (a null, an array of the wrong length) and reported with its column and its row in the
partition; `convert` (executor side, rows x width -> rows x out_width) turns values into what
the script takes, e.g. class indices into one-hot rows. All matrices of one call share the
DataFrame's row order: row r of each comes from the same DataFrame row.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np

from .arrow_columns import ArrayColumn, RowInputError
from .row_scatter import from_chunks

_NUMBERS = ("ByteType", "ShortType", "IntegerType", "LongType", "FloatType", "DoubleType",
            "DecimalType", "BooleanType")


@dataclass(frozen=True)
class MatrixColumns:
    name: str                     # what messages call the matrix
    columns: tuple                # one array/vector column, or numeric columns
    width: int                    # values per row the columns must hold
    convert: Callable | None = None
    out_width: int | None = None  # columns of the matrix after convert (default: width)

    @property
    def label(self) -> str:
        return ", ".join(self.columns)

    @property
    def matrix_width(self) -> int:
        return self.width if self.out_width is None else self.out_width


def column_kind(df, column: str) -> str:
    """'array', 'vector' or 'number': how a column can feed a matrix; an error for the rest."""
    fields = {f.name: f for f in df.schema.fields}
    if column not in fields:
        raise RowInputError(f"column '{column}' is missing (the DataFrame has "
                            f"{', '.join(fields) or 'no columns'})")
    data_type = fields[column].dataType
    kind = type(data_type).__name__
    if kind == "ArrayType" and type(data_type.elementType).__name__ in _NUMBERS:
        return "array"
    if kind == "VectorUDT":
        return "vector"
    if kind in _NUMBERS:
        return "number"
    raise RowInputError(f"column '{column}' is {data_type.simpleString()}; expected an array of "
                        "numbers, an ml Vector, or numeric columns")


def as_array_column(df, columns: tuple, alias: str):
    """A Spark Column of array<double> holding the columns' values of each row (no job runs)."""
    from pyspark.sql import functions as F

    kinds = [column_kind(df, c) for c in columns]
    if len(columns) > 1 and set(kinds) != {"number"}:
        wrong = [c for c, k in zip(columns, kinds) if k != "number"]
        raise RowInputError(f"several columns make a matrix only when each holds one number; "
                            f"{', '.join(repr(c) for c in wrong)} do not")
    if kinds == ["array"]:
        return F.col(columns[0]).cast("array<double>").alias(alias)
    if kinds == ["vector"]:
        from pyspark.ml.functions import vector_to_array
        return vector_to_array(F.col(columns[0]), "float64").alias(alias)
    return F.array(*[F.col(c).cast("double") for c in columns]).alias(alias)


def dataframe_matrices(runtime, df, specs: list[MatrixColumns], dtype=np.float64) -> list:
    """One distributed matrix per spec, from one pass over df (its rows cached on the
    executors while the matrices are built)."""
    from pyspark import StorageLevel

    if len({s.label for s in specs}) != len(specs):
        raise RowInputError("two matrices read the same column(s)")
    selected = df.select(*[as_array_column(df, s.columns, s.label) for s in specs])
    schema = "partition int, batch int, rows long, " + ", ".join(
        f"m{k} binary" for k in range(len(specs)))
    encoded = selected.mapInArrow(partial(_encode_batches, tuple(specs), np.dtype(dtype).str),
                                  schema)
    chunks = encoded.rdd.map(partial(_decode, tuple(s.matrix_width for s in specs),
                                     np.dtype(dtype).str))
    chunks.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        sizes = _run(runtime, chunks.map(_size).collect)
        offsets, rows = _offsets(sizes)
        if rows == 0:
            raise RowInputError(f"the DataFrame has no rows (columns {', '.join(s.label for s in specs)})")
        placed = chunks.map(partial(_placed, offsets))
        return _run(runtime, from_chunks, runtime.sc, placed, rows,
                    [s.matrix_width for s in specs], runtime.block, dtype)
    finally:
        chunks.unpersist()


def _run(runtime, function, *args):
    """A job whose failure is a bad row (said as the executor said it) or a DML error."""
    from .partition_map import executor_error

    try:
        return function(*args)
    except RowInputError:
        raise
    except Exception as err:
        found = executor_error(err)
        if found is not None:
            raise found from None
        return runtime.guarded(_raise, err)


def _raise(err):
    raise err


def _size(chunk) -> tuple:
    return chunk[0], chunk[1], chunk[2][0].shape[0]


def _offsets(sizes: list) -> tuple[dict, int]:
    """Each chunk's first row in the DataFrame's order (partition, then batch), and the total."""
    offsets, total = {}, 0
    for partition, batch, count in sorted(sizes):
        offsets[(partition, batch)] = total
        total += count
    return offsets, total


def _placed(offsets: dict, chunk):
    partition, batch, arrays = chunk
    return offsets[(partition, batch)], arrays


# ---- executor side -------------------------------------------------------------------------

def _encode_batches(specs, dtype: str, batches):
    """Each Arrow batch's columns checked, converted and sent on as raw matrix bytes."""
    import pyarrow as pa
    from pyspark import TaskContext

    context = TaskContext.get()
    partition = context.partitionId() if context is not None else 0
    offset = 0
    for number, batch in enumerate(batches):
        if batch.num_rows == 0:
            continue
        arrays = [_read(spec, batch, offset, partition).astype(dtype, copy=False)
                  for spec in specs]
        columns = [pa.array([partition], pa.int32()), pa.array([number], pa.int32()),
                   pa.array([batch.num_rows], pa.int64())]
        columns += [pa.array([np.ascontiguousarray(a).tobytes()], pa.binary()) for a in arrays]
        yield pa.RecordBatch.from_arrays(
            columns, names=["partition", "batch", "rows"] + [f"m{k}" for k in range(len(specs))])
        offset += batch.num_rows


def _read(spec: MatrixColumns, batch, offset: int, partition: int) -> np.ndarray:
    values = ArrayColumn(spec.label, spec.name, spec.width).read(batch, offset, partition)
    if spec.convert is None:
        return values
    try:
        converted = spec.convert(values)
    except Exception as err:   # the converter knows what is wrong, the rows are known here
        last = offset + batch.num_rows - 1
        raise RowInputError(f"column '{spec.label}', rows {offset}-{last} of partition "
                            f"{partition}: {err}") from None
    return converted.reshape(batch.num_rows, spec.matrix_width)


def _decode(widths: tuple, dtype: str, row):
    partition, batch, rows = row[0], row[1], row[2]
    arrays = [np.frombuffer(row[3 + k], dtype=dtype).reshape(rows, width)
              for k, width in enumerate(widths)]
    return partition, batch, arrays
