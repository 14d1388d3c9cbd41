"""Builtins that build or rearrange matrices: matrix, rand, seq, cbind, rbind, diag, outer, t, rev,
roll, lower.tri, upper.tri.

Matrices made from scalars use the run's precision (context.dtype); matrices made from other
matrices keep their dtype.
"""
from __future__ import annotations

import functools
import inspect
import math

import numpy as np

from ..errors import DMLRuntimeError
from ..io.numbers import parse_java_double
from ..operators import matrix_int_divide, matrix_modulus
from ..values import format_scalar, is_matrix, require_matrix, to_bool, to_double, to_int, type_name
from .registry import builtin
from .systemds_random import seeded_rand


# ---- parameters named by Python keywords (seq's `from`, rand's `lambda`) ----------------------

class _DMLParameter(inspect.Parameter):
    """A signature parameter whose name may be a Python keyword (DML's `from`, `lambda`)."""
    __slots__ = ()

    def __init__(self, name, kind, *, default=inspect.Parameter.empty):
        super().__init__("placeholder", kind, default=default)
        self._name = name


def dml_names(**renamed: str):
    """Lets a builtin take DML argument names that Python cannot spell: the function is written
    with `from_` and registered as taking `from` (`@dml_names(from_="from")`)."""
    def decorate(function):
        signature = inspect.signature(function)
        parameters = [_DMLParameter(renamed.get(p.name, p.name), p.kind, default=p.default)
                      for p in signature.parameters.values()]
        to_python = {dml: python for python, dml in renamed.items()}

        @functools.wraps(function)
        def call(*args, **kwargs):
            for dml, python in to_python.items():
                if dml in kwargs:
                    kwargs[python] = kwargs.pop(dml)
            return function(*args, **kwargs)
        call.__signature__ = signature.replace(parameters=parameters)
        return call
    return decorate


def _dimension(value, what: str) -> int:
    if is_matrix(value) or isinstance(value, (str, list)):
        raise DMLRuntimeError(f"{what} must be a number, got {type_name(value)}")
    number = to_int(value, what)
    if number < 0:
        raise DMLRuntimeError(f"{what} must not be negative, got {number}")
    return number


# ---- matrix ---------------------------------------------------------------------------------

def _parse_numbers(text: str) -> list[float]:
    """The cells of matrix("1 2 NaN Infinity", ...): SystemDS splits on blanks (a comma is part of
    a word) and reads each word with Java's Double.parseDouble, which refuses "Inf" and "nan"."""
    values = []
    for word in text.split():
        try:
            values.append(parse_java_double(word))
        except ValueError:
            raise DMLRuntimeError(f"matrix: the data string holds {word!r}, which is not a number "
                                  f"(cells are separated by blanks; infinity is spelled "
                                  f"Infinity)") from None
    return values


def _shape_for(count: int, rows, cols, source: str) -> tuple[int, int]:
    """rows x cols for `count` values, inferring a missing dimension; errors name the mismatch."""
    if rows is None and cols is None:
        raise DMLRuntimeError("matrix needs rows=, cols= or both")
    if rows is None:
        rows = count // cols if cols else 0
        if cols == 0 or rows * cols != count:
            raise DMLRuntimeError(f"matrix: {count} values of {source} do not fill whole rows "
                                  f"of {cols} columns")
    elif cols is None:
        cols = count // rows if rows else 0
        if rows == 0 or rows * cols != count:
            raise DMLRuntimeError(f"matrix: {count} values of {source} do not fill whole columns "
                                  f"of {rows} rows")
    elif rows * cols != count:
        raise DMLRuntimeError(f"matrix: {source} has {count} values, but a {rows}x{cols} matrix "
                              f"needs {rows * cols}")
    return rows, cols


@builtin("matrix", context=True, keeps_inputs=True)
def matrix(context, data, rows=None, cols=None, byrow=True):
    """matrix(7, rows, cols) fills; matrix("1 2 3 4", rows, cols) reads numbers row by row (byrow
    does not apply to a string, as in SystemDS); matrix(M, rows, cols) reshapes row-major
    (byrow=FALSE: reads and fills column-major)."""
    rows = None if rows is None else _dimension(rows, "matrix: rows")
    cols = None if cols is None else _dimension(cols, "matrix: cols")
    by_row = to_bool(byrow, "matrix: byrow")
    order = "C" if by_row else "F"
    if is_matrix(data):
        rows, cols = _shape_for(data.size, rows, cols, f"the {type_name(data)}")
        return np.reshape(data, (rows, cols), order=order)
    if isinstance(data, str):
        values = _parse_numbers(data)
        rows, cols = _shape_for(len(values), rows, cols, "the data string")
        return np.array(values, dtype=context.dtype).reshape((rows, cols))
    if isinstance(data, bool):      # SystemDS: "for Rand statement max has incorrect value type"
        raise DMLRuntimeError("matrix cannot be filled with a boolean; use as.double(...) for "
                              "1.0 or 0.0")
    if isinstance(data, (int, float)):
        if rows is None or cols is None:
            raise DMLRuntimeError("matrix filled with a number needs both rows= and cols=")
        return np.full((rows, cols), float(data), dtype=context.dtype)
    raise DMLRuntimeError(f"matrix: data must be a number, a string of numbers or a matrix, "
                          f"got {type_name(data)}")


# ---- rand -----------------------------------------------------------------------------------

_PDFS = ("uniform", "normal", "poisson")


@builtin("rand", "Rand", "RAND", context=True)   # SystemDS matches the name rand in any case
@dml_names(lambda_="lambda")
def rand(context, rows=1, cols=1, min=0.0, max=1.0, sparsity=1.0, pdf="uniform", seed=-1,
         lambda_=1.0):
    """Random rows x cols matrix; seed=-1 draws a fresh seed. sparsity is the fraction of cells
    that are drawn (the others are 0). rows and cols default to 1, as in SystemDS. A seeded
    uniform or normal rand gives SystemDS's numbers for that seed (see systemds_random)."""
    n_rows, n_cols = _dimension(rows, "rand: rows"), _dimension(cols, "rand: cols")
    low, high = to_double(min, "rand: min"), to_double(max, "rand: max")
    density = to_double(sparsity, "rand: sparsity")
    if not 0.0 <= density <= 1.0:
        raise DMLRuntimeError(f"rand: sparsity must lie in [0, 1], got {density}")
    if not isinstance(pdf, str) or pdf.lower() not in _PDFS:
        raise DMLRuntimeError(f"rand: pdf must be one of {', '.join(_PDFS)}, got {pdf!r}")
    kind = pdf.lower()
    if kind == "uniform" and low > high:
        raise DMLRuntimeError(f"rand: min ({low}) must not exceed max ({high})")
    seed_value = to_int(seed, "rand: seed")
    shape, dtype = (n_rows, n_cols), context.dtype
    if seed_value != -1 and kind != "poisson":      # SystemDS's own stream for this seed
        return seeded_rand(n_rows, n_cols, low, high, density, kind, seed_value).astype(dtype)
    generator = np.random.default_rng(None if seed_value == -1 else seed_value % 2**64)
    if kind == "uniform":
        values = generator.random(shape, dtype=dtype)
        if low != 0.0 or high != 1.0:
            values *= dtype(high - low)
            values += dtype(low)
            np.minimum(values, dtype(high), out=values)
    elif kind == "normal":
        values = generator.standard_normal(shape, dtype=dtype)
    else:
        rate = to_double(lambda_, "rand: lambda")
        if not rate >= 0.0:
            raise DMLRuntimeError(f"rand: lambda must not be negative, got {rate}")
        values = generator.poisson(rate, shape).astype(dtype)
    if density < 1.0:
        values[generator.random(shape) >= density] = 0.0
    return values


# ---- seq ------------------------------------------------------------------------------------

@builtin("seq", context=True)
@dml_names(from_="from")
def seq(context, from_, to, incr=None):
    """Column vector from, from+incr, ... up to `to`; incr defaults to 1, or -1 when from > to."""
    start, stop = to_double(from_, "seq: from"), to_double(to, "seq: to")
    if incr is None:
        step = 1.0 if stop >= start else -1.0
    else:
        step = to_double(incr, "seq: incr")
    if not all(math.isfinite(v) for v in (start, stop, step)):
        raise DMLRuntimeError(f"seq needs finite arguments, got seq({format_scalar(start)}, "
                              f"{format_scalar(stop)}, {format_scalar(step)})")
    if step == 0.0:
        raise DMLRuntimeError("seq: the increment must not be 0")
    if (stop - start) * step < 0:
        shown = ", ".join(format_scalar(v) for v in (from_, to, incr if incr is not None else step))
        raise DMLRuntimeError(f"Wrong sign for the increment in a call to seq({shown}): going from "
                              f"{format_scalar(from_)} to {format_scalar(to)} needs a "
                              f"{'positive' if stop > start else 'negative'} increment")
    count = 1 + int(math.floor(stop / step - start / step))
    # successive additions, as a loop `x = x + incr` would produce them
    steps = np.full(count, step, dtype=np.float64)
    steps[0] = start
    return np.cumsum(steps).astype(context.dtype, copy=False).reshape(count, 1)


# ---- cbind / rbind ----------------------------------------------------------------------------

def _bind(name: str, matrices, axis: int) -> np.ndarray:
    if len(matrices) < 2:
        raise DMLRuntimeError(f"{name} needs at least two matrices, got {len(matrices)}")
    for position, value in enumerate(matrices, 1):
        require_matrix(value, f"{name} argument {position}")
    kept = 0 if axis == 1 else 1
    first = matrices[0]
    for position, value in enumerate(matrices[1:], 2):
        if value.shape[kept] != first.shape[kept]:
            what = "rows" if kept == 0 else "columns"
            raise DMLRuntimeError(f"{name} needs matrices with the same number of {what}: argument 1 "
                                  f"is {first.shape[0]}x{first.shape[1]}, argument {position} is "
                                  f"{value.shape[0]}x{value.shape[1]}")
    return np.concatenate(matrices, axis=axis)


@builtin("cbind")
def cbind(*matrices):
    """Matrices side by side (same number of rows)."""
    return _bind("cbind", matrices, axis=1)


@builtin("rbind")
def rbind(*matrices):
    """Matrices stacked top to bottom (same number of columns)."""
    return _bind("rbind", matrices, axis=0)


# ---- diag, outer, t, rev ----------------------------------------------------------------------

@builtin("diag", context=True)
def diag(context, target):
    """diag(column vector) -> diagonal matrix; diag(square matrix) -> column vector of its diagonal."""
    if isinstance(target, (bool, int, float)):
        return np.full((1, 1), float(target), dtype=context.dtype)
    x = require_matrix(target, "the argument of diag")
    rows, cols = x.shape
    if cols == 1:
        out = np.zeros((rows, rows), dtype=x.dtype)
        np.fill_diagonal(out, x[:, 0])
        return out
    if rows == cols:
        return x.diagonal().reshape(rows, 1).copy()
    raise DMLRuntimeError(f"diag needs a column vector or a square matrix, got {type_name(x)}")


_OUTER_OPS = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "^": np.power,
    "%%": matrix_modulus, "%/%": matrix_int_divide,   # as the operators compute them
    "min": np.minimum, "max": np.maximum,
    "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
    "==": np.equal, "!=": np.not_equal,
    "&": lambda a, b: (a != 0) & (b != 0), "|": lambda a, b: (a != 0) | (b != 0),
}


@builtin("outer")
def outer(a, b, op):
    """outer(a (n x 1), b (1 x m), op) -> n x m matrix with cell [i, j] = a[i] op b[j]."""
    left = require_matrix(a, "outer's first argument")
    right = require_matrix(b, "outer's second argument")
    if left.shape[1] != 1:
        raise DMLRuntimeError(f"outer's first argument must be a column vector, got {type_name(left)}")
    if right.shape[0] != 1:
        raise DMLRuntimeError(f"outer's second argument must be a row vector, got {type_name(right)}")
    function = _OUTER_OPS.get(op) if isinstance(op, str) else None
    if function is None:
        raise DMLRuntimeError(f"outer: unknown operator {op!r}; use one of "
                              f"{', '.join(repr(k) for k in _OUTER_OPS)}")
    dtype = np.result_type(left.dtype, right.dtype)
    with np.errstate(all="ignore"):
        result = function(left, right)
    return np.asarray(result, dtype=dtype)


@builtin("t", keeps_inputs=True)
def t(target):
    """Transpose."""
    return require_matrix(target, "the argument of t").T


@builtin("rev", keeps_inputs=True)
def rev(target):
    """The rows in reverse order."""
    return require_matrix(target, "the argument of rev")[::-1]


@builtin("roll")
def roll(target, shift):
    """The rows shifted down by `shift` places, circularly (a negative shift moves them up)."""
    x = require_matrix(target, "the argument of roll")
    return np.roll(x, to_int(shift, "roll: shift"), axis=0)


def _triangle(target, lower: bool, diag, values, name: str) -> np.ndarray:
    """The cells below (lower) or above the diagonal, with the diagonal if asked; the cells' values
    or 1s (values=FALSE); zeros elsewhere. Any shape, as in SystemDS."""
    x = require_matrix(target, f"the target of {name}")
    offset = 0 if to_bool(diag, f"{name}: diag") else (-1 if lower else 1)
    rows, cols = np.indices(x.shape)
    keep = cols - rows <= offset if lower else cols - rows >= offset
    cells = x if to_bool(values, f"{name}: values") else np.ones_like(x)
    return np.where(keep, cells, 0).astype(x.dtype, copy=False)


@builtin("lower.tri")
def lower_tri(target, diag=False, values=False):
    return _triangle(target, True, diag, values, "lower.tri")


@builtin("upper.tri")
def upper_tri(target, diag=False, values=False):
    return _triangle(target, False, diag, values, "upper.tri")
