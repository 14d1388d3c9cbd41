"""Matrix products on the kernel worker pool: one BLAS call per block of rows (or columns).

With BLAS itself single-threaded (see threads.py), this is where a product uses several cores:
the rows of the left operand (or the columns of the right) are cut into blocks, each multiplied
on a worker thread straight into its part of the result. Every result cell is still computed by
one BLAS call over the whole inner dimension, and the blocks depend on the shapes alone, not on
the number of workers, so the result is the same on any machine. Small products run in one
call.
"""
from __future__ import annotations

import numpy as np

from .parallel import run_chunks, split

_BLOCKS = 8                 # fixed, so that results do not depend on the worker count
_MIN_FLOPS = 4_000_000      # below this a product is cheaper than handing it to threads
_MIN_EDGE = 32              # rows (columns) per block at least
_INNER_PER_EDGE = 16        # and at least 1/16 of the inner dimension


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for 2-D float arrays of one dtype; anything else goes to numpy as it is."""
    rows, inner = a.shape
    cols = b.shape[1]
    if a.dtype != b.dtype or a.dtype.kind != "f" or 2 * rows * inner * cols < _MIN_FLOPS:
        return a @ b
    out = np.empty((rows, cols), dtype=a.dtype)
    if rows >= cols and rows >= 2 * _MIN_EDGE:
        def block(first: int, last: int) -> None:
            np.matmul(a[first:last], b, out=out[first:last])
        run_chunks(block, split(rows, _blocks(rows, inner)))
    elif cols >= 2 * _MIN_EDGE:
        def block(first: int, last: int) -> None:
            out[:, first:last] = a @ b[:, first:last]
        run_chunks(block, split(cols, _blocks(cols, inner)))
    else:
        return a @ b
    return out


def _blocks(extent: int, inner: int) -> int:
    """Blocks of the cut side (at least 2): up to _BLOCKS of at least _MIN_EDGE rows, and
    fewer over a deep inner dimension. Each block's BLAS call packs the whole other operand
    (inner x the uncut side): a weight gradient's t(X) %*% dY over 4,096 rows would pack it 8
    times to compute 32 rows each."""
    edge = max(_MIN_EDGE, inner // _INNER_PER_EDGE)
    return max(2, min(_BLOCKS, extent // edge))
