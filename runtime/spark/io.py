"""read() and write() on the executors: the driver plans from the .mtd (or the call's rows/cols)
and never holds the matrix.

- csv: the file or directory of part files is read with textFile; lines are numbered, grouped
  into row blocks and parsed by the local csv parser (same rules and messages);
- hdf5: each task reads its row range of the dataset with h5py (the file must be visible to
  the executors, as with any shared file system);
- parquet (Spark only): read as a DataFrame (runtime/spark/convert.py);
- write(format="csv"): each row block's lines are formatted on the executors and written as a
  directory of part files, SystemDS's layout on Spark, then renamed into place with its .mtd.
"""
from __future__ import annotations

import os
import shutil
from functools import partial

import numpy as np

from ..io import csv, files, metadata
from ..atomic import write_text
from ..errors import DMLRuntimeError
from .matrix import DistributedMatrix, split_panel, block_count
from .registry import operation

DISTRIBUTED_READS = ("csv", "hdf5", "parquet")


def _plan(file, params) -> tuple[str, dict, int | None, int | None] | None:
    """(format, merged parameters, rows, cols) of a read() the executors can do, else None."""
    if not isinstance(file, str) or not os.path.exists(file):
        return None
    if any(isinstance(v, (list, np.ndarray, DistributedMatrix)) for v in params.values()):
        return None
    if str(params.get("format", "")).lower() == "parquet":
        return "parquet", dict(params), None, None
    try:
        mtd = metadata.load_mtd(file)
        merged = metadata.merge_mtd(file, mtd, params)
        fmt = metadata.read_format(file, merged, mtd)
    except DMLRuntimeError:
        return None  # the local reader reports it
    rows, cols = (_known(merged.get(key)) for key in ("rows", "cols"))
    if str(merged.get("data_type", "matrix")).lower() != "matrix" or fmt not in DISTRIBUTED_READS \
            or rows is None or cols is None:
        return None
    return fmt, merged, rows, cols


def _known(value) -> int | None:
    try:
        number = int(float(value))
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def _accepts_read(file, **params) -> bool:
    return _plan(file, params) is not None


def _read_output(file, **params):
    plan = _plan(file, params)
    return None if plan is None or plan[2] is None else (plan[2], plan[3])


# ---- executor-side -------------------------------------------------------------------------

def _numbered(header: bool, block: int, item):
    line, index = item
    row = index - (1 if header else 0)
    return row // block, (row, line)


def _csv_panel(file, options, block, cols, dtype, item):
    i, numbered = item
    ordered = sorted(numbered)
    first = ordered[0][0] + 1 + (1 if options["header"] else 0)
    panel = csv.parse_csv_lines([line for _, line in ordered], file, first, options["sep"],
                                options["fill"], options["default"], options["na"])
    if panel.shape[1] != cols:
        raise DMLRuntimeError(f"read({file!r}): line {first} has {panel.shape[1]} fields, but the "
                              f"matrix has {cols} columns")
    return split_panel(i, panel.astype(dtype, copy=False), block)


def _hdf5_panel(file, dataset, block, dtype, i):
    import h5py

    with h5py.File(file, "r") as f:
        data = np.asarray(f[dataset][i * block:(i + 1) * block], dtype=dtype)
    return split_panel(i, data.reshape(data.shape[0], -1), block)


# ---- the operations ------------------------------------------------------------------------

def _read_csv(runtime, file, merged, rows, cols, dtype):
    options = csv.read_options(merged)
    block = runtime.block
    # one RDD per part file, in name order (a directory listing is not ordered)
    parts = [runtime.sc.textFile(part) for part in files.data_files(file)]
    lines = (runtime.sc.union(parts) if len(parts) > 1 else parts[0]).zipWithIndex()
    if options["header"]:
        lines = lines.filter(lambda item: item[1] > 0)
    partitions = max(1, min(block_count(rows, block), runtime.sc.defaultParallelism * 4))
    grouped = lines.map(partial(_numbered, options["header"], block)).groupByKey(partitions)
    rdd = grouped.flatMap(partial(_csv_panel, file, options, block, cols, dtype))
    return DistributedMatrix(rdd, rows, cols, block, dtype)


def _read_hdf5(runtime, file, merged, rows, cols, dtype):
    dataset = merged.get("dataset")
    if dataset is None:
        raise DMLRuntimeError(f"read({file!r}): format \"hdf5\" needs dataset= in read()")
    count = block_count(rows, runtime.block)
    indices = runtime.sc.parallelize(range(count), min(count, runtime.sc.defaultParallelism * 4))
    rdd = indices.flatMap(partial(_hdf5_panel, file, str(dataset), runtime.block, dtype))
    return DistributedMatrix(rdd, rows, cols, runtime.block, dtype)


def _read_parquet(runtime, file, merged, rows, cols, dtype):
    from pyspark.sql import SparkSession

    from .convert import from_dataframe

    frame = SparkSession.builder.getOrCreate().read.parquet(file)
    return from_dataframe(runtime, frame, f"read({file!r})", dtype)


_READERS = {"csv": _read_csv, "hdf5": _read_hdf5, "parquet": _read_parquet}


@operation("read", accepts=_accepts_read, output=_read_output, strategy="executors read", source=True,
           spark_only=lambda file, **params: str(params.get("format", "")).lower() == "parquet")
def read(runtime, file, **params):
    fmt, merged, rows, cols = _plan(file, params)
    dtype = np.dtype(np.float32 if runtime.precision == "single" else np.float64)
    return _READERS[fmt](runtime, file, merged, rows, cols, dtype)


_CSV_WRITE = ("header", "sep", "sparse", "description")


def _accepts_write(x, file, format=None, **params) -> bool:
    """A distributed matrix written as csv; other formats collect it and write locally."""
    others = [k for k, v in params.items() if v is not None and k not in _CSV_WRITE]
    return isinstance(x, DistributedMatrix) and isinstance(file, str) and \
        str(format or "text").lower() == "csv" and not others


def _csv_lines(sep, zero, item):
    _, panel = item
    return csv.data_lines(np.asarray(panel, dtype=np.float64), sep, zero)


@operation("write", accepts=_accepts_write, output=lambda x, *rest, **params: tuple(x.shape),
           strategy="executors write")
def write(runtime, x, file, format=None, header=None, sep=None, sparse=None, description=None, **ignored):
    params = {k: v for k, v in {"header": header, "sep": sep, "sparse": sparse,
                                "description": description}.items() if v is not None}
    separator, header_on, zero = csv.write_options(params)
    lines = x.panels().sortByKey().flatMap(partial(_csv_lines, separator, zero))
    if header_on:
        titles = runtime.sc.parallelize([csv.header_line(separator, x.cols)], 1)
        lines = titles.union(lines)
    temp = files.temp_beside(file)
    try:
        lines.saveAsTextFile(temp)
        nnz = sum(x.rdd.map(lambda item: int(np.count_nonzero(item[1]))).collect())
        extra = {"header": header_on, "sep": separator}
        mtd = metadata.mtd_for_dimensions(x.rows, x.cols, nnz, "csv", params, extra)
        files.remove_part_file_directory(file)
        if os.path.isfile(file):
            os.remove(file)
        os.replace(temp, file)
        write_text(file + ".mtd", metadata.metadata_text(mtd))
    finally:
        if os.path.isdir(temp):
            shutil.rmtree(temp)
