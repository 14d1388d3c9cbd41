"""Statistics builtins that SystemDS writes in DML (scripts/builtin), done natively: feature
scaling (scale, normalize, scaleMinMax, winsorize and their *Apply functions), error measures
(mse, rmse, mae, mape), logSumExp, dist, cor, outlier, confusionMatrix and getAccuracy.

Each computes SystemDS' formula through kerasdml's own kernels for the operations the script
uses (colMeans, colSums, quantile, t(X) %*% X, ...), so the printed digits are SystemDS'."""
from __future__ import annotations

import numpy as np

from ..errors import DMLRuntimeError
from ..operators import binary_operator, matmul, transposed_matmul
from ..values import dims, require_matrix, to_bool, to_double, to_string
from .aggregates import (col_maxs, col_means, col_mins, col_sds, col_sums, full_sum, max_, mean,
                         min_, row_maxs, row_sums)
from .elementwise import apply_unary, replace
from .registry import script_builtin
from .reorg import table
from .script_args import divide, float_dtype, minus, plus, times
from .statistics import quantile

_equal = binary_operator("==")


def _empty(like: np.ndarray) -> np.ndarray:
    """SystemDS' matrix(0, rows=0, cols=0): the value of an output that was not computed."""
    return np.zeros((0, 0), dtype=float_dtype(like))


def _given(value: np.ndarray) -> bool:
    return value.shape[0] > 0 and value.shape[1] > 0


def _matrices(function: str, **values) -> list[np.ndarray]:
    return [require_matrix(value, f"{function}: {name}") for name, value in values.items()]


# ---- scaling ----------------------------------------------------------------------------------

@script_builtin("scale", outputs=3)
def scale_columns(X, center=True, scale=True):
    """[Y, Centering, ScaleFactor]: X's columns centered by their means (Centering = colMeans,
    NaN means taken as 0), then divided by sqrt(colSums(Xc^2) / (nrow - 1)) (ScaleFactor, 0 and
    NaN taken as 1). A step not asked for leaves X as it is and its output a 0x0 matrix."""
    (x,) = _matrices("scale", X=X)
    centering = scale_factor = _empty(x)
    if to_bool(center, "scale: center"):
        centering = replace(col_means(x), np.nan, 0)
        x = minus(x, centering)
    if to_bool(scale, "scale: scale"):
        scale_factor = apply_unary("sqrt", divide(col_sums(times(x, x)), x.shape[0] - 1))
        scale_factor = replace(replace(scale_factor, np.nan, 1), 0, 1)
        x = divide(x, scale_factor)
    return x, centering, scale_factor


@script_builtin("scaleApply")
def scale_apply(X, Centering, ScaleFactor):
    """X - Centering, then / ScaleFactor, as scale() computed them; a 0x0 one is skipped."""
    x, centering, scale_factor = _matrices("scaleApply", X=X, Centering=Centering,
                                           ScaleFactor=ScaleFactor)
    if _given(centering):
        x = minus(x, centering)
    return divide(x, scale_factor) if _given(scale_factor) else x


@script_builtin("normalize", outputs=3)
def normalize(X):
    """[Y, cmin, cmax]: X's columns mapped to [0, 1] by their minimum and maximum."""
    (x,) = _matrices("normalize", X=X)
    lowest, highest = col_mins(x), col_maxs(x)
    return normalize_apply(x, lowest, highest), lowest, highest


@script_builtin("normalizeApply")
def normalize_apply(X, cmin, cmax):
    """(X - cmin) / (cmax - cmin), a zero range taken as 1."""
    x, lowest, highest = _matrices("normalizeApply", X=X, cmin=cmin, cmax=cmax)
    return divide(minus(x, lowest), replace(minus(highest, lowest), 0, 1))


@script_builtin("scaleMinMax", context=True)
def scale_min_max(context, X):
    """normalize's Y, after SystemDS' deprecation notice."""
    context.out.write("Deprecated scaleMinMax use normalize instead\n")
    (x,) = _matrices("scaleMinMax", X=X)
    return normalize_apply(x, col_mins(x), col_maxs(x))


# SystemDS declares winsorize's verbose without a default
_REQUIRED = object()


@script_builtin("winsorize", outputs=3)
def winsorize(X, ql=0.05, qu=0.95, verbose=_REQUIRED):
    """[Y, qLower, qUpper]: the ql and qu quantiles of each column (NaN counted as 0), and X
    clipped to them (verbose prints nothing)."""
    if verbose is _REQUIRED:
        raise DMLRuntimeError("winsorize: missing argument `verbose` (it has no default)")
    to_bool(verbose, "winsorize: verbose")
    (x,) = _matrices("winsorize", X=X)
    lower, upper = to_double(ql, "winsorize: ql"), to_double(qu, "winsorize: qu")
    counted = replace(x, np.nan, 0)
    columns = [counted[:, [i]] for i in range(x.shape[1])]
    bounds = np.array([[quantile(c, lower) for c in columns], [quantile(c, upper) for c in columns]],
                      dtype=counted.dtype).reshape(2, -1)
    lowest, highest = bounds[[0]], bounds[[1]]
    return winsorize_apply(x, lowest, highest), lowest, highest


@script_builtin("winsorizeApply")
def winsorize_apply(X, qLower, qUpper):
    """min(max(X, qLower), qUpper): X clipped to the bounds of each column."""
    x, lower, upper = _matrices("winsorizeApply", X=X, qLower=qLower, qUpper=qUpper)
    return min_(max_(x, lower), upper)


# ---- error measures ---------------------------------------------------------------------------

def _error_measure(function: str, errors: np.ndarray, P) -> tuple[np.ndarray, np.ndarray]:
    """[Z, Q]: the mean of the cell errors as a 1x1 matrix, and the P quantiles of all cells
    (row-major) as a row (0x0 without P)."""
    z = np.full((1, 1), mean(errors), dtype=errors.dtype)
    if P is None:
        return z, _empty(errors)
    (p,) = _matrices(function, P=P)
    if p.shape[0] == 0:
        return z, _empty(errors)
    if p.shape[1] != 1:
        raise DMLRuntimeError(f"{function}: P must be a column vector of probabilities, got {dims(p)}")
    return z, quantile(errors.reshape(-1, 1), p).T


@script_builtin("mse", outputs=2)
def mse(X, Y, P=None):
    """[Z, Q]: mean squared error of X against Y, and quantiles P of the squared errors."""
    x, y = _matrices("mse", X=X, Y=Y)
    difference = minus(x, y)
    return _error_measure("mse", times(difference, difference), P)


@script_builtin("rmse", outputs=2)
def rmse(X, Y, P=None):
    """[Z, Q]: the square roots of mse's outputs."""
    z, q = mse(X, Y, P)
    return apply_unary("sqrt", z), apply_unary("sqrt", q)


@script_builtin("mae", outputs=2)
def mae(X, Y, P=None):
    """[Z, Q]: mean absolute error of X against Y, and quantiles P of the absolute errors."""
    x, y = _matrices("mae", X=X, Y=Y)
    return _error_measure("mae", apply_unary("abs", minus(x, y)), P)


@script_builtin("mape", outputs=2)
def mape(X, Y, P=None):
    """[Z, Q]: mean of |X - Y| / |X| (X holds the true values), and its quantiles P."""
    x, y = _matrices("mape", X=X, Y=Y)
    return _error_measure("mape", divide(apply_unary("abs", minus(x, y)), apply_unary("abs", x)), P)


# ---- other statistics -------------------------------------------------------------------------

@script_builtin("logSumExp")
def log_sum_exp(M, margin="none"):
    """log(sum(exp(M))) over all cells ("none", a 1x1 matrix), each row ("rows") or each
    column ("cols"), shifted by the maximum for stability."""
    (m,) = _matrices("logSumExp", M=M)
    how = to_string(margin, "logSumExp: margin")
    if how == "rows":
        top = row_maxs(m)
        return plus(top, apply_unary("log", row_sums(apply_unary("exp", minus(m, top)))))
    if how == "cols":
        top = col_maxs(m)
        return plus(top, apply_unary("log", col_sums(apply_unary("exp", minus(m, top)))))
    if how == "none":
        top = max_(m)
        total = full_sum(apply_unary("exp", minus(m, top)))
        return np.full((1, 1), top + float(apply_unary("log", total)), dtype=m.dtype)
    raise DMLRuntimeError(f'logSumExp: margin must be "none", "rows" or "cols", got "{how}"')


@script_builtin("dist")
def dist(X):
    """Euclidean distances between X's rows, from the row norms and X %*% t(X) (a NaN from
    rounding below zero is taken as 0)."""
    (x,) = _matrices("dist", X=X)
    norms = row_sums(times(x, x))
    rows_as_columns = np.ascontiguousarray(x.T)     # X %*% t(X) is t(Xt) %*% Xt, computed as SystemDS does
    products = transposed_matmul(rows_as_columns, rows_as_columns)
    squared = plus(plus(times(-2, products), norms), norms.T)
    return replace(apply_unary("sqrt", squared), np.nan, 0)


@script_builtin("cor")
def cor(X):
    """Pearson correlations of X's columns: the sample covariance over the product of the
    column standard deviations (NaN for a constant column)."""
    (x,) = _matrices("cor", X=X)
    centered = minus(x, col_means(x))
    covariance = divide(transposed_matmul(centered, centered), x.shape[0] - 1)
    deviations = col_sds(x)
    return divide(covariance, matmul(deviations.T, deviations))


@script_builtin("outlier")
def outlier(X, opposite):
    """Per column, the extreme (colMaxs or colMins) farther from the column mean, or with
    opposite=TRUE the other one."""
    (x,) = _matrices("outlier", X=X)
    highest, lowest, means = col_maxs(x), col_mins(x), col_means(x)
    max_is_farther = minus(highest, means) > minus(means, lowest)
    return np.where(max_is_farther != to_bool(opposite, "outlier: opposite"), highest, lowest)


# ---- classification ---------------------------------------------------------------------------

@script_builtin("confusionMatrix", context=True, outputs=2)
def confusion_matrix(context, P, Y):
    """[confusionSum, confusionAvg]: counts of (prediction, label) pairs (labels 1..max, a row per
    prediction), and each column divided by its total (at least 1)."""
    predictions, labels = _matrices("confusionMatrix", P=P, Y=Y)
    if predictions.shape[1] != 1 or labels.shape[1] != 1:
        raise DMLRuntimeError(f"confusionMatrix: P and Y must be column vectors, got P {dims(predictions)} "
                              f"and Y {dims(labels)}")
    if predictions.shape[0] != labels.shape[0]:
        raise DMLRuntimeError(f"confusionMatrix: P and Y must have the same number of rows, got "
                              f"{predictions.shape[0]} and {labels.shape[0]}")
    if predictions.size == 0 or min(float(np.min(predictions)), float(np.min(labels))) < 1:
        raise DMLRuntimeError("confusionMatrix: all values in P and Y must be at least 1")
    size = max(max_(labels), max_(predictions))
    counts = table(context, predictions, labels, size, size)
    return counts, divide(counts, max_(1, col_sums(counts)))


@script_builtin("getAccuracy", context=True)
def get_accuracy(context, y, yhat, isWeighted=False):
    """The percentage of rows where yhat equals y; with isWeighted=TRUE the mean over the
    classes 1..max(y) of each class' recall (an absent class counting 0)."""
    labels, predictions = _matrices("getAccuracy", y=y, yhat=yhat)
    if not to_bool(isWeighted, "getAccuracy: isWeighted"):
        return full_sum(_equal(labels, predictions)) / labels.shape[0] * 100
    classes = table(context, labels, 1, max_(labels), 1)
    codes = np.arange(1, classes.shape[0] + 1, dtype=labels.dtype)
    grid = np.tile(codes, (labels.shape[0], 1))    # each row: the class codes 1..max(y)
    hits = col_sums(times(_equal(grid, labels), _equal(grid, predictions)))
    return mean(divide(hits, replace(classes, 0, 1).T)) * 100
