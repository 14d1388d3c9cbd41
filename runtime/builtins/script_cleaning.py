"""Builtins that SystemDS writes in DML (scripts/builtin), done natively: missing-value imputation
(imputeByMean, imputeByMedian, imputeByMode and their *Apply functions) and outlier repair
(outlierBySd, outlierByIQR and their *Apply functions), each following SystemDS' formula
through kerasdml's own kernels (mean, median, quantile, ...), so the printed digits are
SystemDS'."""
from __future__ import annotations

import numpy as np

from ..errors import DMLRuntimeError
from ..values import format_scalar, to_bool, to_double, to_int
from .aggregates import full_sum, mean, row_index_max, row_maxs, sd
from .elementwise import replace
from .registry import script_builtin
from .reorg import remove_empty
from .script_args import (minus, times, plus, less, greater, REQUIRED, matrix_arg, float_dtype,
                          required_arg, row_vector_arg, present_cells)
from .statistics import median, quantile


# ---- imputation -------------------------------------------------------------------------------

def _impute_apply(function: str, X, imputedVec) -> np.ndarray:
    """X with each NaN replaced by its column's value in imputedVec (X - NaN + mask * vec)."""
    x = matrix_arg(X, function, "X")
    values = row_vector_arg(imputedVec, x, function, "imputedVec")
    missing = np.isnan(x).astype(float_dtype(x))
    return plus(replace(x, np.nan, 0), times(missing, values))


def _impute_numeric(context, function: str, X, mask, statistic) -> tuple[np.ndarray, np.ndarray]:
    """[X, imputedVec]: the columns that mask marks 0 take `statistic` of their present values
    (0 when there are none), those it marks nonzero the mode of X * mask (imputeByMode)."""
    x = matrix_arg(X, function, "X")
    marks = row_vector_arg(mask, x, function, "mask")
    values = np.zeros((1, x.shape[1]), dtype=float_dtype(x))
    for i in np.flatnonzero(marks[0] == 0):
        present = present_cells(x[:, [i]])
        values[0, i] = statistic(present) if present.size else 0.0
    if full_sum(marks) > 0:
        values = plus(values, impute_by_mode(context, times(x, marks))[1])
    return _impute_apply(function, x, values), values


@script_builtin("imputeByMean", context=True, outputs=2)
def impute_by_mean(context, X, mask):
    """[X, imputedVec]: NaN cells of the numeric columns (mask 0) replaced by the mean of the
    column's other cells, those of the categorical ones (mask 1) by the column's mode."""
    return _impute_numeric(context, "imputeByMean", X, mask, mean)


@script_builtin("imputeByMeanApply")
def impute_by_mean_apply(X, imputedVec):
    """X with each NaN cell replaced by its column's entry of imputedVec."""
    return _impute_apply("imputeByMeanApply", X, imputedVec)


@script_builtin("imputeByMedian", context=True, outputs=2)
def impute_by_median(context, X, mask):
    """[X, imputedVec]: as imputeByMean, with the median of the numeric columns' present cells."""
    return _impute_numeric(context, "imputeByMedian", X, mask, median)


@script_builtin("imputeByMedianApply")
def impute_by_median_apply(X, imputedVec):
    """X with each NaN cell replaced by its column's entry of imputedVec."""
    return _impute_apply("imputeByMedianApply", X, imputedVec)


def _column_mode(column: np.ndarray) -> float:
    """The most frequent category (the largest of a tie) among a column's values of at least 1,
    truncated to integers; only categories up to the number of such values are counted (as
    SystemDS' table with those dimensions counts them). 0 when there are none."""
    kept = column[column >= 1]
    if kept.size == 0:
        return 0.0
    categories = kept[kept < kept.size + 1].astype(np.int64)
    counts = np.bincount(categories - 1, minlength=kept.size).astype(np.float64)
    return float(row_index_max(counts.reshape(1, -1))[0, 0])


@script_builtin("imputeByMode", context=True, outputs=2)
def impute_by_mode(context, X):
    """[X, imputedVec]: NaN cells replaced by their column's mode (categories 1, 2, ...)."""
    x = matrix_arg(X, "imputeByMode", "X")
    modes = [_column_mode(x[:, i]) for i in range(x.shape[1])]
    values = np.array(modes, dtype=float_dtype(x)).reshape(1, -1)
    return _impute_apply("imputeByMode", x, values), values


@script_builtin("imputeByModeApply")
def impute_by_mode_apply(X, imputedVec):
    """X with each NaN cell replaced by its column's entry of imputedVec."""
    return _impute_apply("imputeByModeApply", X, imputedVec)


# ---- outliers ---------------------------------------------------------------------------------

def _outside(x: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """1 where a cell lies below its column's lower or above its upper bound."""
    return np.logical_or(less(x, lower), greater(x, upper)).astype(float_dtype(x))


def _repair(context, function: str, x: np.ndarray, outliers: np.ndarray, method: int) -> np.ndarray:
    """Rows holding an outlier removed (method 0), outliers set to 0 (1) or to NaN (2)."""
    if method == 0:
        keep = (row_maxs(outliers) == 0).astype(outliers.dtype)
        return remove_empty(context, x, "rows", select=keep)
    if method == 1:
        return times((outliers == 0).astype(outliers.dtype), x)
    if method == 2:
        return times(np.where(outliers == 0, 1.0, np.nan).astype(outliers.dtype), x)
    raise DMLRuntimeError(f"{function}: repairMethod must be 0 (remove rows), 1 (zeros) or 2 "
                          f"(NaN), got {method}")


def _repeat_repair(context, function: str, x: np.ndarray, bounds, method: int, limit: int):
    """Repairs x's outliers again and again (at most `limit` times; 0: no limit) while more than
    one is found and the sum of x (NaN counted as 0) still changes. Returns x and the
    statistics the last bounds came from."""
    before, after, rounds = 0.0, 1.0, 0
    while limit == 0 or rounds < limit:
        statistics, lower, upper = bounds(x)
        outliers = _outside(x, lower, upper)
        if full_sum(outliers) > 1 and after != 0 and before != after:
            before = full_sum(replace(x, np.nan, 0))
            x = _repair(context, function, x, outliers, method)
            after = full_sum(replace(x, np.nan, 0))
        else:
            limit = -1
        rounds += 1
    return x, statistics


def _report_bounds(context, x: np.ndarray, formula: str, lower_formula: str) -> None:
    context.out.write(f"Upper-bound of data was calculated using {formula}\n"
                      f"lower-bound of data was calculated using {lower_formula}\n"
                      "Anything less than the lower-bound and greater than the upper-bound was "
                      "treated as outlier\n")
    if full_sum(x) == 0:
        context.out.write("output is a zero matrix due to iterative evaluation of outliers \n")


def _mean_and_sd(context, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's mean and standard deviation over its cells that are neither 0 nor NaN
    (a column with none counts as a single 0)."""
    means, deviations = np.zeros((2, 1, x.shape[1]), dtype=float_dtype(x))
    for i in range(x.shape[1]):
        cells = remove_empty(context, replace(x[:, [i]], np.nan, 0), "rows")
        means[0, i], deviations[0, i] = mean(cells), sd(cells)
    return means, deviations


@script_builtin("outlierBySd", context=True, outputs=5)
def outlier_by_sd(context, X, k=3.0, repairMethod=1, max_iterations=REQUIRED, verbose=True):
    """[out, colMean, colSD, k, repairMethod]: X with the cells farther than k standard
    deviations from their column's mean repaired (see _repair), repeated while outliers remain
    (at most max_iterations rounds, 0: no limit); colMean and colSD come from the last round."""
    x = matrix_arg(X, "outlierBySd", "X")
    width = to_double(k, "outlierBySd: k")
    method = to_int(repairMethod, "outlierBySd: repairMethod")
    limit = to_int(required_arg(max_iterations, "outlierBySd", "max_iterations"), "outlierBySd: max_iterations")
    if width < 1 or width > 10:
        raise DMLRuntimeError(f"outlierBySd: k must be in the range 1 to 10, got {format_scalar(width)}")

    def bounds(current):
        means, deviations = _mean_and_sd(context, current)
        spread = times(width, deviations)
        return (means, deviations), minus(means, spread), plus(means, spread)
    x, (means, deviations) = _repeat_repair(context, "outlierBySd", x, bounds, method, limit)
    if to_bool(verbose, "outlierBySd: verbose"):
        _report_bounds(context, x, "Mean + k * Standard Deviation", "Mean - k * Standard Deviation")
    return x, means, deviations, width, method


@script_builtin("outlierBySdApply", context=True)
def outlier_by_sd_apply(context, X, colMean, colSD, k, repairMethod):
    """X with the cells outside colMean -+ k * colSD repaired once, if more than one is."""
    x = matrix_arg(X, "outlierBySdApply", "X")
    means = matrix_arg(colMean, "outlierBySdApply", "colMean")
    spread = times(to_double(k, "outlierBySdApply: k"), matrix_arg(colSD, "outlierBySdApply", "colSD"))
    return _repair_once(context, "outlierBySdApply", x, minus(means, spread), plus(means, spread),
                        repairMethod)


def _repair_once(context, function: str, x, lower, upper, repairMethod) -> np.ndarray:
    method = to_int(repairMethod, f"{function}: repairMethod")
    outliers = _outside(x, lower, upper)
    if full_sum(outliers) > 1:
        return _repair(context, function, x, outliers, method)
    return x


def _quartiles(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's 0.25 and 0.75 quantiles over its cells that are not NaN (0 for one row)."""
    first, third = np.zeros((2, 1, x.shape[1]), dtype=float_dtype(x))
    if x.shape[0] > 1:
        for i in range(x.shape[1]):
            present = present_cells(x[:, [i]])
            first[0, i], third[0, i] = quantile(present, 0.25), quantile(present, 0.75)
    return first, third


@script_builtin("outlierByIQR", context=True, outputs=6)
def outlier_by_iqr(context, X, k=1.5, repairMethod=1, max_iterations=REQUIRED, verbose=True):
    """[Y, Q1, Q3, IQR, k, repairMethod]: X with the cells below Q1 - k * IQR or above
    Q3 + k * IQR of their column repaired (see _repair), repeated while outliers remain (at most
    max_iterations rounds, 0: no limit); the quartiles come from the last round."""
    x = matrix_arg(X, "outlierByIQR", "X")
    width = to_double(k, "outlierByIQR: k")
    method = to_int(repairMethod, "outlierByIQR: repairMethod")
    limit = to_int(required_arg(max_iterations, "outlierByIQR", "max_iterations"), "outlierByIQR: max_iterations")

    def bounds(current):
        first, third = _quartiles(current)
        spread = minus(third, first)
        reach = times(width, spread)
        return (first, third, spread), minus(first, reach), plus(third, reach)
    x, (first, third, spread) = _repeat_repair(context, "outlierByIQR", x, bounds, method, limit)
    if to_bool(verbose, "outlierByIQR: verbose"):
        _report_bounds(context, x, "Q3 + k * IQR", "Q3 - k * IQR")
    return x, first, third, spread, width, method


@script_builtin("outlierByIQRApply", context=True)
def outlier_by_iqr_apply(context, X, Q1, Q3, IQR, k, repairMethod):
    """X with the cells outside [Q1 - k * IQR, Q3 + k * IQR] repaired once, if more than one is."""
    x = matrix_arg(X, "outlierByIQRApply", "X")
    reach = times(to_double(k, "outlierByIQRApply: k"), matrix_arg(IQR, "outlierByIQRApply", "IQR"))
    lower = minus(matrix_arg(Q1, "outlierByIQRApply", "Q1"), reach)
    upper = plus(matrix_arg(Q3, "outlierByIQRApply", "Q3"), reach)
    return _repair_once(context, "outlierByIQRApply", x, lower, upper, repairMethod)
