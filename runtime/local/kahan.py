"""SystemDS' compensated (Kahan) sums and incremental means, operation for operation.

SystemDS adds up a full aggregate cell by cell, row by row, in a Kahan sum:
    corrected = x + correction;  total' = total + corrected;  correction' = corrected - (total' - total)
and computes a mean incrementally, mean' = mean + (x - mean) / count, the increments again added in
a Kahan sum. Both are close to exact but not always correctly rounded, so a program printing a
sum's last digits needs these very steps. Row and column aggregates do the same along each row
or column (vectorized here across the rows or columns). Cumulative sums are running Kahan sums
down each column. Non-finite totals are left to the caller.
"""
from __future__ import annotations

import math

import numpy as np


def kahan_sum(values: list[float]) -> float:
    total = correction = 0.0
    for x in values:
        corrected = x + correction
        new_total = total + corrected
        correction = corrected - (new_total - total)
        total = new_total
    return total


def incremental_mean(values: list[float]) -> float:
    mean = correction = 0.0
    for count, x in enumerate(values, start=1):
        corrected = (x - mean) / count + correction
        new_mean = mean + corrected
        correction = corrected - (new_mean - mean)
        mean = new_mean
    return mean


def _lines(x: np.ndarray, axis: int):
    """The slices along which an aggregate over `axis` runs, in order (rows of x for axis 0)."""
    return x if axis == 0 else x.T


def kahan_axis_sum(x: np.ndarray, axis: int) -> np.ndarray:
    """Sums down each column (axis 0, 1 x m) or along each row (axis 1, n x 1)."""
    total = np.zeros(x.shape[1 - axis])
    correction = np.zeros_like(total)
    for line in _lines(x, axis):
        corrected = line + correction
        new_total = total + corrected
        correction = corrected - (new_total - total)
        total = new_total
    return total.reshape((1, -1) if axis == 0 else (-1, 1))


def incremental_axis_mean(x: np.ndarray, axis: int) -> np.ndarray:
    mean = np.zeros(x.shape[1 - axis])
    correction = np.zeros_like(mean)
    for count, line in enumerate(_lines(x, axis), start=1):
        corrected = (line - mean) / count + correction
        new_mean = mean + corrected
        correction = corrected - (new_mean - mean)
        mean = new_mean
    return mean.reshape((1, -1) if axis == 0 else (-1, 1))


def kahan_cumsum(x: np.ndarray) -> np.ndarray:
    """Running Kahan sums down each column."""
    result = np.empty(x.shape)
    total = np.zeros(x.shape[1])
    correction = np.zeros_like(total)
    for i, row in enumerate(x):
        corrected = row + correction
        new_total = total + corrected
        correction = corrected - (new_total - total)
        total = new_total
        result[i] = total
    return result


def incremental_covariance(x: list[float], y: list[float], weights: list[float]) -> float:
    """SystemDS' weighted sample covariance, one (x, y, weight) at a time: the means move by
    weight * delta / total weight and the co-moment grows by old weight * weight / total weight *
    dx * dy, each in a Kahan sum; the result is the co-moment / (total weight - 1)."""
    count = 0.0
    mean_x = mean_y = co_moment = 0.0
    fix_x = fix_y = fix_co = 0.0
    for u, v, w in zip(x, y, weights):
        if count == 0:
            count, mean_x, mean_y = w, u, v
            continue
        total = count + w
        du, dv = u - mean_x, v - mean_y
        mean_x, fix_x = _kahan_step(mean_x, fix_x, w * du / total)
        mean_y, fix_y = _kahan_step(mean_y, fix_y, w * dv / total)
        co_moment, fix_co = _kahan_step(co_moment, fix_co, count * w / total * du * dv)
        count = total
    return co_moment / (count - 1)


def incremental_power_sums(x: list[float], weights: list[float]) -> tuple[float, float, float, float]:
    """(total weight, m2, m3, m4): the sums of powers of deviations from the mean, accumulated one
    (value, weight) at a time as SystemDS' CM function object does (moment, var, sd and the
    row/column variances divide them): the mean moves by weight * delta / total weight, and m2,
    m3, m4 grow by the single-point update terms below, each in a Kahan sum; m3 and m4 use m2
    (and m3) as they were before the point."""
    count = 0.0
    mean, fix_mean = 0.0, 0.0
    sums = [0.0, 0.0, 0.0]      # m2, m3, m4
    fixes = [0.0, 0.0, 0.0]
    for value, w in zip(x, weights):
        if count == 0:
            count, mean = w, value
            continue
        total = count + w
        d = value - mean
        mean, fix_mean = _kahan_step(mean, fix_mean, w * d / total)
        t1 = count * w / total * d
        t2 = -1 / count
        share = w / total
        m2, m3 = sums[0], sums[1]
        terms = (t1 * d,
                 math.pow(t1, 3) * (1 / math.pow(w, 2) - math.pow(t2, 2)) - 3 * m2 * share * d,
                 6 * m2 * math.pow(-share * d, 2)
                 + math.pow(t1, 4) * (1 / math.pow(w, 3) - math.pow(t2, 3)) - 4 * m3 * share * d)
        for k, term in enumerate(terms):
            sums[k], fixes[k] = _kahan_step(sums[k], fixes[k], term)
        count = total
    return count, sums[0], sums[1], sums[2]


def incremental_column_variance(x: np.ndarray, sparse: bool = False) -> np.ndarray:
    """colVars as SystemDS' column kernels compute it (1 x m): each column's running mean and m2
    are updated one value at a time as in incremental_power_sums, both in Kahan sums, but between
    values the kernel keeps the column's *variance* (m2 / (count - 1), 0 for one value) and the
    Kahan corrections, not m2: before each value, m2 is recomputed as variance * (count - 1),
    which rounds it anew. The dense kernel goes down each column from an empty state; the sparse
    one (SystemDS' format for a matrix of more than one column and less than 40% nonzeros)
    starts each column at count = its number of zeros, mean 0, variance 0, then adds its
    nonzeros in row order."""
    if sparse:
        return np.array([[_column_variance(column[column != 0].tolist(),
                                           float(np.count_nonzero(column == 0)))
                          for column in x.T]])
    mean = np.zeros(x.shape[1])
    fix_mean = np.zeros_like(mean)
    fix_m2 = np.zeros_like(mean)
    variance = np.zeros_like(mean)
    for count, row in enumerate(x):
        total = count + 1.0
        m2 = variance * (count - 1.0)
        d = row - mean
        corrected = d / total + fix_mean
        new_mean = mean + corrected
        fix_mean = corrected - (new_mean - mean)
        mean = new_mean
        corrected = count / total * d * d + fix_m2
        new_m2 = m2 + corrected
        fix_m2 = corrected - (new_m2 - m2)
        variance = new_m2 / count if count else np.zeros_like(mean)
    return variance.reshape(1, -1)


def _column_variance(values: list[float], count: float) -> float:
    """One column of incremental_column_variance, from `count` zeros already seen."""
    mean = fix_mean = fix_m2 = variance = 0.0
    for value in values:
        total = count + 1.0
        d = value - mean
        mean, fix_mean = _kahan_step(mean, fix_mean, d / total)
        m2, fix_m2 = _kahan_step(variance * (count - 1.0), fix_m2, count / total * d * d)
        variance = m2 / count if count else 0.0
        count = total
    return variance


def _kahan_step(total: float, correction: float, x: float) -> tuple[float, float]:
    corrected = x + correction
    new_total = total + corrected
    return new_total, corrected - (new_total - total)
