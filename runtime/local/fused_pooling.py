"""relu and max pooling, forward and backward, as one pass over a batch of activations.

A layer `relu -> max_pool` reads its convolution's output, writes the relu, reads it back for
the pool and writes the pool; its gradient writes the pool's gradient and reads it back for the
relu's. Here both steps run on a few images at a time, so the middle matrix is read back while
it is still in cache (and never written at all when nothing needs it later). Every cell is
computed by the same operation as in the plain path (np.maximum with a zero of the dtype, the
pool kernels per image, np.multiply by the comparison; the native pool gradient multiplies by
the comparison as it writes), so the bits are the plain path's.
"""
from __future__ import annotations

import numpy as np

from . import native
from .elementwise import row_blocks
from .geometry import Geom
from .pooling import max_pool_backward_batch, max_pool_backward_rows, max_pool_rows
from .scratch import scratch

# images processed at once: about this many cells of the widest matrix (a few hundred KB)
_CELLS = 1 << 15


def relu_max_pool(X: np.ndarray, g: Geom, keep_relu: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """(max_pool(max(X, 0)), max(X, 0) or None): the relu matrix only when keep_relu."""
    pooled = np.empty((g.N, g.out_cols), dtype=X.dtype)
    relu = np.empty(X.shape, dtype=X.dtype) if keep_relu else None
    zero = X.dtype.type(0)

    def rows_pass(rows: slice) -> None:
        count = rows.stop - rows.start
        target = relu[rows] if keep_relu else scratch("relu_max_pool", (count, g.in_cols), X.dtype)
        np.maximum(X[rows], zero, out=target)
        max_pool_rows(g, target, pooled[rows])
    row_blocks(g.N, g.in_cols, rows_pass, _CELLS)
    return pooled, relu


def max_pool_backward_relu(X: np.ndarray, dout: np.ndarray, signs: np.ndarray, g: Geom) -> np.ndarray:
    """max_pool_backward(X, dout) * (signs > 0): the gradient of relu -> max_pool."""
    if native.enabled():           # the kernel applies the relu's gradient as it writes
        return max_pool_backward_batch(g, *map(np.ascontiguousarray, (X, dout, signs)))
    gradient = np.empty((g.N, g.in_cols), dtype=X.dtype)

    def rows_pass(rows: slice) -> None:
        max_pool_backward_rows(g, X[rows], dout[rows], gradient[rows], signs[rows])
    row_blocks(g.N, g.in_cols, rows_pass, _CELLS)
    return gradient

