"""Order statistics and moments of a column vector, and grouped aggregation: quantile, median,
interQuartileMean, moment, cov, aggregate.

Semantics are SystemDS 3.x's:

* Weights (an optional second column vector) must be whole numbers: a value of weight k counts
  as k copies of it.
* quantile(X, p) with a scalar p picks the value at position ceil(p * n) of the sorted values
  (1-based); when n is even it averages that value with the next one (median of 1..10 is 5.5,
  quantile 0.25 of 1..10 is 3.5). A matrix of probabilities picks without averaging.
* interQuartileMean is the mean of the middle half, the values cut at 0.25 n and 0.75 n
  counting fractionally (of 1..5: (0.75 * 2 + 3 + 0.75 * 4) / 2.5 = 3.0).
* moment(X, k) is the k-th central moment (k = 2, 3 or 4), divided by n; cov divides by n - 1
  (for vectors of up to 4096 values computed with SystemDS' incremental updates, digit for digit).
* aggregate(target, groups, fn) gives one row per group 1..max(groups) (or 1..ngroups, with
  groups beyond it dropped); a group without values gives 0 for every function, a group with a
  single value has variance 0.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import DMLRuntimeError
from ..values import dims, is_matrix, to_double, type_name
from ..local.kahan import incremental_covariance, incremental_power_sums
from .aggregates import axis_sum, full_sum
from .registry import builtin


_INCREMENTAL_CELLS = 4096  # cov of vectors up to this length runs SystemDS' incremental steps


def _column(value, function: str, name: str = "the input") -> np.ndarray:
    if not is_matrix(value):
        raise DMLRuntimeError(f"{function}: {name} must be a matrix, got {type_name(value)}")
    if value.shape[1] != 1:
        raise DMLRuntimeError(f"{function}: {name} must be a column vector (n x 1), got {dims(value)}")
    return value[:, 0].astype(np.float64)


def _weights(value, length: int, function: str) -> np.ndarray:
    weights = _column(value, function, "the weights")
    if weights.size != length:
        raise DMLRuntimeError(f"{function}: the weights need {length} rows like the input, "
                              f"got {weights.size}")
    return weights


def _expanded_sorted(values, weights, function: str) -> np.ndarray:
    """The sorted values, each repeated as often as its (whole-number) weight says."""
    x = _column(values, function)
    order = np.argsort(x, kind="stable")
    if weights is None:
        return x[order]
    w = _weights(weights, x.size, function)
    if not np.all(w == np.round(w)) or np.any(w < 0):
        raise DMLRuntimeError(f"{function}: weights must be non-negative whole numbers")
    return np.repeat(x[order], w[order].astype(np.int64))


def _probability(value, function: str) -> float:
    p = to_double(value, f"{function}: the probability")
    if not 0 <= p <= 1:
        raise DMLRuntimeError(f"{function}: the probability must be between 0 and 1, got {p}")
    return p


def _pick(ordered: np.ndarray, p: float, average: bool) -> float:
    """The value at 1-based position ceil(p * n); averaged with the next one if asked and n even."""
    n = ordered.size
    if n == 0:
        raise DMLRuntimeError("quantile of an empty matrix is undefined")
    position = math.ceil(p * n)
    if position == 0:
        return float(ordered[0])
    if average and n % 2 == 0 and position < n:
        return float((ordered[position - 1] + ordered[position]) / 2)
    return float(ordered[position - 1])


def _split_weights(args: tuple, function: str, wanted: int):
    """(values, weights or None, rest): the weights are the optional second argument."""
    if len(args) == wanted:
        return args[0], None, args[1:]
    if len(args) == wanted + 1:
        return args[0], args[1], args[2:]
    raise DMLRuntimeError(f"{function} takes {wanted} or {wanted + 1} arguments, got {len(args)}")


@builtin("quantile")
def quantile(*args):
    """quantile(X[, W], p): a double for a scalar p, a column of picks for a matrix p."""
    values, weights, (p,) = _split_weights(args, "quantile", 2)
    ordered = _expanded_sorted(values, weights, "quantile")
    if is_matrix(p):
        picks = [_pick(ordered, _probability(q, "quantile"), False) for q in p.ravel().tolist()]
        return np.array(picks, dtype=p.dtype if p.dtype.kind == "f" else np.float64).reshape(-1, 1)
    return _pick(ordered, _probability(p, "quantile"), True)


@builtin("median")
def median(*args):
    values, weights, _ = _split_weights(args, "median", 1)
    return _pick(_expanded_sorted(values, weights, "median"), 0.5, True)


@builtin("interQuartileMean")
def inter_quartile_mean(*args):
    values, weights, _ = _split_weights(args, "interQuartileMean", 1)
    ordered = _expanded_sorted(values, weights, "interQuartileMean")
    n = ordered.size
    if n == 0:
        raise DMLRuntimeError("interQuartileMean of an empty matrix is undefined")
    low, high = 0.25 * n, 0.75 * n
    starts = np.arange(n, dtype=np.float64)  # value i covers [i, i + 1) of the sorted line
    share = np.clip(np.minimum(starts + 1, high) - np.maximum(starts, low), 0, 1)
    return full_sum(ordered * share) / (high - low)


def _central_moment(x: np.ndarray, w: np.ndarray | None, order: int) -> float:
    if x.size <= _INCREMENTAL_CELLS:    # SystemDS' steps, for its digits
        weights = [1.0] * x.size if w is None else w.tolist()
        sums = incremental_power_sums(x.tolist(), weights)
        result = sums[order - 1] / sums[0]
        if math.isfinite(result):
            return result
    total = float(x.size) if w is None else full_sum(w)
    mean = (full_sum(x) if w is None else full_sum(w * x)) / total
    powers = (x - mean) ** order
    return (full_sum(powers) if w is None else full_sum(w * powers)) / total


@builtin("moment", "centralMoment")
def moment(*args):
    """moment(X[, W], k): the k-th central moment, k in 2, 3, 4."""
    values, weights, (order,) = _split_weights(args, "moment", 2)
    x = _column(values, "moment")
    if is_matrix(order) or order not in (2, 3, 4):
        raise DMLRuntimeError(f"moment: the order must be 2, 3 or 4, got {order!r}")
    w = None if weights is None else _weights(weights, x.size, "moment")
    return _central_moment(x, w, int(order))


@builtin("cov")
def cov(X, Y, W=None):
    """Sample covariance of two column vectors (divides by n - 1, or by sum(W) - 1)."""
    x, y = _column(X, "cov", "the first input"), _column(Y, "cov", "the second input")
    if x.size != y.size:
        raise DMLRuntimeError(f"cov needs vectors of equal length, got {x.size} and {y.size}")
    w = np.ones_like(x) if W is None else _weights(W, x.size, "cov")
    if x.size <= _INCREMENTAL_CELLS:
        result = incremental_covariance(x.tolist(), y.tolist(), w.tolist())
        if math.isfinite(result):
            return result
    total = full_sum(w)
    dx = x - full_sum(w * x) / total
    dy = y - full_sum(w * y) / total
    return full_sum(w * dx * dy) / (total - 1)


# ---- aggregate ------------------------------------------------------------------------------

def _group_codes(groups, rows: int, ngroups) -> tuple[np.ndarray, int]:
    codes = _column(groups, "aggregate", "groups")
    if codes.size != rows:
        raise DMLRuntimeError(f"aggregate: groups needs {rows} rows like target, got {codes.size}")
    if np.any(codes < 1) or not np.all(codes == np.round(codes)):
        raise DMLRuntimeError("aggregate: groups must be positive whole numbers")
    count = int(codes.max()) if ngroups is None else int(to_double(ngroups, "aggregate: ngroups"))
    return codes.astype(np.int64) - 1, count


def _group_sums(values: np.ndarray, codes: np.ndarray, count: int) -> np.ndarray:
    """Per-group sums of each column (count x ncol), compensated as sum() is."""
    sums = np.zeros((count, values.shape[1]))
    for group in np.unique(codes):
        sums[group] = axis_sum(values[codes == group], 0)[0]
    return sums


def _group_extreme(values, codes, count, reduce) -> np.ndarray:
    result = np.zeros((count, values.shape[1]))
    for group in np.unique(codes):
        result[group] = reduce(values[codes == group], axis=0)
    return result


def _group_moment(values, weights, codes, count, order: int, sample: bool) -> np.ndarray:
    counts = _group_sums(weights, codes, count)
    means = _group_sums(values * weights, codes, count) / np.where(counts == 0, 1, counts)
    deviations = (values - means[codes]) ** order * weights
    divisor = counts - 1 if sample else counts
    with np.errstate(invalid="ignore", divide="ignore"):
        result = _group_sums(deviations, codes, count) / divisor
    result = np.where(counts <= 1, 0.0, result)
    if not sample:      # SystemDS leaves an empty group's central moment NaN, its variance 0
        result = np.where(counts == 0, np.nan, result)
    return result


_AGGREGATE_FUNCTIONS = ("sum", "count", "mean", "min", "max", "variance", "centralmoment")


@builtin("aggregate")
def aggregate(target, groups, fn, ngroups=None, weights=None, order=None):
    """Per-group sum, count, mean, min, max, variance or centralmoment of target's columns."""
    if not is_matrix(target):
        raise DMLRuntimeError(f"aggregate: target must be a matrix, got {type_name(target)}")
    if target.shape[1] != 1 and ngroups is None:
        raise DMLRuntimeError("aggregate: a target with several columns needs ngroups")
    if fn not in _AGGREGATE_FUNCTIONS:
        raise DMLRuntimeError(f"aggregate: fn must be one of {', '.join(_AGGREGATE_FUNCTIONS)}, got {fn!r}")
    codes, count = _group_codes(groups, target.shape[0], ngroups)
    kept = codes < count
    values, codes = target[kept].astype(np.float64), codes[kept]
    w = np.ones((values.shape[0], 1)) if weights is None else \
        _weights(weights, target.shape[0], "aggregate")[kept].reshape(-1, 1)
    if fn == "sum":
        result = _group_sums(values * w, codes, count)
    elif fn == "count":
        result = _group_sums(np.broadcast_to(w, values.shape), codes, count)
    elif fn == "mean":
        counts = _group_sums(np.broadcast_to(w, values.shape), codes, count)
        result = _group_sums(values * w, codes, count) / np.where(counts == 0, 1, counts)
    elif fn in ("min", "max"):
        # SystemDS takes the extreme of the weighted values, as its sum and mean do
        result = _group_extreme(values * w, codes, count, np.min if fn == "min" else np.max)
    elif fn == "variance":
        result = _group_moment(values, w, codes, count, 2, sample=True)
    else:
        # SystemDS reads the order of a string too, as in order="3"
        if isinstance(order, str) and order.strip() in ("2", "3", "4"):
            order = int(order)
        if order not in (2, 3, 4):
            raise DMLRuntimeError(f"aggregate: centralmoment needs order 2, 3 or 4, got {order!r}")
        result = _group_moment(values, w, codes, count, int(order), sample=False)
    return result.astype(target.dtype if target.dtype.kind == "f" else np.float64)
