"""Small dense matrix products summed in the order SystemDS' single-node kernels sum them.

BLAS adds up an inner product in its own order and with fused multiply-adds, so its last digits
differ from SystemDS' (LibMatrixMult), and a short program printing a gradient shows it. For
float64 operands of at most SMALL_CELLS cells these kernels reproduce SystemDS' sums:

* a column-vector right operand (matrix-vector, and a dot product): per row, the first
  (inner % 8) products one by one, then blocks of 8 products added up left to right, each block
  added to the total;
* a row-vector left operand (vector-matrix): one product first if the inner dimension is odd,
  then the products of two rows at a time, their sum added to the total;
* a right operand of at most 32 columns (a skinny right side): each cell as the dot product
  above.

Every product and sum is a separate numpy operation (no fusing), vectorized across the cells
that do not depend on each other, so the cost grows with the inner dimension times the columns;
products beyond MAX_STEPS of them, and other shapes, return None: BLAS computes them.
"""
from __future__ import annotations

import numpy as np

SMALL_CELLS = 1 << 14
MAX_STEPS = 1024    # numpy operations one product may take
_DOT_BLOCK = 8
_SKINNY_COLUMNS = 32


def small_product(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """a @ b in SystemDS' order, or None when the product is not one of the shapes above."""
    if not (a.dtype == b.dtype == np.float64) or a.size + b.size > SMALL_CELLS:
        return None
    rows, inner = a.shape
    cols = b.shape[1]
    if inner <= 1 or rows == 0 or cols == 0:
        return None                          # single products: any order gives these bits
    if (inner // 2 if rows == 1 and cols > 1 else inner * cols) > MAX_STEPS:
        return None
    if cols == 1:
        return dot_rows(a, b[:, 0]).reshape(-1, 1)
    if rows == 1:
        return vector_matrix(a[0], b).reshape(1, -1)
    if cols <= _SKINNY_COLUMNS:
        return np.column_stack([dot_rows(a, b[:, j]) for j in range(cols)])
    return None


def dot_rows(a: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """The dot product of each row of a with vector."""
    inner = a.shape[1]
    weights = vector.tolist()
    total = np.zeros(a.shape[0])
    rest = inner % _DOT_BLOCK
    for k in range(rest):
        total += a[:, k] * weights[k]
    for start in range(rest, inner, _DOT_BLOCK):
        block = a[:, start] * weights[start]
        for k in range(start + 1, start + _DOT_BLOCK):
            block += a[:, k] * weights[k]
        total += block
    return total


def vector_matrix(vector: np.ndarray, b: np.ndarray) -> np.ndarray:
    """vector (length inner) times b (inner x cols), two rows of b at a time."""
    inner = b.shape[0]
    weights = vector.tolist()
    total = np.zeros(b.shape[1])
    first = inner % 2
    if first:
        total += weights[0] * b[0]
    for k in range(first, inner, 2):
        total += weights[k] * b[k] + weights[k + 1] * b[k + 1]
    return total
