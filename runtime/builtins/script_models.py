"""Builtins that SystemDS writes in DML (scripts/builtin), done natively: missing-value imputation
(imputeByMean, imputeByMedian, imputeByMode and their *Apply functions), outlier repair
(outlierBySd, outlierByIQR and their *Apply functions), classifiers (naiveBayes, l2svm, msvm and
their predict functions), classification measures (auc, f1Score) and simple image operations
(img_mirror, img_invert, img_brightness and their _linearized variants).

Each follows SystemDS' formula through kerasdml's own kernels for the operations its script
uses (mean, median, quantile, aggregate, %*%, Kahan sums, ...), so the printed digits are
SystemDS'."""
from __future__ import annotations

import numpy as np

from ..errors import DMLRuntimeError
from ..operators import binary_operator, matmul, transposed_matmul
from ..values import dims, format_scalar, require_matrix, to_bool, to_double, to_int
from .aggregates import (col_sums, cumsum, full_sum, max_, mean, min_, row_index_max, row_maxs,
                         sd)
from .elementwise import apply_unary, replace
from .registry import script_builtin
from .reorg import order, remove_empty
from .script_statistics import confusion_matrix
from .statistics import aggregate, median, quantile

_minus, _times, _divide = binary_operator("-"), binary_operator("*"), binary_operator("/")
_plus, _less, _greater = binary_operator("+"), binary_operator("<"), binary_operator(">")

# SystemDS declares some parameters without a default between ones that have one
_REQUIRED = object()


def _matrix(value, function: str, name: str) -> np.ndarray:
    return require_matrix(value, f"{function}: {name}")


def _dtype(x: np.ndarray):
    """The run's precision, which the inputs carry (float32 under precision="single")."""
    return x.dtype if x.dtype.kind == "f" else np.float64


def _required(value, function: str, name: str):
    if value is _REQUIRED:
        raise DMLRuntimeError(f"{function}: missing argument `{name}` (it has no default)")
    return value


def _row_vector(value, x: np.ndarray, function: str, name: str) -> np.ndarray:
    vector = _matrix(value, function, name)
    if vector.shape != (1, x.shape[1]):
        raise DMLRuntimeError(f"{function}: {name} must be a 1x{x.shape[1]} row vector (one value "
                              f"per column of X), got {dims(vector)}")
    return vector


def _present(column: np.ndarray) -> np.ndarray:
    """The cells of a column that are not NaN, as a column."""
    return column[~np.isnan(column[:, 0])]


# ---- imputation -------------------------------------------------------------------------------

def _impute_apply(function: str, X, imputedVec) -> np.ndarray:
    """X with each NaN replaced by its column's value in imputedVec (X - NaN + mask * vec)."""
    x = _matrix(X, function, "X")
    values = _row_vector(imputedVec, x, function, "imputedVec")
    missing = np.isnan(x).astype(_dtype(x))
    return _plus(replace(x, np.nan, 0), _times(missing, values))


def _impute_numeric(context, function: str, X, mask, statistic) -> tuple[np.ndarray, np.ndarray]:
    """[X, imputedVec]: the columns that mask marks 0 take `statistic` of their present values
    (0 when there are none), those it marks nonzero the mode of X * mask (imputeByMode)."""
    x = _matrix(X, function, "X")
    marks = _row_vector(mask, x, function, "mask")
    values = np.zeros((1, x.shape[1]), dtype=_dtype(x))
    for i in np.flatnonzero(marks[0] == 0):
        present = _present(x[:, [i]])
        values[0, i] = statistic(present) if present.size else 0.0
    if full_sum(marks) > 0:
        values = _plus(values, impute_by_mode(context, _times(x, marks))[1])
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
    x = _matrix(X, "imputeByMode", "X")
    modes = [_column_mode(x[:, i]) for i in range(x.shape[1])]
    values = np.array(modes, dtype=_dtype(x)).reshape(1, -1)
    return _impute_apply("imputeByMode", x, values), values


@script_builtin("imputeByModeApply")
def impute_by_mode_apply(X, imputedVec):
    """X with each NaN cell replaced by its column's entry of imputedVec."""
    return _impute_apply("imputeByModeApply", X, imputedVec)


# ---- outliers ---------------------------------------------------------------------------------

def _outside(x: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """1 where a cell lies below its column's lower or above its upper bound."""
    return np.logical_or(_less(x, lower), _greater(x, upper)).astype(_dtype(x))


def _repair(context, function: str, x: np.ndarray, outliers: np.ndarray, method: int) -> np.ndarray:
    """Rows holding an outlier removed (method 0), outliers set to 0 (1) or to NaN (2)."""
    if method == 0:
        keep = (row_maxs(outliers) == 0).astype(outliers.dtype)
        return remove_empty(context, x, "rows", select=keep)
    if method == 1:
        return _times((outliers == 0).astype(outliers.dtype), x)
    if method == 2:
        return _times(np.where(outliers == 0, 1.0, np.nan).astype(outliers.dtype), x)
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
    means, deviations = np.zeros((2, 1, x.shape[1]), dtype=_dtype(x))
    for i in range(x.shape[1]):
        cells = remove_empty(context, replace(x[:, [i]], np.nan, 0), "rows")
        means[0, i], deviations[0, i] = mean(cells), sd(cells)
    return means, deviations


@script_builtin("outlierBySd", context=True, outputs=5)
def outlier_by_sd(context, X, k=3.0, repairMethod=1, max_iterations=_REQUIRED, verbose=True):
    """[out, colMean, colSD, k, repairMethod]: X with the cells farther than k standard
    deviations from their column's mean repaired (see _repair), repeated while outliers remain
    (at most max_iterations rounds, 0: no limit); colMean and colSD come from the last round."""
    x = _matrix(X, "outlierBySd", "X")
    width = to_double(k, "outlierBySd: k")
    method = to_int(repairMethod, "outlierBySd: repairMethod")
    limit = to_int(_required(max_iterations, "outlierBySd", "max_iterations"), "outlierBySd: max_iterations")
    if width < 1 or width > 10:
        raise DMLRuntimeError(f"outlierBySd: k must be in the range 1 to 10, got {format_scalar(width)}")

    def bounds(current):
        means, deviations = _mean_and_sd(context, current)
        spread = _times(width, deviations)
        return (means, deviations), _minus(means, spread), _plus(means, spread)
    x, (means, deviations) = _repeat_repair(context, "outlierBySd", x, bounds, method, limit)
    if to_bool(verbose, "outlierBySd: verbose"):
        _report_bounds(context, x, "Mean + k * Standard Deviation", "Mean - k * Standard Deviation")
    return x, means, deviations, width, method


@script_builtin("outlierBySdApply", context=True)
def outlier_by_sd_apply(context, X, colMean, colSD, k, repairMethod):
    """X with the cells outside colMean -+ k * colSD repaired once, if more than one is."""
    x = _matrix(X, "outlierBySdApply", "X")
    means = _matrix(colMean, "outlierBySdApply", "colMean")
    spread = _times(to_double(k, "outlierBySdApply: k"), _matrix(colSD, "outlierBySdApply", "colSD"))
    return _repair_once(context, "outlierBySdApply", x, _minus(means, spread), _plus(means, spread),
                        repairMethod)


def _repair_once(context, function: str, x, lower, upper, repairMethod) -> np.ndarray:
    method = to_int(repairMethod, f"{function}: repairMethod")
    outliers = _outside(x, lower, upper)
    if full_sum(outliers) > 1:
        return _repair(context, function, x, outliers, method)
    return x


def _quartiles(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's 0.25 and 0.75 quantiles over its cells that are not NaN (0 for one row)."""
    first, third = np.zeros((2, 1, x.shape[1]), dtype=_dtype(x))
    if x.shape[0] > 1:
        for i in range(x.shape[1]):
            present = _present(x[:, [i]])
            first[0, i], third[0, i] = quantile(present, 0.25), quantile(present, 0.75)
    return first, third


@script_builtin("outlierByIQR", context=True, outputs=6)
def outlier_by_iqr(context, X, k=1.5, repairMethod=1, max_iterations=_REQUIRED, verbose=True):
    """[Y, Q1, Q3, IQR, k, repairMethod]: X with the cells below Q1 - k * IQR or above
    Q3 + k * IQR of their column repaired (see _repair), repeated while outliers remain (at most
    max_iterations rounds, 0: no limit); the quartiles come from the last round."""
    x = _matrix(X, "outlierByIQR", "X")
    width = to_double(k, "outlierByIQR: k")
    method = to_int(repairMethod, "outlierByIQR: repairMethod")
    limit = to_int(_required(max_iterations, "outlierByIQR", "max_iterations"), "outlierByIQR: max_iterations")

    def bounds(current):
        first, third = _quartiles(current)
        spread = _minus(third, first)
        reach = _times(width, spread)
        return (first, third, spread), _minus(first, reach), _plus(third, reach)
    x, (first, third, spread) = _repeat_repair(context, "outlierByIQR", x, bounds, method, limit)
    if to_bool(verbose, "outlierByIQR: verbose"):
        _report_bounds(context, x, "Q3 + k * IQR", "Q3 - k * IQR")
    return x, first, third, spread, width, method


@script_builtin("outlierByIQRApply", context=True)
def outlier_by_iqr_apply(context, X, Q1, Q3, IQR, k, repairMethod):
    """X with the cells outside [Q1 - k * IQR, Q3 + k * IQR] repaired once, if more than one is."""
    x = _matrix(X, "outlierByIQRApply", "X")
    reach = _times(to_double(k, "outlierByIQRApply: k"), _matrix(IQR, "outlierByIQRApply", "IQR"))
    lower = _minus(_matrix(Q1, "outlierByIQRApply", "Q1"), reach)
    upper = _plus(_matrix(Q3, "outlierByIQRApply", "Q3"), reach)
    return _repair_once(context, "outlierByIQRApply", x, lower, upper, repairMethod)


# ---- naive Bayes ------------------------------------------------------------------------------

def _labels(value, x: np.ndarray, function: str, name: str) -> np.ndarray:
    labels = _matrix(value, function, name)
    if labels.shape != (x.shape[0], 1):
        raise DMLRuntimeError(f"{function}: {name} must be a column with one label per row of the "
                              f"features ({x.shape[0]}), got {dims(labels)}")
    return labels


@script_builtin("naiveBayes", context=True, outputs=2)
def naive_bayes(context, D, C, laplace=1.0, verbose=True):
    """[prior, classConditionals]: multinomial naive Bayes on count features D and labels C
    (1..k): the share of rows per class, and per class the feature totals plus laplace divided
    by their sum plus ncol(D) * laplace. verbose prints the accuracy on D."""
    d = _matrix(D, "naiveBayes", "D")
    c = _labels(C, d, "naiveBayes", "C")
    smoothing = to_double(laplace, "naiveBayes: laplace")
    if d.size and min_(d) < 0:
        raise DMLRuntimeError("naiveBayes: D holds a negative value; multinomial naive Bayes "
                              "takes count features")
    if d.shape[0] < 2:
        raise DMLRuntimeError("naiveBayes: at least 2 rows are needed to learn a classifier")
    if min_(c) < 1:
        raise DMLRuntimeError("naiveBayes: the labels C must be recoded to 1, 2, ...")
    classes = int(max_(c))
    if classes == 1:
        raise DMLRuntimeError("naiveBayes: the largest label is 1; at least two classes are needed")
    if np.any(c % 1 != 0):
        raise DMLRuntimeError("naiveBayes: the labels C must be integers")
    if smoothing < 0:
        raise DMLRuntimeError("naiveBayes: laplace must not be negative")
    totals = aggregate(target=d, groups=c, fn="sum", ngroups=classes)
    sums = _plus(col_sums(totals.T).T, d.shape[1] * smoothing)
    conditionals = _divide(_plus(totals, smoothing), sums)
    prior = _divide(aggregate(target=c, groups=c, fn="count", ngroups=classes), d.shape[0])
    if to_bool(verbose, "naiveBayes: verbose"):
        scores = _plus(matmul(d, apply_unary("log", conditionals).T), apply_unary("log", prior).T)
        _print_accuracy(context, "Training Accuracy (%): ", row_index_max(scores), c)
    return prior, conditionals


def _print_accuracy(context, label: str, predicted: np.ndarray, labels: np.ndarray) -> None:
    hits = full_sum((predicted == labels).astype(np.float64))
    context.out.write(f"{label}{format_scalar(hits / labels.shape[0] * 100)}\n")


@script_builtin("naiveBayesPredict", outputs=2)
def naive_bayes_predict(X, P, C):
    """[YRaw, Y]: each row's log-likelihood per class, log(C) features plus log(P) prior, and
    the class of the largest."""
    x = _matrix(X, "naiveBayesPredict", "X")
    prior, conditionals = _matrix(P, "naiveBayesPredict", "P"), _matrix(C, "naiveBayesPredict", "C")
    if conditionals.shape[1] != x.shape[1] or prior.shape != (conditionals.shape[0], 1):
        raise DMLRuntimeError(f"naiveBayesPredict: C must have ncol(X) = {x.shape[1]} columns and P "
                              f"one row per row of C, got C {dims(conditionals)} and P {dims(prior)}")
    model = np.hstack([conditionals, prior])
    with_ones = np.hstack([x, np.ones((x.shape[0], 1), dtype=x.dtype)])
    scores = matmul(with_ones, apply_unary("log", model).T)
    return scores, row_index_max(scores)


# ---- support vector machines ------------------------------------------------------------------

def _with_ones(x: np.ndarray) -> np.ndarray:
    return np.hstack([x, np.ones((x.shape[0], 1), dtype=x.dtype)])


def _dot(u: np.ndarray, v: np.ndarray) -> float:
    """sum(u * v) of two column vectors, which SystemDS rewrites to t(u) %*% v (a dot product
    summed in blocks of 8, not a compensated sum)."""
    return float(transposed_matmul(u, v)[0, 0])


def _l2svm_weights(context, x, y, epsilon, reg, iterations, inner, verbose, prefix) -> np.ndarray:
    """Weights minimizing 0.5 * sum of squared hinge losses + reg/2 * |w|^2 for labels -1/+1, by
    nonlinear conjugate gradient with a Newton line search (at most `inner` steps)."""
    w = np.zeros((x.shape[1], 1), dtype=x.dtype)
    xw = np.zeros((x.shape[0], 1), dtype=x.dtype)
    gradient = transposed_matmul(x, y)
    direction = gradient
    rounds, going = 0, True
    while going and rounds < iterations:
        step = 0.0
        xd = matmul(x, direction)
        wd = reg * _dot(w, direction)
        dd = reg * _dot(direction, direction)
        steps, searching = 0, True
        while searching and steps < inner:
            margin = _minus(1, _times(y, _plus(xw, _times(step, xd))))
            support = _greater(margin, 0)
            margin = _times(margin, support)
            slope = wd + step * dd - full_sum(_times(_times(margin, y), xd))
            curvature = dd + full_sum(_times(_times(xd, support), xd))
            step = step - slope / curvature
            searching = slope * slope / curvature >= epsilon
            steps += 1
        w = _plus(w, _times(step, direction))
        xw = _plus(xw, _times(step, xd))
        margin = _minus(1, _times(y, xw))
        margin = _times(_greater(margin, 0), margin)
        objective = 0.5 * _dot(margin, margin) + reg / 2 * _dot(w, w)
        new_gradient = _minus(transposed_matmul(x, _times(margin, y)), _times(reg, w))
        if verbose:
            context.out.write(f"{prefix}Iter: {rounds} InnerIter: {steps} ---  Obj:"
                              f"{format_scalar(objective)}\n")
        progress = _dot(direction, gradient)
        going = step * progress >= epsilon * objective and _dot(direction, direction) != 0
        ratio = _dot(new_gradient, new_gradient) / _dot(gradient, gradient)
        direction = _plus(_times(ratio, direction), new_gradient)
        gradient = new_gradient
        rounds += 1
    return w


def _svm_settings(function: str, epsilon, reg, maxIterations) -> tuple[float, float, int]:
    tolerance = to_double(epsilon, f"{function}: epsilon")
    penalty = to_double(reg, f"{function}: reg")
    iterations = to_int(maxIterations, f"{function}: maxIterations")
    if tolerance < 0:
        raise DMLRuntimeError(f"{function}: epsilon must not be negative")
    if penalty < 0:
        raise DMLRuntimeError(f"{function}: reg must not be negative")
    if iterations < 1:
        raise DMLRuntimeError(f"{function}: maxIterations must be at least 1")
    return tolerance, penalty, iterations


@script_builtin("l2svm", context=True)
def l2svm(context, X, Y, intercept=False, epsilon=0.001, reg=1.0, maxIterations=100, maxii=20,
          verbose=False, columnId=-1):
    """Binary linear SVM weights (squared hinge loss, L2 penalty reg) for labels of two values,
    mapped to -1/+1; intercept appends a column of ones to X (its weight comes last)."""
    x = _matrix(X, "l2svm", "X")
    y = _labels(Y, x, "l2svm", "Y")
    if x.shape[0] < 2:
        raise DMLRuntimeError("l2svm: at least 2 rows are needed to learn a binary classifier")
    tolerance, penalty, iterations = _svm_settings("l2svm", epsilon, reg, maxIterations)
    talking = to_bool(verbose, "l2svm: verbose")
    column = to_int(columnId, "l2svm: columnId")
    lowest, highest = min_(y), max_(y)
    lows, highs = full_sum(_binary(y == lowest)), full_sum(_binary(y == highest))
    if lows + highs != y.shape[0]:
        context.out.write(f"L2SVM: WARNING invalid number of labels in Y: {format_scalar(lows)} "
                          f"{format_scalar(highs)}\n")
    if lowest != -1 or highest != 1:
        y = _minus(_times(2 / (highest - lowest), y), (lowest + highest) / (highest - lowest))
    if talking and column == -1:
        context.out.write("Running L2-SVM \n")
    if to_bool(intercept, "l2svm: intercept"):
        x = _with_ones(x)
    prefix = f"-- MSVM class={column}: " if column != -1 else ""
    return _l2svm_weights(context, x, y, tolerance, penalty, iterations, to_int(maxii, "l2svm: maxii"),
                          talking, prefix)


def _binary(test: np.ndarray) -> np.ndarray:
    return test.astype(np.float64)


def _linear_scores(function: str, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """X %*% W, or X %*% W[1:ncol(X),] + W's last row when W has one more row (an intercept)."""
    if x.shape[1] == w.shape[0]:
        return matmul(x, w)
    if x.shape[1] + 1 != w.shape[0]:
        raise DMLRuntimeError(f"{function}: W must have ncol(X) = {x.shape[1]} rows, or one more "
                              f"for an intercept, got W {dims(w)}")
    return _plus(matmul(x, w[:x.shape[1]]), w[[x.shape[1]]])


@script_builtin("l2svmPredict", outputs=2)
def l2svm_predict(X, W, verbose=False):
    """[YRaw, Y]: the scores X %*% W (plus W's intercept row) and each row's column of the largest."""
    to_bool(verbose, "l2svmPredict: verbose")
    scores = _linear_scores("l2svmPredict", _matrix(X, "l2svmPredict", "X"),
                            _matrix(W, "l2svmPredict", "W"))
    return scores, row_index_max(scores)


def _without_nan(context, function: str, x: np.ndarray) -> np.ndarray:
    missing = full_sum(_binary(np.isnan(x)))
    if missing > 0:
        context.out.write(f"{function}: matrix X contains {format_scalar(missing)} missing values, "
                          "replacing with 0.\n")
        return replace(x, np.nan, 0)
    return x


@script_builtin("msvm", context=True)
def msvm(context, X, Y, intercept=False, epsilon=0.001, reg=1.0, maxIterations=100, verbose=False):
    """One-against-the-rest l2svm weights, a column per class 1..max(Y) (a class without rows
    gets -Inf); NaN cells of X count as 0. Y may also be one-hot (each row's largest column)."""
    x = _matrix(X, "msvm", "X")
    y = _matrix(Y, "msvm", "Y")
    if y.shape[0] != x.shape[0]:
        raise DMLRuntimeError(f"msvm: Y must have one row per row of X ({x.shape[0]}), got {dims(y)}")
    if min_(y) < 0:
        raise DMLRuntimeError("msvm: Y holds a negative label")
    if to_bool(verbose, "msvm: verbose"):
        # SystemDS trains the classes in a parfor whose threads interleave their progress lines
        raise DMLRuntimeError("msvm: verbose=TRUE is not supported (SystemDS prints the classes' "
                              "progress in an order that varies from run to run); pass verbose=FALSE")
    tolerance, penalty, iterations = _svm_settings("msvm", epsilon, reg, maxIterations)
    x = _without_nan(context, "msvm", x)
    if to_bool(intercept, "msvm: intercept"):
        x = _with_ones(x)
    if y.shape[1] > 1:
        y = row_index_max(y)
    classes = int(max_(y))
    if x.shape[0] < 2 and classes > 0:
        raise DMLRuntimeError("msvm: at least 2 rows are needed to learn a classifier")
    weights = np.zeros((x.shape[1], classes), dtype=_dtype(x))
    for label in range(1, classes + 1):
        member = _binary(y == label).astype(_dtype(x))
        if full_sum(member) > 0:
            signs = _minus(_times(2, member), 1)
            weights[:, [label - 1]] = _l2svm_weights(context, x, signs, tolerance, penalty,
                                                     iterations, 20, False, "")
        else:
            weights[:, label - 1] = -np.inf
    return weights


@script_builtin("msvmPredict", context=True, outputs=2)
def msvm_predict(context, X, W):
    """[YRaw, Y]: the class scores X %*% W (plus W's intercept row; NaN cells of X count as 0)
    and each row's class of the largest."""
    x = _without_nan(context, "msvm", _matrix(X, "msvmPredict", "X"))
    scores = _linear_scores("msvmPredict", x, _matrix(W, "msvmPredict", "W"))
    return scores, row_index_max(scores)


# ---- classification measures ------------------------------------------------------------------

@script_builtin("auc", context=True)
def auc(context, Y, P):
    """Area under the ROC curve of scores P for binary labels Y (0/1 or -1/+1), by the
    trapezoidal rule over the distinct thresholds."""
    y = _matrix(Y, "auc", "Y")
    scores = _labels(P, y, "auc", "P")
    if y.shape[1] != 1:
        raise DMLRuntimeError(f"auc: Y must be a column vector, got {dims(y)}")
    lowest, highest = min_(y), max_(y)
    if lowest == highest:
        raise DMLRuntimeError("auc: Y holds only one class label")
    if full_sum(_binary(y == lowest)) + full_sum(_binary(y == highest)) < y.shape[0]:
        raise DMLRuntimeError("auc: Y holds more than two class labels")
    if lowest < 0:
        y = _binary(_plus(y, 1) != 0).astype(_dtype(y))
    positives = full_sum(y)
    negatives = y.shape[0] - positives
    ordered = order(context, np.hstack([y, scores]), by=2)
    labels, thresholds = ordered[:, [0]], ordered[:, [1]]
    true_positives = _minus(positives, cumsum(labels))
    false_positives = cumsum(_binary(labels == 0).astype(labels.dtype))
    following = np.vstack([thresholds[1:], np.zeros((1, 1), dtype=thresholds.dtype)])
    last_of_threshold = _binary(thresholds != following)
    tpr = _divide(remove_empty(context, true_positives, "rows", select=last_of_threshold), positives)
    fpr = _divide(remove_empty(context, false_positives, "rows", select=last_of_threshold), negatives)
    if tpr.shape[0] < 2:
        raise DMLRuntimeError("auc: P must hold at least two distinct scores")
    widths = _minus(fpr[1:], fpr[:-1])
    heights = _divide(_times(widths, _plus(tpr[1:], tpr[:-1])), 2)
    return float(tpr[0, 0]) * float(fpr[0, 0]) + full_sum(heights)


@script_builtin("f1Score", context=True)
def f1_score(context, P, Y):
    """The F1 score of predictions P for labels Y of two classes (1 positive, 2 negative):
    2 TP / (2 TP + FP + FN) from the confusion matrix."""
    counts = confusion_matrix(context, P, Y)[0]
    if counts.shape != (2, 2):
        raise DMLRuntimeError(f"f1Score: only binary labels 1 and 2 are supported, the confusion "
                              f"matrix is {dims(counts)}")
    hits = 2 * float(counts[0, 0])
    return hits / (hits + float(counts[1, 0]) + float(counts[0, 1]))


# ---- images -----------------------------------------------------------------------------------

@script_builtin("img_mirror")
def img_mirror(img_in, horizontal_axis):
    """The image upside down (horizontal_axis=TRUE: its rows reversed) or left to right."""
    image = _matrix(img_in, "img_mirror", "img_in")
    if to_bool(horizontal_axis, "img_mirror: horizontal_axis"):
        return np.ascontiguousarray(image[::-1])
    return np.ascontiguousarray(image[:, ::-1])


@script_builtin("img_mirror_linearized")
def img_mirror_linearized(img_matrix, horizontal_axis, original_rows, original_cols):
    """img_mirror of each row, a original_rows x original_cols image stored row by row."""
    images = _matrix(img_matrix, "img_mirror_linearized", "img_matrix")
    rows = to_int(original_rows, "img_mirror_linearized: original_rows")
    cols = to_int(original_cols, "img_mirror_linearized: original_cols")
    if rows < 1 or cols < 1 or rows * cols != images.shape[1]:
        raise DMLRuntimeError(f"img_mirror_linearized: each row of img_matrix must hold a "
                              f"{rows}x{cols} image ({rows * cols} columns), got {dims(images)}")
    stacked = images.reshape(images.shape[0], rows, cols)
    flipped = stacked[:, ::-1] if to_bool(horizontal_axis, "img_mirror_linearized: horizontal_axis") \
        else stacked[:, :, ::-1]
    return np.ascontiguousarray(flipped).reshape(images.shape)


@script_builtin("img_invert", "img_invert_linearized")
def img_invert(img_in, max_value):
    """max_value - img_in, for images whose pixel values lie in 0..max_value."""
    return _minus(to_double(max_value, "img_invert: max_value"), _matrix(img_in, "img_invert", "img_in"))


@script_builtin("img_brightness", "img_brightness_linearized")
def img_brightness(img_in, value, channel_max):
    """img_in + value, clipped to 0..channel_max."""
    image = _matrix(img_in, "img_brightness", "img_in")
    brighter = _plus(image, to_double(value, "img_brightness: value"))
    return max_(0, min_(brighter, to_int(channel_max, "img_brightness: channel_max")))
