"""Elementwise operations on large matrices, as blocks of rows on the kernel worker pool.

An elementwise pass over a LeNet activation (100 x 25,088 cells) costs about as much as a
small matrix product, and numpy runs it on one core. Cut into blocks of rows, the passes of a
binary ufunc run on all workers; every cell is computed by the same loop as before, so the
result is the same bits. Operands broadcast as DML allows: a matrix of the result's shape,
a column vector (rows x 1), a row vector (1 x cols) or a scalar.
"""
from __future__ import annotations

import numpy as np

from . import native
from .parallel import run_chunks, split, workers

_MIN_CELLS = 1 << 18        # below this one pass is too short to share
_BLOCKS = 4


def binary(function, left, right, dtype=None, out=None):
    """function(left, right) for a numpy ufunc, in row blocks when the result is large.

    With a dtype, the result is written in it directly (a comparison's booleans as the
    operands' floats, without a second pass to convert them). With out (a ufunc, an array of
    the result's shape and dtype, possibly an operand), the result is written there."""
    shape = _result_shape(left, right)
    if (not isinstance(function, np.ufunc) or shape is None or workers() < 2
            or shape[0] * shape[1] < _MIN_CELLS or shape[0] < _BLOCKS):
        if out is not None:
            return function(left, right, out=out)
        result = function(left, right)
        return result if dtype is None or result.dtype == dtype else result.astype(dtype)
    if out is None:
        if dtype is None:
            dtype = function(_corner(left), _corner(right)).dtype
        out = np.empty(shape, dtype=dtype)

    def block(first: int, last: int) -> None:
        function(_rows(left, first, last), _rows(right, first, last), out=out[first:last])
    run_chunks(block, split(shape[0], _BLOCKS))
    return out


def _result_shape(left, right):
    shapes = [x.shape for x in (left, right) if isinstance(x, np.ndarray)]
    if not shapes or any(len(s) != 2 for s in shapes):
        return None
    return max(s[0] for s in shapes), max(s[1] for s in shapes)


def _corner(value):
    return value[:1, :1] if isinstance(value, np.ndarray) else value


def _rows(value, first: int, last: int):
    """The operand's part for result rows first..last-1 (a row vector or scalar as it is)."""
    if isinstance(value, np.ndarray) and value.shape[0] != 1:
        return value[first:last]
    return value


# Rows of a fused pass processed at once: their temporaries stay in the L2 cache.
_FUSED_CELLS = 1 << 14


def _by_rows(out: np.ndarray, rows_pass) -> np.ndarray:
    """Runs rows_pass(rows) on slices of a few rows of out at a time, row blocks on the workers:
    a fused pass whose temporaries are still in cache when the next step reads them."""
    row_blocks(out.shape[0], out.shape[1], rows_pass)
    return out


def row_blocks(rows: int, width: int, rows_pass, cells: int = _FUSED_CELLS) -> None:
    """rows_pass(slice) over 0..rows in slices of about `cells` cells of a `width`-wide matrix
    (at least one row), the slices' ranges shared by the workers."""
    step = max(1, cells // max(width, 1))

    def block(first: int, last: int) -> None:
        for start in range(first, last, step):
            rows_pass(slice(start, min(last, start + step)))
    pieces = _BLOCKS if workers() > 1 and rows * width >= _MIN_CELLS else 1
    if rows:
        run_chunks(block, split(rows, min(pieces, rows)))


def multiply_where_positive(values: np.ndarray, signs: np.ndarray, out=None) -> np.ndarray:
    """values * (signs > 0) for two float matrices of one shape and dtype: the same bits as the
    comparison and the product one after the other, in one pass over memory (into out, which
    may be values, when given)."""
    if out is None:
        out = np.empty(values.shape, dtype=values.dtype)
    return _by_rows(out, lambda rows: np.multiply(values[rows], np.greater(signs[rows], 0),
                                                  out=out[rows]))


def subtract_scaled(values: np.ndarray, step: np.ndarray, scale: float, out=None) -> np.ndarray:
    """values - step * scale for two float matrices of one shape and dtype and a number (a
    gradient step): the same bits as the product and the difference one after the other, in
    one pass over memory (into out, which may be values, when given)."""
    if out is None:
        out = np.empty(values.shape, dtype=values.dtype)

    def rows_pass(rows: slice) -> None:
        product = np.multiply(step[rows], scale, out=None if out is values else out[rows])
        np.subtract(values[rows], product, out=out[rows])
    return _by_rows(out, rows_pass)


def clamp(values: np.ndarray, low: float, high: float, out=None) -> np.ndarray:
    """min(max(values, low), high) for a float matrix and two numbers that are not NaN (relu6,
    hard_tanh): the bits of numpy's maximum then minimum, as DML's max/min of a matrix and a
    number compute them (the bounds in the matrix's dtype), in one pass over memory (into out,
    which may be values, when given). The native kernel where it is built, else the two ufuncs
    on a few rows at a time."""
    low, high = values.dtype.type(float(low)), values.dtype.type(float(high))
    if out is None:
        out = np.empty(values.shape, dtype=values.dtype)
    if native.enabled() and values.flags.c_contiguous:
        _native_rows(lambda first, last: native.clamp(values[first:last], low, high,
                                                      out[first:last]), values, _MIN_CELLS)
        return out

    def rows_pass(rows: slice) -> None:
        np.maximum(values[rows], low, out=out[rows])
        np.minimum(out[rows], high, out=out[rows])
    return _by_rows(out, rows_pass)


# cells from which an erf or GELU pass is shared by the workers: each cell costs an erf call, so
# much smaller matrices than a plain pass's pay for the hand-off
_MIN_ERF_CELLS = 1 << 14


def erf(values: np.ndarray) -> np.ndarray | None:
    """erf.dml's forward, erf(x), in one native pass (the C library's erf in place of the
    body's series); None where the native kernels are off or values is not C-contiguous."""
    return _cellwise(native.erf_forward, values)


def gelu(values: np.ndarray) -> np.ndarray | None:
    """gelu.dml's forward in its exact form, 0.5 * x * (1 + erf(x / sqrt(2))), in one native
    pass (gelu_kernels.h); None as erf's."""
    return _cellwise(native.gelu_forward, values)


def _cellwise(kernel, values: np.ndarray) -> np.ndarray | None:
    """kernel(values, out) of a native cell-by-cell pass, shared by the workers on large
    matrices; None where the native kernels are off or values is not C-contiguous."""
    if not (native.enabled() and values.flags.c_contiguous):
        return None
    out = np.empty(values.shape, dtype=values.dtype)
    _native_rows(lambda first, last: kernel(values[first:last], out[first:last]),
                 values, _MIN_ERF_CELLS)
    return out


def gelu_gradient(dout: np.ndarray, values: np.ndarray) -> np.ndarray | None:
    """gelu.dml's backward in its exact form, dout * (Phi(x) + x * phi(x)), in one native
    pass; None as gelu's."""
    if not (native.enabled() and values.flags.c_contiguous and dout.flags.c_contiguous):
        return None
    dx = np.empty(values.shape, dtype=values.dtype)
    _native_rows(lambda first, last: native.gelu_backward(dout[first:last], values[first:last],
                                                          dx[first:last]), values, _MIN_ERF_CELLS)
    return dx


def _native_rows(call, values: np.ndarray, min_cells: int) -> None:
    """call(first, last) over ranges of values' rows, shared by the workers from min_cells."""
    rows = values.shape[0]
    pieces = _BLOCKS if workers() > 1 and values.size >= min_cells else 1
    run_chunks(call, split(rows, min(pieces, max(rows, 1))))
