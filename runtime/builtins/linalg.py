"""Linear algebra builtins: solve, inv, qr, cholesky, det, lu, eigen, svd.

SystemDS computes these with Apache Commons Math. det and lu use an LU decomposition with partial
pivoting, solve, inv and qr a Householder QR, cholesky the row-wise Cholesky scheme, each done
here in the same order of operations, so that the results match to the last bit:
det(matrix("1 2 3 4", 2, 2)) is exactly -2.0, a singular matrix has determinant 0.0. eigen and
svd use LAPACK through numpy. eigen gives the eigenvalues in ascending
order (a column vector) and the eigenvectors as columns; svd gives U, the singular values as a
diagonal matrix, and V. Eigen- and singular vectors are unique only up to their sign.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import DMLRuntimeError
from ..values import dims, is_matrix, type_name
from .registry import builtin

_SINGULARITY_THRESHOLD = 1e-11  # below it an LU pivot counts as zero, as in Commons Math
_SYMMETRY_TOLERANCE = 1e-14     # cholesky's relative one, as SystemDS passes it
_POSITIVITY_THRESHOLD = 1e-10   # a smaller cholesky pivot means not positive definite


def _square(value, function: str, name: str = "A") -> np.ndarray:
    if not is_matrix(value):
        raise DMLRuntimeError(f"{function}: {name} must be a matrix, got {type_name(value)}")
    if value.shape[0] != value.shape[1]:
        raise DMLRuntimeError(f"{function}: {name} must be a square matrix, got {dims(value)}")
    return np.array(value, dtype=np.float64)


def _float_like(result: np.ndarray, like: np.ndarray) -> np.ndarray:
    return result.astype(like.dtype if like.dtype.kind == "f" else np.float64, copy=False)


def _lu(a: np.ndarray):
    """Crout LU with partial pivoting: (combined L\\U, row permutation, even swaps, singular)."""
    lu = a.copy()
    n = lu.shape[0]
    permutation = np.arange(n)
    even = True
    for col in range(n):
        for row in range(col):  # the upper part of this column, one row after the other
            for i in range(row):
                lu[row, col] -= lu[row, i] * lu[i, col]
        rest = lu[col:, col]    # the lower part: each cell's subtractions in order of i
        for i in range(col):
            rest -= lu[col:, i] * lu[i, col]
        pivot = col + int(np.argmax(np.abs(rest)))
        if abs(lu[pivot, col]) < _SINGULARITY_THRESHOLD:
            return lu, permutation, even, True
        if pivot != col:
            lu[[pivot, col]] = lu[[col, pivot]]
            permutation[[pivot, col]] = permutation[[col, pivot]]
            even = not even
        lu[col + 1:, col] /= lu[col, col]
    return lu, permutation, even, False


@builtin("det")
def det(target):
    a = _square(target, "det", "the input")
    lu, _, even, singular = _lu(a)
    if singular:
        return 0.0
    result = 1.0 if even else -1.0
    for value in np.diagonal(lu):
        result *= float(value)
    return result


@builtin("lu", outputs=3)
def lu(target):
    """[P, L, U] = lu(A) with P %*% A = L %*% U."""
    a = _square(target, "lu", "the input")
    combined, permutation, _, singular = _lu(a)
    if singular:
        raise DMLRuntimeError("lu: the matrix is singular")
    n = a.shape[0]
    lower = np.tril(combined, -1) + np.eye(n)
    upper = np.triu(combined)
    pivots = np.zeros((n, n))
    pivots[np.arange(n), permutation] = 1.0
    return tuple(_float_like(m, target) for m in (pivots, lower, upper))


def _householder(a: np.ndarray):
    """Householder QR of an m x n matrix: (the transposed working array holding the reflection
    vectors and R's upper part, R's diagonal). Sums run in the order Commons Math's do."""
    rows, cols = a.shape
    work = a.T.copy()                       # work[j] is column j
    diagonal = np.zeros(min(rows, cols))
    for minor in range(min(rows, cols)):
        vector = work[minor]
        norm_squared = 0.0
        for value in vector[minor:].tolist():
            norm_squared += value * value
        alpha = -math.sqrt(norm_squared) if vector[minor] > 0 else math.sqrt(norm_squared)
        diagonal[minor] = alpha
        if alpha == 0.0:
            continue
        vector[minor] -= alpha
        later = work[minor + 1:]            # the columns to the right, reflected
        dots = np.zeros(later.shape[0])
        for row in range(minor, rows):
            dots -= later[:, row] * vector[row]
        dots /= alpha * vector[minor]
        later[:, minor:] -= dots[:, None] * vector[None, minor:]
    return work, diagonal


def _qr_solve(a: np.ndarray, b: np.ndarray, function: str) -> np.ndarray:
    """x with a %*% x = b through the Householder QR of a square a."""
    work, diagonal = _householder(a)
    if np.any(diagonal == 0):
        raise DMLRuntimeError(f"{function}: the matrix is singular")
    y = b.copy()
    rows = a.shape[0]
    for minor in range(diagonal.size):      # y = t(Q) %*% b, one reflection at a time
        vector = work[minor]
        factor = 1.0 / (diagonal[minor] * vector[minor])
        alpha = np.zeros(y.shape[1])
        for row in range(minor, rows):
            alpha += vector[row] * y[row]
        alpha *= factor
        y[minor:] += alpha[None, :] * vector[minor:, None]
    for j in range(diagonal.size - 1, -1, -1):  # back substitution with R
        y[j] *= 1.0 / diagonal[j]
        y[:j] -= y[j][None, :] * work[j, :j, None]
    return y


@builtin("solve")
def solve(A, b):
    """The x with A %*% x = b, for a square A (through a QR decomposition, as in SystemDS)."""
    a = _square(A, "solve(A, b)")
    if not is_matrix(b) or b.shape[0] != a.shape[0]:
        raise DMLRuntimeError(f"solve(A, b): b must be a matrix with {a.shape[0]} rows, got "
                              f"{type_name(b) if not is_matrix(b) else dims(b)}")
    return _float_like(_qr_solve(a, np.array(b, dtype=np.float64), "solve(A, b)"), A)


@builtin("inv", "inverse")
def inv(target):
    """The inverse, solving for the identity through QR as SystemDS does: a matrix that is
    singular only up to rounding gives huge values rather than an error."""
    a = _square(target, "inv", "the input")
    return _float_like(_qr_solve(a, np.eye(a.shape[0]), "inv"), target)


@builtin("qr", outputs=2)
def qr(target):
    """[H, R] = qr(A): the Householder vectors (m x n, lower trapezoidal) and R (m x n)."""
    if not is_matrix(target):
        raise DMLRuntimeError(f"qr: the input must be a matrix, got {type_name(target)}")
    work, diagonal = _householder(np.array(target, dtype=np.float64))
    rows, cols = target.shape
    vectors = np.zeros((rows, cols))
    upper = np.zeros((rows, cols))
    for j in range(diagonal.size):
        vectors[j:, j] = work[j, j:] / -diagonal[j]
        upper[j, j] = diagonal[j]
        upper[j, j + 1:] = work[j + 1:, j]
    return _float_like(vectors, target), _float_like(upper, target)


@builtin("cholesky")
def cholesky(target):
    """The lower triangular L with L %*% t(L) = A, for a symmetric positive definite A."""
    a = _square(target, "cholesky", "the input")
    largest = np.maximum(np.abs(a), np.abs(a.T))
    if np.any(np.abs(a - a.T) > _SYMMETRY_TOLERANCE * largest):
        raise DMLRuntimeError("cholesky: the matrix must be symmetric")
    upper = np.triu(a)                      # t(L), computed row by row
    for i in range(a.shape[0]):
        if upper[i, i] <= _POSITIVITY_THRESHOLD:
            raise DMLRuntimeError("cholesky: the matrix must be positive definite")
        upper[i, i] = math.sqrt(upper[i, i])
        upper[i, i + 1:] *= 1.0 / upper[i, i]
        rest = upper[i, i + 1:]
        upper[i + 1:, i + 1:] -= np.triu(np.outer(rest, rest))
    return _float_like(upper.T.copy(), target)


@builtin("eigen", outputs=2)
def eigen(target):
    """[values, vectors] = eigen(A): ascending eigenvalues (n x 1), eigenvectors as columns."""
    a = _square(target, "eigen", "the input")
    if np.array_equal(a, a.T):
        values, vectors = np.linalg.eigh(a)
    else:
        values, vectors = np.linalg.eig(a)
        if np.iscomplexobj(values) and np.any(values.imag != 0):
            raise DMLRuntimeError("eigen: the matrix has complex eigenvalues")
        order = np.argsort(values.real, kind="stable")
        values, vectors = values.real[order], vectors.real[:, order]
    return _float_like(values.reshape(-1, 1), target), _float_like(vectors, target)


@builtin("svd", outputs=3)
def svd(target):
    """[U, S, V] = svd(A) with A = U %*% S %*% t(V), S diagonal (the singular values)."""
    if not is_matrix(target):
        raise DMLRuntimeError(f"svd: the input must be a matrix, got {type_name(target)}")
    u, s, vt = np.linalg.svd(np.asarray(target, dtype=np.float64), full_matrices=False)
    return tuple(_float_like(m, target) for m in (u, np.diag(s), vt.T))
