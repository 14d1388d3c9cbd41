"""Image rows between Keras' (h, w, c) order and DML's channels-first (c, h, w) order: dml_lib's
nn/util/layout.dml run as one call by runtime/intrinsics.py.

Each row of an image batch is a matrix of pixels by channels in one order and of channels by
pixels in the other, so either direction transposes every row. The values are moved as they are
into a new C-contiguous array (never a view of the input, which the caller may later overwrite
in place): the result is the DML body's bit for bit, NaN payloads and the sign of zeros included.
"""
from __future__ import annotations

import numpy as np


def channels_first(X: np.ndarray, C: int, H: int, W: int) -> np.ndarray:
    """N x (H*W*C) rows, (h, w, c) order -> N x (C*H*W) rows, (c, h, w) order."""
    return _rows_transposed(X, H * W, C)


def channels_last(X: np.ndarray, C: int, H: int, W: int) -> np.ndarray:
    """N x (C*H*W) rows, (c, h, w) order -> N x (H*W*C) rows, (h, w, c) order."""
    return _rows_transposed(X, C, H * W)


def _rows_transposed(X: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Every row of X read as a rows x cols matrix (row-major) and written transposed."""
    N = X.shape[0]
    out = np.empty((N, rows * cols), dtype=X.dtype)
    out.reshape(N, cols, rows)[...] = X.reshape(N, rows, cols).transpose(0, 2, 1)
    return out
