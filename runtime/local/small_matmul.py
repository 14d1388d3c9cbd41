"""Small dense matrix products summed in the order SystemDS' single-node kernels sum them.

BLAS adds up an inner product in its own order and with fused multiply-adds, so its last digits
differ from SystemDS' (LibMatrixMult), and a short program printing a gradient shows it. For
float64 operands of at most SMALL_CELLS cells these kernels reproduce SystemDS' sums, for the
shapes where probes of SystemDS 3.4 confirmed the order:

* a column-vector right operand (matrix-vector, and a dot product): per row, the first
  (inner % 8) products one by one, then blocks of 8 products added up left to right, each block
  added to the total;
* a row vector times a matrix: in the first (cols % VECTOR_LANES) columns one product first if
  the inner dimension is odd, then the products of two rows at a time, their sum added to the
  total; the other columns in the vector lanes (below);
* a right operand of 2 to 32 columns and fewer columns than the left has rows: each cell as the
  dot product above;
* else a left operand of more than 16 rows, or of fewer and a right operand of fewer than
  VECTOR_LANES columns (up to 1024 cells): per row, the inner dimension in blocks of 24; in each
  block the products of the nonzero cells, the first (count % 4) of them summed as one group,
  then groups of 4, each group's sum added to the total;
* a left operand of at most 16 rows times a right one of VECTOR_LANES columns or more: the first
  (cols % VECTOR_LANES) columns as above, the others in SystemDS' Java vector lanes, one fused
  multiply-add per nonzero product in order, which is how BLAS's matrix-matrix kernel
  (OpenBLAS, with FMA) sums a cell too, so BLAS computes those columns (right operands without
  NaN or infinities: SystemDS skips the zero cells of the left one, which BLAS multiplies).

Every product and sum is a separate numpy operation (no fusing), vectorized across the cells
that do not depend on each other, so the cost grows with the operations; products beyond
MAX_STEPS of them, and other shapes, return None: BLAS computes them.
"""
from __future__ import annotations

import numpy as np

SMALL_CELLS = 1 << 14
MAX_STEPS = 1024    # numpy operations one product may take
_DOT_BLOCK = 8
_SKINNY_COLUMNS = 32
_SHORT_LEFT_ROWS = 16
VECTOR_LANES = 8       # doubles per vector in SystemDS' kernels on an AVX-512 machine
VECTOR_MATRIX_COLUMNS = VECTOR_LANES - 1   # a row vector's product, all of it in scalar lanes
_K_BLOCK = 24
_BLOCKED_MAX_CELLS = 1024  # the general product loops over rows in Python: small left sides only
_GROUP = 4


def small_product(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """a @ b in SystemDS' order, or None when the product is not one of the shapes above."""
    if not (a.dtype == b.dtype == np.float64) or a.size + b.size > SMALL_CELLS:
        return None
    rows, inner = a.shape
    cols = b.shape[1]
    if inner <= 1 or rows == 0 or cols == 0:
        return None                          # single products: any order gives these bits
    if cols == 1:
        return dot_rows(a, b) if inner <= MAX_STEPS else None
    if rows == 1:
        if inner // 2 > MAX_STEPS or (cols > VECTOR_MATRIX_COLUMNS and not np.isfinite(b).all()):
            return None
        return _in_vector_lanes(a, b, lambda part: vector_matrix(a[0], part).reshape(1, -1))
    if cols <= _SKINNY_COLUMNS and rows > cols:
        if inner * cols > MAX_STEPS:
            return None
        return dot_rows(a, b)
    if rows * inner > _BLOCKED_MAX_CELLS:
        return None
    if rows > _SHORT_LEFT_ROWS or cols < VECTOR_LANES:
        return blocked_product(a, b)
    if not np.isfinite(b).all():
        return None
    return _in_vector_lanes(a, b, lambda part: blocked_product(a, part))


def dot_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b (b of few columns), each cell the dot product of a row of a with a column of b in
    SystemDS' order; every cell's sum takes the same steps, so all cells are summed at once (one
    numpy operation per step over the whole result, not per column)."""
    inner = a.shape[1]
    total = np.zeros((a.shape[0], b.shape[1]))
    rest = inner % _DOT_BLOCK
    for k in range(rest):
        total += a[:, k:k + 1] * b[k]
    for start in range(rest, inner, _DOT_BLOCK):
        block = a[:, start:start + 1] * b[start]
        for k in range(start + 1, start + _DOT_BLOCK):
            block += a[:, k:k + 1] * b[k]
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


def blocked_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b row by row, the inner dimension in blocks of 24, nonzero products grouped by 4."""
    rows, inner = a.shape
    result = np.zeros((rows, b.shape[1]))
    for i in range(rows):
        row = a[i].tolist()
        total = result[i]
        for start in range(0, inner, _K_BLOCK):
            nonzero = [k for k in range(start, min(inner, start + _K_BLOCK)) if row[k] != 0]
            rest = len(nonzero) % _GROUP
            groups = ([nonzero[:rest]] if rest else []) + \
                [nonzero[g:g + _GROUP] for g in range(rest, len(nonzero), _GROUP)]
            for group in groups:
                partial = row[group[0]] * b[group[0]]
                for k in group[1:]:
                    partial = partial + row[k] * b[k]
                total += partial
    return result



def _in_vector_lanes(a: np.ndarray, b: np.ndarray, scalar_lanes) -> np.ndarray:
    """a @ b: the first (cols % VECTOR_LANES) columns by scalar_lanes(those columns of b), the
    others by BLAS's matrix-matrix kernel (see above; a single row would go to its
    matrix-vector kernel, which sums in another order, so it is given twice)."""
    scalar = b.shape[1] % VECTOR_LANES
    if scalar == b.shape[1]:
        return scalar_lanes(b)
    result = np.empty((a.shape[0], b.shape[1]))
    if scalar:
        result[:, :scalar] = scalar_lanes(np.ascontiguousarray(b[:, :scalar]))
    rows = a if a.shape[0] > 1 else np.vstack([a, a])
    result[:, scalar:] = np.dot(rows, np.ascontiguousarray(b[:, scalar:]))[:a.shape[0]]
    return result
