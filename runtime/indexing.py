"""Right and left indexing with DML's 1-based, inclusive ranges and bounds checks."""
from __future__ import annotations

import numpy as np

from .errors import DMLRuntimeError
from .lists import DMLList
from .values import is_matrix, to_int, type_name

# A resolved index for one dimension: (lower, upper) 1-based inclusive, or None for "all".
Bounds = tuple[int, int] | None


def index_bounds(lower, upper, is_range: bool) -> Bounds:
    if lower is None and upper is None:
        return None
    if isinstance(lower, str) and not is_range:  # l["name"] of a list; a matrix converts later
        return lower, lower
    first = to_int(lower, "index")
    last = to_int(upper, "index") if is_range else first
    return first, last


def _slice(bounds: Bounds, extent: int, axis: str, name: str, shape, empty_ok: bool = False) -> slice:
    """empty_ok: the range 1:0 selects nothing. SystemDS gives M[, 1:k] no columns when it knows
    k = 0 at compile time (and a:(a-1) then too), but refuses an empty range it meets only at run
    time, 3:1, and empty ranges when left indexing; without constant propagation, kerasdml takes
    the common 1:k with k = 0 as empty and refuses the others."""
    if bounds is None:
        return slice(0, extent)
    first, last = bounds
    if isinstance(first, str):
        first = last = to_int(first, "index")
    if empty_ok and (first, last) == (1, 0):
        return slice(0, 0)
    if first < 1 or last > extent or first > last:
        shown = f"{first}" if first == last else f"{first}:{last}"
        raise DMLRuntimeError(f"{axis} index {shown} out of bounds for `{name}` "
                              f"({type_name_for(shape)}, {axis}s 1..{extent})")
    return slice(first - 1, last)


def checked_slice(bounds: Bounds, extent: int, axis: str, name: str, shape,
                  empty_ok: bool = False) -> slice:
    """The 0-based slice of a bounds pair, with the bounds check every indexing path shares
    (empty_ok: reading, where 1:0 selects nothing)."""
    return _slice(bounds, extent, axis, name, shape, empty_ok)


def type_name_for(shape) -> str:
    return f"matrix {shape[0]}x{shape[1]}"


def read_index(matrix, rows: Bounds, cols: Bounds, name: str) -> np.ndarray:
    """`X[rows, cols]`: always a matrix (a copy), even for a single cell; `l[i]` of a list is
    a list."""
    if isinstance(matrix, DMLList):
        if cols is not None:
            raise DMLRuntimeError(f"list `{name}` has one dimension: index it as {name}[i]")
        return matrix.sublist(rows, name)
    if not is_matrix(matrix):
        raise DMLRuntimeError(f"cannot index `{name}`: it is a {type_name(matrix)}, not a matrix")
    r = checked_slice(rows, matrix.shape[0], "row", name, matrix.shape, empty_ok=True)
    c = checked_slice(cols, matrix.shape[1], "column", name, matrix.shape, empty_ok=True)
    return matrix[r, c].copy()


def check_scalar_write(shape, rows: Bounds, cols: Bounds, value, name: str) -> None:
    """A scalar is written into one cell only: SystemDS rejects `X[1, ] = 0` on a matrix of
    several columns ("Invalid index range of scalar leftindexing"); a region takes a matrix."""
    if not isinstance(value, (bool, int, float)):
        return
    r = _slice(rows, shape[0], "row", name, shape)
    c = _slice(cols, shape[1], "column", name, shape)
    if r.stop - r.start != 1 or c.stop - c.start != 1:
        raise DMLRuntimeError(f"left indexing `{name}[...]` of a {r.stop - r.start}x{c.stop - c.start} "
                              "region with a scalar: a scalar goes into a single cell (write a "
                              "matrix, e.g. matrix(0, rows=..., cols=...), into a larger region)")


def assign_index(target: np.ndarray, rows: Bounds, cols: Bounds, value, name: str, combine=None) -> None:
    """`X[rows, cols] = value` in place; a scalar goes into one cell, a matrix must fit the region
    (`X[rows, cols] += scalar` updates a region: the combined value is a matrix)."""
    r = _slice(rows, target.shape[0], "row", name, target.shape)
    c = _slice(cols, target.shape[1], "column", name, target.shape)
    if combine is not None:
        value = combine(target[r, c], value)
    check_scalar_write(target.shape, rows, cols, value, name)
    if is_matrix(value):
        region = (r.stop - r.start, c.stop - c.start)
        if value.shape != region:
            raise DMLRuntimeError(f"left indexing `{name}[...]` of a {region[0]}x{region[1]} region with a "
                                  f"{type_name(value)}: dimensions do not match")
        target[r, c] = value
    elif isinstance(value, (bool, int, float)):
        target[r, c] = float(value)
    else:
        raise DMLRuntimeError(f"cannot assign a {type_name(value)} into matrix `{name}`")
