"""Classifiers that SystemDS writes in DML (scripts/builtin), done natively: naiveBayes, l2svm,
msvm and their predict functions, and the measures auc and f1Score, each following SystemDS'
formula through kerasdml's own kernels (%*%, aggregate, Kahan sums, ...), so the printed digits
are SystemDS'."""
from __future__ import annotations

import numpy as np

from ..errors import DMLRuntimeError
from ..operators import matmul, transposed_matmul
from ..values import dims, format_scalar, to_bool, to_double, to_int
from .aggregates import col_sums, cumsum, full_sum, max_, min_, row_index_max
from .elementwise import apply_unary, replace
from .registry import script_builtin
from .reorg import order, remove_empty
from .script_args import minus, times, divide, plus, greater, matrix_arg, float_dtype


# ---- naive Bayes ------------------------------------------------------------------------------
from .script_statistics import confusion_matrix
from .statistics import aggregate

def _labels(value, x: np.ndarray, function: str, name: str) -> np.ndarray:
    labels = matrix_arg(value, function, name)
    if labels.shape != (x.shape[0], 1):
        raise DMLRuntimeError(f"{function}: {name} must be a column with one label per row of the "
                              f"features ({x.shape[0]}), got {dims(labels)}")
    return labels


@script_builtin("naiveBayes", context=True, outputs=2)
def naive_bayes(context, D, C, laplace=1.0, verbose=True):
    """[prior, classConditionals]: multinomial naive Bayes on count features D and labels C
    (1..k): the share of rows per class, and per class the feature totals plus laplace divided
    by their sum plus ncol(D) * laplace. verbose prints the accuracy on D."""
    d = matrix_arg(D, "naiveBayes", "D")
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
    sums = plus(col_sums(totals.T).T, d.shape[1] * smoothing)
    conditionals = divide(plus(totals, smoothing), sums)
    prior = divide(aggregate(target=c, groups=c, fn="count", ngroups=classes), d.shape[0])
    if to_bool(verbose, "naiveBayes: verbose"):
        scores = plus(matmul(d, apply_unary("log", conditionals).T), apply_unary("log", prior).T)
        _print_accuracy(context, "Training Accuracy (%): ", row_index_max(scores), c)
    return prior, conditionals


def _print_accuracy(context, label: str, predicted: np.ndarray, labels: np.ndarray) -> None:
    hits = full_sum((predicted == labels).astype(np.float64))
    context.out.write(f"{label}{format_scalar(hits / labels.shape[0] * 100)}\n")


@script_builtin("naiveBayesPredict", outputs=2)
def naive_bayes_predict(X, P, C):
    """[YRaw, Y]: each row's log-likelihood per class, log(C) features plus log(P) prior, and
    the class of the largest."""
    x = matrix_arg(X, "naiveBayesPredict", "X")
    prior, conditionals = matrix_arg(P, "naiveBayesPredict", "P"), matrix_arg(C, "naiveBayesPredict", "C")
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
            margin = minus(1, times(y, plus(xw, times(step, xd))))
            support = greater(margin, 0)
            margin = times(margin, support)
            slope = wd + step * dd - full_sum(times(times(margin, y), xd))
            curvature = dd + full_sum(times(times(xd, support), xd))
            step = step - slope / curvature
            searching = slope * slope / curvature >= epsilon
            steps += 1
        w = plus(w, times(step, direction))
        xw = plus(xw, times(step, xd))
        margin = minus(1, times(y, xw))
        margin = times(greater(margin, 0), margin)
        objective = 0.5 * _dot(margin, margin) + reg / 2 * _dot(w, w)
        new_gradient = minus(transposed_matmul(x, times(margin, y)), times(reg, w))
        if verbose:
            context.out.write(f"{prefix}Iter: {rounds} InnerIter: {steps} ---  Obj:"
                              f"{format_scalar(objective)}\n")
        progress = _dot(direction, gradient)
        going = step * progress >= epsilon * objective and _dot(direction, direction) != 0
        ratio = _dot(new_gradient, new_gradient) / _dot(gradient, gradient)
        direction = plus(times(ratio, direction), new_gradient)
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
    x = matrix_arg(X, "l2svm", "X")
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
        y = minus(times(2 / (highest - lowest), y), (lowest + highest) / (highest - lowest))
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
    return plus(matmul(x, w[:x.shape[1]]), w[[x.shape[1]]])


@script_builtin("l2svmPredict", outputs=2)
def l2svm_predict(X, W, verbose=False):
    """[YRaw, Y]: the scores X %*% W (plus W's intercept row) and each row's column of the largest."""
    to_bool(verbose, "l2svmPredict: verbose")
    scores = _linear_scores("l2svmPredict", matrix_arg(X, "l2svmPredict", "X"),
                            matrix_arg(W, "l2svmPredict", "W"))
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
    x = matrix_arg(X, "msvm", "X")
    y = matrix_arg(Y, "msvm", "Y")
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
    weights = np.zeros((x.shape[1], classes), dtype=float_dtype(x))
    for label in range(1, classes + 1):
        member = _binary(y == label).astype(float_dtype(x))
        if full_sum(member) > 0:
            signs = minus(times(2, member), 1)
            weights[:, [label - 1]] = _l2svm_weights(context, x, signs, tolerance, penalty,
                                                     iterations, 20, False, "")
        else:
            weights[:, label - 1] = -np.inf
    return weights


@script_builtin("msvmPredict", context=True, outputs=2)
def msvm_predict(context, X, W):
    """[YRaw, Y]: the class scores X %*% W (plus W's intercept row; NaN cells of X count as 0)
    and each row's class of the largest."""
    x = _without_nan(context, "msvm", matrix_arg(X, "msvmPredict", "X"))
    scores = _linear_scores("msvmPredict", x, matrix_arg(W, "msvmPredict", "W"))
    return scores, row_index_max(scores)


# ---- classification measures ------------------------------------------------------------------

@script_builtin("auc", context=True)
def auc(context, Y, P):
    """Area under the ROC curve of scores P for binary labels Y (0/1 or -1/+1), by the
    trapezoidal rule over the distinct thresholds."""
    y = matrix_arg(Y, "auc", "Y")
    scores = _labels(P, y, "auc", "P")
    if y.shape[1] != 1:
        raise DMLRuntimeError(f"auc: Y must be a column vector, got {dims(y)}")
    lowest, highest = min_(y), max_(y)
    if lowest == highest:
        raise DMLRuntimeError("auc: Y holds only one class label")
    if full_sum(_binary(y == lowest)) + full_sum(_binary(y == highest)) < y.shape[0]:
        raise DMLRuntimeError("auc: Y holds more than two class labels")
    if lowest < 0:
        y = _binary(plus(y, 1) != 0).astype(float_dtype(y))
    positives = full_sum(y)
    negatives = y.shape[0] - positives
    ordered = order(context, np.hstack([y, scores]), by=2)
    labels, thresholds = ordered[:, [0]], ordered[:, [1]]
    true_positives = minus(positives, cumsum(labels))
    false_positives = cumsum(_binary(labels == 0).astype(labels.dtype))
    following = np.vstack([thresholds[1:], np.zeros((1, 1), dtype=thresholds.dtype)])
    last_of_threshold = _binary(thresholds != following)
    tpr = divide(remove_empty(context, true_positives, "rows", select=last_of_threshold), positives)
    fpr = divide(remove_empty(context, false_positives, "rows", select=last_of_threshold), negatives)
    if tpr.shape[0] < 2:
        raise DMLRuntimeError("auc: P must hold at least two distinct scores")
    widths = minus(fpr[1:], fpr[:-1])
    heights = divide(times(widths, plus(tpr[1:], tpr[:-1])), 2)
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
