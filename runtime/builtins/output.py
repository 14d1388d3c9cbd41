"""Builtins that talk to the user: print, toString, stop, assert, time."""
from __future__ import annotations

import time as _time
from decimal import Decimal

import numpy as np

from ..errors import DMLRuntimeError, DMLStopError
from ..lists import DMLList, list_to_string
from ..printf import java_format
from ..values import format_scalar, is_matrix, java_digits, to_bool, to_int, to_string, type_name
from .registry import builtin


@builtin("print", context=True)
def print_(context, value, *format_args):
    """print(x) writes x and a newline; print("a=%d b=%s", a, b) formats first."""
    if is_matrix(value):
        text = format_matrix(value)
    elif isinstance(value, DMLList):
        text = list_to_string(value, format_matrix, format_scalar)
    else:
        text = to_string(value, "print argument")
    if format_args:
        text = java_format(text, format_args)
    context.out.write(text + "\n")


@builtin("toString")
def to_string_(target, rows=100, cols=100, decimal=3, sparse=False, sep=" ", linesep="\n"):
    if is_matrix(target):
        layout = format_sparse if to_bool(sparse, "sparse") else format_matrix
        return layout(target, to_int(rows, "rows"), to_int(cols, "cols"), to_int(decimal, "decimal"),
                      to_string(sep, "sep"), to_string(linesep, "linesep"))
    if isinstance(target, DMLList):
        return list_to_string(target, format_matrix, format_scalar)
    if isinstance(target, list):
        return "\n".join(to_string_(item) for item in target)
    return format_scalar(target)


def format_matrix(matrix: np.ndarray, rows: int = 100, cols: int = 100, decimal: int = 3,
                  sep: str = " ", linesep: str = "\n") -> str:
    """SystemDS's toString: fixed decimals, `sep` between cells, `linesep` after every row.

    Like SystemDS, only the first `rows` x `cols` cells are shown, so printing a large matrix
    by accident stays cheap."""
    cells = _format_cells(np.asarray(matrix[:rows, :cols], dtype=np.float64), decimal)
    return "".join(sep.join(row) + linesep for row in cells.tolist())


def format_sparse(matrix: np.ndarray, rows: int = 100, cols: int = 100, decimal: int = 3,
                  sep: str = " ", linesep: str = "\n") -> str:
    """toString(M, sparse=TRUE): a `row sep column sep value` line (1-based) per non-zero cell of
    the shown window, row by row; an all-zero matrix gives the empty string."""
    shown = np.asarray(matrix[:rows, :cols], dtype=np.float64)
    row_index, col_index = np.nonzero(shown)
    cells = _format_cells(shown[row_index, col_index], decimal).tolist()
    return "".join(f"{i + 1}{sep}{j + 1}{sep}{cell}{linesep}"
                   for i, j, cell in zip(row_index.tolist(), col_index.tolist(), cells))


def _format_cells(shown: np.ndarray, decimal: int) -> np.ndarray:
    """Each double as toString shows it: `decimal` places, NaN, Infinity, -0.0 as 0."""
    shown = np.where(shown == 0, 0.0, shown)  # -0.0 prints as 0
    cells = np.char.mod(f"%.{decimal}f", shown)
    if decimal >= 3:
        zero = f"%.{decimal}f" % 0.0
        signed_zeros = np.where(np.signbit(shown), "-" + zero, zero)
        cells = np.where(np.abs(shown) == _underflow_tie(decimal), signed_zeros, cells)
    coarse = np.isfinite(shown) & (np.spacing(np.abs(shown)) * 2 > 10.0 ** -decimal)
    if coarse.any():
        cells = cells.astype(object)
        cells[coarse] = [_java_digits(x, decimal) for x in shown[coarse].tolist()]
    cells = np.where(np.isnan(shown), "NaN", cells)
    cells = np.where(np.isposinf(shown), "Infinity", cells)
    return np.where(np.isneginf(shown), "-Infinity", cells)


def _underflow_tie(decimal: int) -> float:
    """The double 5e-(decimal+1): Java's DecimalFormat rounds it (its shortest digits, a lone 5
    just past the last place, below 1e-3) toward zero although its binary value lies above the
    tie: toString(0.0005) is 0.000 and -0.0005 is -0.000, while 0.005 (decimal=2) is 0.01."""
    return float(f"5e-{decimal + 1}")


def _java_digits(x: float, decimal: int) -> str:
    """A value too large for `decimal` places to be exact, as Java formats it: the shortest digits
    that identify the double, padded with zeros (2014070982048629.75 -> 2014070982048629.800, not
    the binary value's .750; 2^62 -> 4611686018427387900, Java's digits)."""
    sign, digits, exponent = java_digits(x)
    digits = f"{Decimal((sign, tuple(digits), exponent)):f}"
    whole, _, fraction = digits.partition(".")
    if len(fraction) > decimal:             # needs rounding: the exact value decides, as before
        return f"%.{decimal}f" % x
    return whole + ("." + fraction.ljust(decimal, "0") if decimal > 0 else "")


@builtin("stop")
def stop(message=""):
    raise DMLStopError(to_string(message, "stop message") if not is_matrix(message) else format_matrix(message))


@builtin("assert")
def assert_(condition):
    if is_matrix(condition):
        raise DMLRuntimeError(f"assert needs a boolean, got {type_name(condition)}")
    if not to_bool(condition, "assert condition"):
        raise DMLRuntimeError("assertion failed")


@builtin("time")
def time():
    """Nanoseconds from a monotonic clock, as an int (differences measure durations)."""
    return _time.perf_counter_ns()
