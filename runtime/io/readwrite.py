"""DML read() and write() of a value: the format's reader or writer, picked from `FORMATS`, the
checks of rows/cols against what was read, and the .mtd written last.
"""
from __future__ import annotations

import os
from typing import Callable

import numpy as np

from ..errors import DMLRuntimeError
from ..lists import DMLList
from .csv import read_csv, write_csv
from .files import write_with_metadata
from .hdf5 import read_hdf5, write_hdf5_matrix
from .lists import read_list, write_list
from .metadata import READ_PARAMS, dim, load_mtd, merge_mtd, metadata_text, mtd_for_matrix, read_format
from .scalar import read_scalar, write_scalar
from .text import read_text, write_text


_UNSUPPORTED_FORMATS = {
    "binary": "SystemDS's binary format (Hadoop sequence files of matrix blocks) is not "
              "supported; write the matrix with format=\"csv\", \"text\" or \"hdf5\"",
    "mm": "Matrix Market is not supported; use format=\"text\" or \"csv\"",
    "libsvm": "libsvm is not supported; use format=\"text\" or \"csv\"",
}


def read_value(path: str, params: dict) -> "np.ndarray | float | int | bool | str":
    """DML read(): params are the DML named arguments (format, header, sep, rows, cols,
    data_type, value_type, dataset, ...), already evaluated to Python values.
    Matrices come back as 2-D float64 numpy arrays, lists as DMLLists."""
    path = os.fspath(path)
    unknown = sorted(set(params) - READ_PARAMS)
    if unknown:
        raise DMLRuntimeError(f"read({path!r}): unknown parameter {unknown[0]!r}; "
                              f"valid ones are {', '.join(sorted(READ_PARAMS))}")
    if not os.path.exists(path):
        raise DMLRuntimeError(f"read({path!r}): file not found: {path}")
    mtd = load_mtd(path)
    merged = merge_mtd(path, mtd, params)

    data_type = str(merged.get("data_type", "matrix")).lower()
    if data_type == "scalar":
        return read_scalar(path, merged)
    if data_type == "list":    # each element is read as its own .mtd describes it
        return read_list(path, dim(path, merged, "rows"), lambda element: read_value(element, {}))
    if data_type != "matrix":
        raise DMLRuntimeError(f"read({path!r}): data_type={data_type!r} is not supported "
                              "(only \"matrix\", \"scalar\" and \"list\")")

    fmt = read_format(path, merged, mtd)
    matrix = _handler("read", fmt, path)(path, merged)
    _check_dims(path, matrix, merged)
    return matrix


def _handler(operation: str, fmt: str, path: str) -> Callable:
    """The format's reader or writer (operation "read" or "write"), or the error naming it."""
    if fmt in FORMATS:
        return FORMATS[fmt][operation == "write"]
    if fmt in _UNSUPPORTED_FORMATS:
        raise DMLRuntimeError(f"{operation}({path!r}): {_UNSUPPORTED_FORMATS[fmt]}")
    raise DMLRuntimeError(f"{operation}({path!r}): unknown format {fmt!r}; supported formats are "
                          f"{', '.join(FORMATS)}")


def _check_dims(path: str, matrix: np.ndarray, params: dict) -> None:
    """rows and cols of the call or .mtd must be the file's (SystemDS zero-pads or fails)."""
    for axis, key in enumerate(("rows", "cols")):
        wanted = dim(path, params, key)
        if wanted is not None and wanted != matrix.shape[axis]:
            raise DMLRuntimeError(
                f"read({path!r}): {key}={wanted} given, but the file holds a "
                f"{matrix.shape[0]}x{matrix.shape[1]} matrix")


def write_value(value, path: str, params: dict) -> None:
    """DML write(): value is a 2-D numpy array, a Python scalar or a DMLList; params are format
    (default "text" as SystemDS), header, sep, sparse, description, dataset (hdf5)."""
    path = os.fspath(path)
    if _is_scalar(value):
        write_scalar(value, path, params)    # SystemDS writes scalars as text, whatever format=
        return
    fmt = str(params.get("format", "text")).lower()
    if isinstance(value, DMLList):
        if _holds_matrix(value):    # refused before any element is written, naming the list
            _handler("write", fmt, path)
        write_list(value, path, params, write_value)
        return
    matrix = np.asarray(value, dtype=np.float64)
    if matrix.ndim != 2:
        raise DMLRuntimeError(f"write({path!r}): expected a matrix (2-D), got {matrix.ndim}-D")
    write_data, extra_mtd = _handler("write", fmt, path)(matrix, path, params)
    mtd = mtd_for_matrix(matrix, fmt, params, extra_mtd)
    write_with_metadata(path, write_data, metadata_text(mtd))


def _holds_matrix(items: DMLList) -> bool:
    return any(_holds_matrix(item) if isinstance(item, DMLList) else not _is_scalar(item)
               for item in items)


def _is_scalar(value) -> bool:
    return isinstance(value, (bool, int, float, str, np.generic)) or (
        isinstance(value, np.ndarray) and value.ndim == 0)


# Format name -> (reader, writer).  A reader takes (path, merged params) and returns the
# matrix; a writer takes (matrix, path, params) and returns (function writing the data to a
# given file, extra .mtd keys).
FORMATS: dict[str, tuple[Callable, Callable]] = {
    "text": (read_text, write_text),
    "csv": (read_csv, write_csv),
    "hdf5": (read_hdf5, write_hdf5_matrix),
}
