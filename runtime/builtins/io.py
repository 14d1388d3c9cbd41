"""read() and write(): DML's file I/O, over runtime/io/ (SystemDS's formats and .mtd files).

read(file, format=, header=, sep=, rows=, cols=, data_type=, value_type=, dataset=, ...) takes
every named parameter SystemDS's read() takes; runtime/io checks them against the file and its
.mtd. Matrices read (in a list too) come back in the run's precision. write(x, file,
format="text", header=, sep=, sparse=, description=, dataset=) is a statement: it returns nothing;
x is a matrix, a scalar or a list (a folder of its elements, as SystemDS writes it).
"""
from __future__ import annotations

import numpy as np

from ..errors import DMLRuntimeError
from ..io import read_value, write_value
from ..io.csv import NA_STRING_SEP
from ..lists import DMLList
from ..values import is_matrix, type_name
from .registry import builtin

def _file_name(value, function: str) -> str:
    if not isinstance(value, str):
        raise DMLRuntimeError(f"{function}: the file name must be a string, got {type_name(value)}")
    if not value:
        raise DMLRuntimeError(f"{function}: the file name is empty")
    return value


@builtin("read", context=True)
def read(context, file, **params):
    path = _file_name(file, "read")
    na = params.get("naStrings")
    if isinstance(na, list) and all(isinstance(s, str) for s in na):
        params["naStrings"] = NA_STRING_SEP.join(na)    # SystemDS joins a list the same way
    for name, value in params.items():
        if is_matrix(value) or isinstance(value, list):
            raise DMLRuntimeError(f"read({path!r}): parameter {name} must be a scalar, "
                                  f"got {type_name(value)}")
    return _in_precision(read_value(path, params), context.dtype)


def _in_precision(value, dtype):
    """Matrices read, in a list too, in the run's precision."""
    if is_matrix(value):
        return np.asarray(value, dtype=dtype)
    if isinstance(value, DMLList):
        return DMLList([_in_precision(item, dtype) for item in value], value.names)
    return value


@builtin("write")
def write(x, file, format=None, header=None, sep=None, sparse=None, description=None,
          dataset=None, rows_in_block=None, cols_in_block=None):
    """Writes x (a matrix, a scalar or a list) and its .mtd. rows_in_block and cols_in_block are
    accepted, as SystemDS accepts them, and change nothing in the files written."""
    path = _file_name(file, "write")
    given = {"format": format, "header": header, "sep": sep, "sparse": sparse,
             "description": description, "dataset": dataset}
    params = {name: value for name, value in given.items() if value is not None}
    for name, value in params.items():
        if is_matrix(value) or isinstance(value, list):
            raise DMLRuntimeError(f"write({path!r}): parameter {name} must be a scalar, "
                                  f"got {type_name(value)}")
    write_value(x, path, params)
