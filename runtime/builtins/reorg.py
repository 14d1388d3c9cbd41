"""Builtins that reorder, select or count rows: order, table, sample, removeEmpty.

Semantics are SystemDS 3.x's:

* order(target, by, decreasing, index.return) is a stable sort in both directions: rows with
  equal keys keep their original relative order, also when decreasing. `by` is a column index
  or a column vector of column indices (sorted lexicographically, all in the same direction).
* table(A, B[, W][, rows, cols]) counts the (A[i], B[i]) pairs (or sums their weights W[i]).
  Its arguments are positional and their meaning depends on how many there are, as in SystemDS:
  table(A, B, W), table(A, B, rows, cols), table(A, B, W, rows, cols). B and W may be scalars.
  Cells whose A, B or W is NaN are skipped, as SystemDS does; any other value must be a
  positive integer. With explicit dimensions, pairs beyond them are dropped.
* sample(range, size, replace, seed) draws size values from 1..range (an n x 1 matrix); a third
  positional argument that is an integer rather than a boolean is the seed, as in SystemDS.
* removeEmpty(target, margin, select, empty.return) drops all-zero rows (or columns), or keeps
  those that `select` marks; when nothing is kept the result is a 1-row (1-column) zero matrix
  unless empty.return=FALSE, or a select is given (SystemDS then returns the empty matrix).

Matrices made from scalars (sample) use the run's precision; the others keep their input's dtype.
"""
from __future__ import annotations

import numpy as np

from ..errors import DMLRuntimeError
from ..values import dims, format_scalar, is_matrix, to_bool, to_double, to_int, type_name
from .registry import builtin
from .systemds_random import seeded_sample


def _float_dtype(context, *values) -> np.dtype:
    """The dtype of a result computed from these values: their (floating) dtype, else the run's."""
    matrices = [v.dtype for v in values if is_matrix(v) and v.dtype.kind == "f"]
    return np.result_type(*matrices) if matrices else np.dtype(context.dtype)


def _matrix_argument(value, function: str, name: str) -> np.ndarray:
    if not is_matrix(value):
        raise DMLRuntimeError(f"{function}: {name} must be a matrix, got {type_name(value)}")
    return value


def _integral(value, what: str) -> int:
    """A scalar that must hold an integer (3 or 3.0, not 3.5)."""
    if is_matrix(value) or isinstance(value, (str, list)):
        raise DMLRuntimeError(f"{what} must be a number, got {type_name(value)}")
    number = to_double(value, what)
    if not np.isfinite(number) or number != int(number):
        raise DMLRuntimeError(f"{what} must be an integer, got {value!r}")
    return int(number)


# ---- order ----------------------------------------------------------------------------------

def _sort_columns(by, ncol: int) -> list[int]:
    """order's `by` as 0-based column indices, most significant first."""
    if is_matrix(by):
        if by.size == 0 or min(by.shape) != 1:
            raise DMLRuntimeError(f"order: by must be a column index or a vector of column "
                                  f"indices, got a matrix {dims(by)}")
        values = by.ravel()
        if not np.isfinite(values).all() or (values != np.trunc(values)).any():
            raise DMLRuntimeError(f"order: by must hold integer column indices, got "
                                  f"{values.tolist()}")
        columns = [int(v) for v in values]
    else:
        columns = [_integral(by, "order: by")]
    bad = [c for c in columns if not 1 <= c <= ncol]
    if bad:
        raise DMLRuntimeError(f"order: by={bad[0]} is not a column of the {ncol}-column target "
                              f"(1..{ncol})")
    return [c - 1 for c in columns]


def _stable_permutation(keys: list[np.ndarray], decreasing: bool) -> np.ndarray:
    """Row permutation sorting by keys (most significant first), stable in both directions.

    Decreasing: a stable ascending sort of the reversed rows, read backwards, gives decreasing
    keys with ties in their original order (NaN, which numpy sorts last, then comes first)."""
    n = keys[0].shape[0]
    if decreasing:
        keys = [k[::-1] for k in keys]
    if len(keys) == 1:
        perm = np.argsort(keys[0], kind="stable")
    else:
        perm = np.lexsort(keys[::-1])  # lexsort's last key is the primary one
    if decreasing:
        perm = (n - 1) - perm[::-1]
    return perm


@builtin("order", context=True)
def order(context, target, by=1, decreasing=False, index_return=False):
    """The rows of target sorted by column(s) `by`; or, with index.return, their 1-based indices."""
    target = _matrix_argument(target, "order", "target")
    columns = _sort_columns(by, target.shape[1])
    descending = to_bool(decreasing, "order: decreasing")
    perm = _stable_permutation([target[:, c] for c in columns], descending)
    if to_bool(index_return, "order: index.return"):
        return (perm + 1).astype(_float_dtype(context, target)).reshape(-1, 1)
    return target[perm]


# ---- table ----------------------------------------------------------------------------------

def _category_codes(values: np.ndarray, valid: np.ndarray, what: str) -> np.ndarray:
    """Categories 1, 2, ... (as int64) where valid: fractions are truncated as SystemDS casts
    them to long (1.7 is 1); values that truncate below 1 are an error."""
    checked = values[valid]
    bad = ~np.isfinite(checked) | (checked < 1)
    if bad.any():
        first = float(checked[bad][0])
        raise DMLRuntimeError(f"table: the values of {what} must be at least 1 "
                              f"(categories 1, 2, ...), found {format_scalar(first)}")
    codes = np.zeros(values.shape, dtype=np.int64)
    codes[valid] = checked.astype(np.int64)
    return codes


def _output_dimension(value, what: str) -> int:
    if is_matrix(value) or isinstance(value, (str, list)):
        raise DMLRuntimeError(f"table: {what} must be a number, got {type_name(value)}")
    number = to_int(value, f"table: {what}")     # SystemDS truncates a fraction (27.5 is 27)
    if number < 0:
        raise DMLRuntimeError(f"table: {what} must not be negative, got {number}")
    return number


@builtin("table", context=True)
def table(context, A, B, *weights_and_dims):
    """table(A, B), table(A, B, W), table(A, B, rows, cols), table(A, B, W, rows, cols)
    (and a sixth argument, SystemDS's outputEmptyBlocks flag, which changes nothing here)."""
    count = len(weights_and_dims)
    if count > 4:
        raise DMLRuntimeError(f"table takes 2 to 6 arguments, got {2 + count}")
    weights, out_rows, out_cols = None, None, None
    if count in (1, 3, 4):
        weights = weights_and_dims[0]
    if count == 2:
        out_rows, out_cols = weights_and_dims
    elif count >= 3:
        out_rows, out_cols = weights_and_dims[1:3]
    if count == 4:
        to_bool(weights_and_dims[3], "table: outputEmptyBlocks")

    A = _matrix_argument(A, "table", "A (the first argument)")
    shape = A.shape
    a = A.ravel()
    for name, value in (("B", B), ("W", weights)):
        if is_matrix(value) and value.shape != shape:
            raise DMLRuntimeError(f"table: {name} is a matrix {dims(value)}, but A is {dims(A)}; "
                                  "they must have the same dimensions (or be a scalar)")
        if value is not None and not is_matrix(value) and isinstance(value, (str, list)):
            raise DMLRuntimeError(f"table: {name} must be a matrix or a number, "
                                  f"got {type_name(value)}")
    b = B.ravel() if is_matrix(B) else np.full(a.shape, to_double(B, "table: B"))
    if weights is None:
        w = None
    elif is_matrix(weights):
        w = weights.ravel()
    else:
        w = np.full(a.shape, to_double(weights, "table: W"))

    valid = ~(np.isnan(a) | np.isnan(b))        # SystemDS skips cells with a NaN in A, B or W
    if w is not None:
        valid &= ~np.isnan(w)
    rows = _category_codes(a, valid, "A")
    cols = _category_codes(b, valid, "B")
    n_rows = int(rows.max(initial=0)) if out_rows is None else _output_dimension(out_rows, "rows")
    n_cols = int(cols.max(initial=0)) if out_cols is None else _output_dimension(out_cols, "cols")
    keep = valid & (rows <= n_rows) & (cols <= n_cols)  # pairs beyond given dimensions are dropped
    cells = (rows[keep] - 1) * n_cols + (cols[keep] - 1)
    counts = np.bincount(cells, weights=None if w is None else w[keep], minlength=n_rows * n_cols)
    dtype = _float_dtype(context, A, B, weights)
    return counts.astype(dtype, copy=False).reshape(n_rows, n_cols)


# ---- sample ---------------------------------------------------------------------------------

@builtin("sample", context=True)
def sample(context, range, size, replace=False, seed=-1):
    """size values drawn from 1..range, as a size x 1 matrix; without replacement unless
    replace=TRUE. A third argument that is an integer is the seed (SystemDS's sample(r, n, seed))."""
    if not isinstance(replace, bool) and isinstance(replace, int) and seed == -1:
        replace, seed = False, replace
    population = _integral(range, "sample: range")
    count = _integral(size, "sample: size")
    with_replacement = to_bool(replace, "sample: replace")
    seed_value = to_int(seed, "sample: seed")
    if count < 0:
        raise DMLRuntimeError(f"sample: size must not be negative, got {count}")
    if population < 1 and count > 0:
        raise DMLRuntimeError(f"sample: range must be at least 1, got {population}")
    if count > population and not with_replacement:
        raise DMLRuntimeError(f"sample: cannot draw {count} values from 1..{population} without "
                              "replacement (pass replace=TRUE)")
    if seed_value != -1:                            # SystemDS's own draws for this seed
        return seeded_sample(population, count, with_replacement, seed_value).astype(
            context.dtype).reshape(-1, 1)
    generator = np.random.default_rng()
    if count == 0:
        drawn = np.zeros(0, dtype=np.int64)
    elif with_replacement:
        drawn = generator.integers(1, population, size=count, endpoint=True)
    else:
        drawn = generator.choice(population, size=count, replace=False) + 1
    return drawn.astype(context.dtype).reshape(-1, 1)


# ---- removeEmpty ----------------------------------------------------------------------------

@builtin("removeEmpty", context=True)
def remove_empty(context, target, margin, select=None, empty_return=True):
    """target without its all-zero rows (margin="rows") or columns (margin="cols"), or with only
    the rows/columns that select (a 0/1 vector) marks. NaN counts as a nonzero value."""
    target = _matrix_argument(target, "removeEmpty", "target")
    if not isinstance(margin, str) or margin not in ("rows", "cols"):
        raise DMLRuntimeError(f"removeEmpty: margin must be \"rows\" or \"cols\", got {margin!r}")
    axis = 0 if margin == "rows" else 1
    length = target.shape[axis]
    if select is None:
        keep = (target != 0).any(axis=1 - axis)
    else:
        if not is_matrix(select):
            raise DMLRuntimeError(f"removeEmpty: select must be a matrix, got {type_name(select)}")
        wanted = (length, 1) if axis == 0 else (1, length)
        if select.shape != wanted:
            raise DMLRuntimeError(f"removeEmpty: select must be a {wanted[0]}x{wanted[1]} vector "
                                  f"(one entry per {margin[:-1]} of target), got {dims(select)}")
        keep = select.ravel() != 0
    kept = target[keep] if axis == 0 else target[:, keep]
    if kept.shape[axis] == 0 and to_bool(empty_return, "removeEmpty: empty.return") and select is None:
        shape = (1, target.shape[1]) if axis == 0 else (target.shape[0], 1)
        return np.zeros(shape, dtype=_float_dtype(context, target))
    return kept
