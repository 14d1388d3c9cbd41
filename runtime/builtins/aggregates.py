"""Aggregations: full (sum, mean, var, sd, min, max, prod), row- and column-wise, cumulative
(cumsum, cumprod, cummin, cummax, cumsumprod; rowcumsum along rows). pmin and pmax are names of
min and max.

Sums are compensated, as SystemDS's Kahan summation is: sum(matrix(0.1, 10, 1)) is exactly 1.0.
Small double matrices are summed (and averaged) with SystemDS' very Kahan steps, so that their
last digits are SystemDS' (local/kahan.py). For the others the scheme is vectorized
error-free splitting: each value is cut into a high part on a grid coarse enough that the high
parts add up exactly in any order, and a low part that is summed again the same way; what is
left after two rounds is below about 2^-100 of the largest value, so the results match math.fsum
(correct rounding), which is at least as accurate as Kahan. Full aggregates return Python
floats; row, column and cumulative aggregates keep the input's dtype.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import DMLRuntimeError
from ..local import native
from ..local.kahan import (incremental_axis_mean, incremental_column_variance,
                           incremental_mean, incremental_power_sums,
                           kahan_axis_sum, kahan_cumsum, kahan_sum)
from ..local.elementwise import binary as parallel_binary
from ..local.parallel import run_chunks, split
from ..operators import broadcastable, long_through_double
from ..values import is_matrix, require_matrix, type_name
from .registry import builtin

_SMALL = 256            # full sums of at most this many cells use math.fsum directly
_SPARSE_TURN_POINT = 0.4        # SystemDS keeps a matrix sparse below this share of nonzeros
_SYSTEMDS_ORDER_CELLS = 4096    # double matrices up to this size: SystemDS' own Kahan steps
_HALF_ULP_BITS = 53     # double precision: |low part| <= 2^-53 * sigma


# ---- compensated summation ------------------------------------------------------------------
#
# For n values with max|x| < 2^e, sigma = 2^(e + bits), n < 2^bits: high = (x + sigma) - sigma is
# x rounded to a multiple of sigma * 2^-53, and any sum of such high parts is exact (its magnitude
# stays below sigma). low = x - high is exact and below sigma * 2^-53, and is split once more on
# the grid sigma * 2^(bits - 53). The cells are processed in blocks of about _BLOCK values so the
# temporaries stay in cache; the blocks share one sigma, so their high sums still add exactly.

_BLOCK = 1 << 15
# Matrices with at least this many cells have their row or column sums computed in this many
# slices, on the kernel worker threads (runtime/local/parallel.py).
_PARALLEL_CELLS = 1 << 18
_PARALLEL_SLICES = 4


def _grids(largest, count: int):
    bits = max(count, 1).bit_length()
    coarse = np.ldexp(1.0, np.frexp(largest)[1] + bits)
    return coarse, np.ldexp(coarse, bits - _HALF_ULP_BITS)


def _buffers(block: np.ndarray):
    """Scratch arrays for _split, reused across blocks (fresh large temporaries are slow)."""
    return np.empty(block.shape), np.empty(block.shape), np.empty(block.shape)


def _split(block: np.ndarray, coarse, fine, buffers):
    """block = high + middle + low exactly; high and middle sum exactly within their grids."""
    rows = block.shape[0]
    high, middle, low = (b[:rows] for b in buffers)
    np.add(block, coarse, out=high)
    np.subtract(high, coarse, out=high)
    np.subtract(block, high, out=low)
    np.add(low, fine, out=middle)
    np.subtract(middle, fine, out=middle)
    np.subtract(low, middle, out=low)
    return high, middle, low


def _add_parts(high, middle, low):
    """high + middle + low with one rounding in practice: high + middle is split exactly into a
    sum and its rounding error (TwoSum) before the small terms are added."""
    total = high + middle
    middle_part = total - high
    error = (high - (total - middle_part)) + (middle - middle_part)
    error += low
    total += error
    return total


def _largest(x: np.ndarray, axis) -> np.ndarray:
    return np.maximum(np.max(x, axis=axis, keepdims=True), -np.min(x, axis=axis, keepdims=True))


def _row_step(x: np.ndarray) -> int:
    return max(1, _BLOCK // max(x.shape[1], 1))


def _in_systemds_order(x: np.ndarray) -> bool:
    """Small double matrices are aggregated step for step as SystemDS does (local/kahan.py)."""
    return x.dtype == np.float64 and x.size <= _SYSTEMDS_ORDER_CELLS


def full_sum(x: np.ndarray) -> float:
    """Compensated sum of every cell of x, as a Python float."""
    if _in_systemds_order(x):
        total = kahan_sum(x.ravel().tolist())
        if math.isfinite(total):
            return total
    if x.size <= _SMALL:
        try:
            return math.fsum(x.ravel().tolist())
        except (OverflowError, ValueError):         # inf - inf, or an overflowing total
            with np.errstate(over="ignore", invalid="ignore"):
                return float(np.sum(x, dtype=np.float64))
    flat = np.asarray(x, dtype=np.float64).ravel(order="K")
    high_sum = middle_sum = low_sum = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        coarse, fine = _grids(_largest(flat, None), flat.size)
        buffers = _buffers(flat[:_BLOCK])
        for start in range(0, flat.size, _BLOCK):
            high, middle, low = _split(flat[start:start + _BLOCK], coarse, fine, buffers)
            high_sum += float(np.sum(high))
            middle_sum += float(np.sum(middle))
            low_sum += float(np.sum(low))
        try:
            total = math.fsum((high_sum, middle_sum, low_sum))
        except (OverflowError, ValueError):
            total = math.nan
        if not math.isfinite(total):                # Inf or NaN cells, or an overflowing sum
            return float(np.sum(flat))
    return total


def axis_sum(x: np.ndarray, axis: int) -> np.ndarray:
    """Compensated sums along axis (0: per column, 1: per row), shaped 1 x m or n x 1, float64:
    SystemDS' Kahan steps for a small double matrix, else exact_axis_sum."""
    if _in_systemds_order(x):
        sums = kahan_axis_sum(x, axis)
        if np.isfinite(sums).all():
            return sums
    return exact_axis_sum(x, axis)


def exact_axis_sum(x: np.ndarray, axis: int) -> np.ndarray:
    """Correctly rounded sums along axis (float32: float64 sums), whatever the size (the parts
    the Spark aggregates combine rely on it)."""
    if x.dtype == np.float32:
        # Single precision: a plain float64 sum already carries 29 more bits than the float32
        # result keeps, so it rounds to what a compensated sum gives (barring cancellation by a
        # factor of 2^29 / n), at the cost of one pass instead of the nine below.
        if axis == 0 and x.strides[1] == x.itemsize and native.enabled():
            return native.column_sums_single(x)         # the same sums, in one pass
        return np.sum(x, axis=axis, keepdims=True, dtype=np.float64)
    across = 1 - axis                               # the axis the sums are laid out along
    if x.size >= _PARALLEL_CELLS and x.shape[across] >= _PARALLEL_SLICES:
        # every sum is computed on its own (its own grids), so slices give the same bits
        def part(first: int, last: int) -> np.ndarray:
            return _axis_sum(x[:, first:last] if axis == 0 else x[first:last], axis)
        return np.concatenate(run_chunks(part, split(x.shape[across], _PARALLEL_SLICES)),
                              axis=across)
    return _axis_sum(x, axis)


def _axis_sum(x: np.ndarray, axis: int) -> np.ndarray:
    x64 = np.asarray(x, dtype=np.float64)
    if x64.shape[axis] == 0 or x64.size == 0:
        return np.sum(x64, axis=axis, keepdims=True)
    step = _row_step(x64)
    with np.errstate(over="ignore", invalid="ignore"):
        if axis == 0 and x64.strides[1] == x64.itemsize and native.enabled():
            result = native.column_exact_sums(x64, step)     # the same sums, memory read once
            return _with_plain_sums_where_not_finite(result, x64, axis)
        coarse, fine = _grids(_largest(x64, axis), x64.shape[axis])
        if axis == 0:
            high_sum = np.zeros((1, x64.shape[1]))
            middle_sum, low_sum = high_sum.copy(), high_sum.copy()
            buffers = _buffers(x64[:step])
            for start in range(0, x64.shape[0], step):
                high, middle, low = _split(x64[start:start + step], coarse, fine, buffers)
                high_sum += np.sum(high, axis=0, keepdims=True)
                middle_sum += np.sum(middle, axis=0, keepdims=True)
                low_sum += np.sum(low, axis=0, keepdims=True)
            result = _add_parts(high_sum, middle_sum, low_sum)
        else:
            result = np.empty((x64.shape[0], 1))
            buffers = _buffers(x64[:step])
            for start in range(0, x64.shape[0], step):
                rows = slice(start, start + step)
                high, middle, low = _split(x64[rows], coarse[rows], fine[rows], buffers)
                result[rows] = _add_parts(np.sum(high, axis=1, keepdims=True),
                                          np.sum(middle, axis=1, keepdims=True),
                                          np.sum(low, axis=1, keepdims=True))
        return _with_plain_sums_where_not_finite(result, x64, axis)


def _with_plain_sums_where_not_finite(result: np.ndarray, x64: np.ndarray, axis: int):
    bad = ~np.isfinite(result)
    if bad.any():                                   # Inf or NaN cells, or an overflowing sum
        result = np.where(bad, np.sum(x64, axis=axis, keepdims=True), result)
    return result


def _cumulative_sum(x: np.ndarray) -> np.ndarray:
    """Compensated column-wise running sums, float64."""
    if _in_systemds_order(x):
        sums = kahan_cumsum(x)
        if np.isfinite(sums).all():
            return sums
    x64 = np.asarray(x, dtype=np.float64)
    result = np.empty(x64.shape)
    if x64.size == 0:
        return result
    step = _row_step(x64)
    with np.errstate(over="ignore", invalid="ignore"):
        coarse, fine = _grids(_largest(x64, 0), x64.shape[0])
        carry_high = np.zeros((1, x64.shape[1]))
        carry_middle, carry_low = carry_high.copy(), carry_high.copy()
        buffers = _buffers(x64[:step])
        for start in range(0, x64.shape[0], step):
            high, middle, low = _split(x64[start:start + step], coarse, fine, buffers)
            np.cumsum(high, axis=0, out=high)
            high += carry_high
            np.cumsum(middle, axis=0, out=middle)
            middle += carry_middle
            np.cumsum(low, axis=0, out=low)
            low += carry_low
            carry_high, carry_middle, carry_low = high[-1:].copy(), middle[-1:].copy(), low[-1:].copy()
            result[start:start + step] = _add_parts(high, middle, low)
        bad = ~np.isfinite(result)
        if bad.any():                               # Inf or NaN cells, or an overflowing sum
            result = np.where(bad, np.cumsum(x64, axis=0), result)
    return result


# ---- argument checks ------------------------------------------------------------------------

def _matrix(value, name: str) -> np.ndarray:
    return require_matrix(value, f"the argument of {name}")


def _over_axis(value, name: str, axis: int, function) -> np.ndarray:
    """function(x) of a row (axis=1) or column (axis=0) aggregate. Over an empty axis every
    cell is 0 in SystemDS (its result block starts at zero and nothing is added to it): colMaxs
    of a 0x3 matrix is 1x3 zeros, rowMaxs of it 0x1."""
    x = _matrix(value, name)
    if x.shape[axis] == 0:
        return np.zeros((1, x.shape[1]) if axis == 0 else (x.shape[0], 1), dtype=x.dtype)
    return function(x)


def _as(result: np.ndarray, like: np.ndarray) -> np.ndarray:
    return result.astype(like.dtype, copy=False)


# ---- full aggregates --------------------------------------------------------------------------

@builtin("sum")
def sum_(target):
    return full_sum(_matrix(target, "sum"))


@builtin("mean", "avg")   # SystemDS takes avg as another name of mean
def mean(target):
    x = _matrix(target, "mean")
    if x.size == 0:
        return math.nan
    if _in_systemds_order(x):
        average = incremental_mean(x.ravel().tolist())
        if math.isfinite(average):
            return average
    return full_sum(x) / x.size


def _full_variance(x: np.ndarray) -> float:
    """SystemDS gives a single value (even NaN or Infinity) the variance 0."""
    if x.size < 2:
        return 0.0 if x.size == 1 else math.nan
    if _in_systemds_order(x):
        variance = _incremental_variance(x.ravel().tolist())
        if math.isfinite(variance):
            return variance
    x64 = np.asarray(x, dtype=np.float64)
    deviations = x64 - full_sum(x64) / x64.size
    np.multiply(deviations, deviations, out=deviations)
    return full_sum(deviations) / (x64.size - 1)


def _incremental_variance(values: list[float]) -> float:
    """SystemDS' variance: its central-moment object's m2, point by point, over n - 1."""
    count, m2, _, _ = incremental_power_sums(values, [1.0] * len(values))
    return m2 / (count - 1)


@builtin("var")
def var(target):
    """Sample variance (divides by n - 1)."""
    return _full_variance(_matrix(target, "var"))


@builtin("sd")
def sd(target):
    """Sample standard deviation (from the n - 1 variance)."""
    return math.sqrt(_full_variance(_matrix(target, "sd")))


@builtin("prod")
def prod(target):
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.prod(_matrix(target, "prod"), dtype=np.float64))


@builtin("trace")
def trace(target):
    """Sum of the diagonal of a square matrix."""
    x = _matrix(target, "trace")
    if x.shape[0] != x.shape[1]:
        raise DMLRuntimeError(f"trace needs a square matrix, got {type_name(x)}")
    return full_sum(x.diagonal())


# ---- min / max --------------------------------------------------------------------------------

def _number(value, name: str):
    if isinstance(value, str):
        raise DMLRuntimeError(f"{name} is not defined for strings, got {value!r}")
    if isinstance(value, list):
        raise DMLRuntimeError(f"{name} needs numbers or matrices, got a list")
    return value


def _scalar_pair(a, b, name: str, pick):
    if isinstance(a, int) and isinstance(b, int) and not isinstance(a, bool) and not isinstance(b, bool):
        result = pick(a, b)     # SystemDS casts the long result through a double
        return long_through_double(result)
    x, y = float(a), float(b)
    if x != x or y != y:
        return math.nan
    return float(pick(x, y))


def _elementwise(a, b, name: str, function) -> np.ndarray:
    if is_matrix(a) and is_matrix(b):
        if not broadcastable(a.shape, b.shape):
            raise DMLRuntimeError(f"{name} of two matrices needs equal dimensions (or a row or column "
                                  f"vector or a 1x1 matrix second), got {type_name(a)} and {type_name(b)}")
        return parallel_binary(function, a, b)
    matrix, scalar = (a, b) if is_matrix(a) else (b, a)
    return parallel_binary(function, matrix, matrix.dtype.type(float(scalar)))


# min/max of an empty matrix: SystemDS's starting values, untouched
_EMPTY_EXTREMES = {"min": math.inf, "max": -math.inf}


def _min_max(name: str, function, pick, values):
    if not values:
        raise DMLRuntimeError(f"{name} needs at least one argument")
    values = [_number(v, name) for v in values]
    if len(values) == 1:
        x = values[0]
        if not is_matrix(x):
            raise DMLRuntimeError(f"{name} of a single argument needs a matrix, got {type_name(x)}")
        if x.size == 0:
            return _EMPTY_EXTREMES[name]
        return float(function.reduce(x, axis=None))
    if not any(is_matrix(v) for v in values):
        if len(values) == 2:
            return _scalar_pair(values[0], values[1], name, pick)
        numbers = [float(v) for v in values]
        if any(v != v for v in numbers):
            return math.nan
        return float(pick(*numbers))
    result = values[0]
    for value in values[1:]:  # over the arguments, not over cells
        result = _elementwise(result, value, name, function) if (is_matrix(result) or is_matrix(value)) \
            else _scalar_pair(result, value, name, pick)
    return result


@builtin("min", "pmin")
def min_(*values):
    """min(M): smallest cell; min(a, b): elementwise or scalar; min(a, b, c, ...): n-ary."""
    return _min_max("min", np.minimum, min, values)


@builtin("max", "pmax")
def max_(*values):
    """max(M): largest cell; max(a, b): elementwise or scalar; max(a, b, c, ...): n-ary."""
    return _min_max("max", np.maximum, max, values)


# ---- row and column aggregates ----------------------------------------------------------------

@builtin("rowSums")
def row_sums(target):
    x = _matrix(target, "rowSums")
    return _as(axis_sum(x, 1), x)


@builtin("colSums")
def col_sums(target):
    x = _matrix(target, "colSums")
    return _as(axis_sum(x, 0), x)


@builtin("rowMeans")
def row_means(target):
    return _over_axis(target, "rowMeans", 1, lambda x: _as(_axis_mean(x, 1), x))


@builtin("colMeans")
def col_means(target):
    return _over_axis(target, "colMeans", 0, lambda x: _as(_axis_mean(x, 0), x))


def _axis_mean(x: np.ndarray, axis: int) -> np.ndarray:
    if _in_systemds_order(x):
        means = incremental_axis_mean(x, axis)
        if np.isfinite(means).all():
            return means
    return axis_sum(x, axis) / x.shape[axis]


def _axis_variance(x: np.ndarray, axis: int) -> np.ndarray:
    count = x.shape[axis]
    x64 = np.asarray(x, dtype=np.float64)
    if count < 2:     # one value per row/column: variance 0, as for var(); none: 0 (SystemDS)
        return np.zeros(np.sum(x64, axis=axis, keepdims=True).shape)
    if axis == 1 and _in_systemds_order(x):
        # rowVars: SystemDS' point-by-point steps, as var()
        variances = np.array([_incremental_variance(row) for row in x64.tolist()])
        if np.isfinite(variances).all():
            return variances.reshape(-1, 1)
    if axis == 0 and _in_systemds_order(x):
        # colVars: the same steps, but SystemDS' column kernel keeps the variance between rows
        # and recomputes m2 from it (local/kahan.py incremental_column_variance)
        sparse = x.shape[1] > 1 and np.count_nonzero(x64) < _SPARSE_TURN_POINT * x64.size
        variances = incremental_column_variance(x64, sparse)
        if np.isfinite(variances).all():
            return variances
    deviations = x64 - axis_sum(x64, axis) / count
    np.multiply(deviations, deviations, out=deviations)
    return axis_sum(deviations, axis) / (count - 1)


@builtin("rowVars")
def row_vars(target):
    x = _matrix(target, "rowVars")
    return _as(_axis_variance(x, 1), x)


@builtin("colVars")
def col_vars(target):
    x = _matrix(target, "colVars")
    return _as(_axis_variance(x, 0), x)


@builtin("rowSds")
def row_sds(target):
    x = _matrix(target, "rowSds")
    return _as(np.sqrt(_axis_variance(x, 1)), x)


@builtin("colSds")
def col_sds(target):
    x = _matrix(target, "colSds")
    return _as(np.sqrt(_axis_variance(x, 0)), x)


@builtin("rowMaxs")
def row_maxs(target):
    return _over_axis(target, "rowMaxs", 1, lambda x: np.max(x, axis=1, keepdims=True))


@builtin("colMaxs")
def col_maxs(target):
    return _over_axis(target, "colMaxs", 0, lambda x: np.max(x, axis=0, keepdims=True))


@builtin("rowMins")
def row_mins(target):
    return _over_axis(target, "rowMins", 1, lambda x: np.min(x, axis=1, keepdims=True))


@builtin("colMins")
def col_mins(target):
    return _over_axis(target, "colMins", 0, lambda x: np.min(x, axis=0, keepdims=True))


def _axis_product(x: np.ndarray, axis: int) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        return _as(np.prod(x, axis=axis, keepdims=True, dtype=np.float64), x)


@builtin("rowProds")
def row_prods(target):
    return _over_axis(target, "rowProds", 1, lambda x: _axis_product(x, 1))


@builtin("colProds")
def col_prods(target):
    return _over_axis(target, "colProds", 0, lambda x: _axis_product(x, 0))


def _row_index(x: np.ndarray, extreme: np.ufunc) -> np.ndarray:
    """1-based column of each row's extreme; ties go to the LAST such column, as in SystemDS.
    NaN cells are skipped (np.fmax/np.fmin ignore them); a row of only NaNs gives 1."""
    best = extreme.reduce(x, axis=1, keepdims=True)
    hits = (x == best)[:, ::-1]
    position = np.where(hits.any(axis=1), x.shape[1] - np.argmax(hits, axis=1), 1)
    return position.reshape(-1, 1).astype(x.dtype)


@builtin("rowIndexMax")
def row_index_max(target):
    return _over_axis(target, "rowIndexMax", 1, lambda x: _row_index(x, np.fmax))


@builtin("rowIndexMin")
def row_index_min(target):
    return _over_axis(target, "rowIndexMin", 1, lambda x: _row_index(x, np.fmin))


# ---- cumulative aggregates (down each column) ---------------------------------------------------

@builtin("cumsum")
def cumsum(target):
    x = _matrix(target, "cumsum")
    return _as(_cumulative_sum(x), x)


@builtin("rowcumsum")
def rowcumsum(target):
    """Running sums along each row, left to right (cumsum of the transpose, transposed)."""
    x = _matrix(target, "rowcumsum")
    return _as(np.ascontiguousarray(_cumulative_sum(np.ascontiguousarray(x.T)).T), x)


@builtin("cumprod")
def cumprod(target):
    x = _matrix(target, "cumprod")
    with np.errstate(over="ignore", invalid="ignore"):
        return np.cumprod(x, axis=0)


@builtin("cummin")
def cummin(target):
    return np.minimum.accumulate(_matrix(target, "cummin"), axis=0)


@builtin("cummax")
def cummax(target):
    return np.maximum.accumulate(_matrix(target, "cummax"), axis=0)


@builtin("cumsumprod")
def cumsumprod(target):
    """For a two-column [X C]: y_1 = x_1, y_i = x_i + c_i * y_(i-1); an n x 1 result."""
    x = _matrix(target, "cumsumprod")
    if x.shape[1] != 2:
        raise DMLRuntimeError(f"cumsumprod needs a matrix of two columns [X C], got {type_name(x)}")
    result = np.empty((x.shape[0], 1), dtype=x.dtype)
    previous = 0.0
    for i, (value, factor) in enumerate(x.tolist()):
        previous = value + factor * previous
        result[i, 0] = previous
    return result
