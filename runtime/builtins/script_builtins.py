"""A few of the builtins SystemDS writes in DML (its scripts/builtin folder), done natively:
toOneHot, softmax, union, setdiff. Each gives what SystemDS' script gives (softmax through
kerasdml's own exp and rowSums, for the same digits); the other script builtins are named in
unsupported.py."""
from __future__ import annotations

import numpy as np

from ..errors import DMLRuntimeError
from ..values import dims, require_matrix, to_int
from .aggregates import row_maxs, row_sums
from .elementwise import apply_unary
from .registry import builtin


@builtin("toOneHot")
def to_one_hot(X, numClasses):
    """Row i has a 1 in column X[i] (values 1..numClasses): table(seq(1, n), X, n, numClasses)."""
    x = require_matrix(X, "toOneHot: X")
    classes = to_int(numClasses, "toOneHot: numClasses")
    if x.shape[1] != 1:
        raise DMLRuntimeError(f"toOneHot: X must be a column vector of class labels, got {dims(x)}")
    if x.size and classes < np.max(x):    # SystemDS' own check (its stop message)
        raise DMLRuntimeError("toOneHot: numClasses must be >= largest value in X to prevent cropping")
    labels = x[:, 0]
    if x.size and (np.isnan(labels).any() or np.min(labels) < 1):
        raise DMLRuntimeError("toOneHot: the class labels must be at least 1")
    columns = labels.astype(np.int64) - 1     # table() truncates fractional categories
    result = np.zeros((x.shape[0], classes), dtype=_float_dtype(x))
    result[np.arange(x.shape[0]), columns] = 1.0
    return result


@builtin("softmax")
def softmax(S):
    """Each row's softmax, as SystemDS' nn softmax layer computes it: exp(S - rowMaxs(S)) divided
    by its rowSums (Kahan sums; exp cell by cell like the exp builtin)."""
    scores = require_matrix(S, "softmax: S")
    unnormalized = apply_unary("exp", scores - row_maxs(scores))
    return unnormalized / row_sums(unnormalized)


@builtin("union")
def union(X, Y):
    """The distinct values of two column vectors as a column, in order of first appearance in
    rbind(X, Y): SystemDS' unique(rbind(X, Y)) keeps that order (unique of a stored matrix lists
    Java HashSet order instead, see distinct.py)."""
    x, y = _column(X, "union", "X"), _column(Y, "union", "Y")
    values = dict.fromkeys(np.vstack([x, y]).ravel().tolist())
    return np.array(list(values), dtype=_float_dtype(x)).reshape(-1, 1)


@builtin("setdiff")
def setdiff(X, Y):
    """The distinct values of X that are not in Y, ascending, as a column."""
    x, y = require_matrix(X, "setdiff: X"), require_matrix(Y, "setdiff: Y")
    kept = np.setdiff1d(x.ravel(), y.ravel())   # sorted and distinct
    if kept.size == 0:
        return np.zeros((1, 1), dtype=_float_dtype(x))  # SystemDS' removeEmpty of nothing gave one zero
    return kept.astype(_float_dtype(x)).reshape(-1, 1)


def _float_dtype(x: np.ndarray):
    """The run's precision, which the inputs carry (float32 under precision="single")."""
    return x.dtype if x.dtype.kind == "f" else np.float64


def _column(value, function: str, name: str) -> np.ndarray:
    x = require_matrix(value, f"{function}: {name}")
    if x.shape[1] != 1:
        raise DMLRuntimeError(f"{function}: {name} must be a column vector, got {dims(x)}")
    return x
