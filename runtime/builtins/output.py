"""Builtins that talk to the user: print, toString, stop, assert, time."""
from __future__ import annotations

import re
import time as _time

import numpy as np

from ..errors import DMLRuntimeError, DMLStopError
from ..lists import DMLList, list_to_string
from ..values import format_scalar, is_matrix, to_bool, to_int, to_string, type_name
from .registry import builtin


@builtin("print", context=True)
def print_(context, value, *format_args):
    """print(x) writes x and a newline; print("a=%d b=%s", a, b) formats first."""
    text = format_matrix(value) if is_matrix(value) else to_string(value, "print argument")
    if format_args:
        text = _printf(text, format_args)
    context.out.write(text + "\n")


@builtin("toString")
def to_string_(target, rows=100, cols=100, decimal=3, sparse=False, sep=" ", linesep="\n"):
    if is_matrix(target):
        return format_matrix(target, to_int(rows, "rows"), to_int(cols, "cols"), to_int(decimal, "decimal"),
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
    shown = np.asarray(matrix[:rows, :cols], dtype=np.float64)
    shown = np.where(shown == 0, 0.0, shown)  # -0.0 prints as 0
    cells = np.char.mod(f"%.{decimal}f", shown)
    coarse = np.isfinite(shown) & (np.spacing(np.abs(shown)) * 2 > 10.0 ** -decimal)
    if coarse.any():
        cells = cells.astype(object)
        cells[coarse] = [_java_digits(x, decimal) for x in shown[coarse].tolist()]
    cells = np.where(np.isnan(shown), "NaN", cells)
    cells = np.where(np.isposinf(shown), "Infinity", cells)
    cells = np.where(np.isneginf(shown), "-Infinity", cells)
    return "".join(sep.join(row) + linesep for row in cells.tolist())


def _java_digits(x: float, decimal: int) -> str:
    """A value too large for `decimal` places to be exact, as Java formats it: the shortest digits
    that identify the double, padded with zeros (2014070982048629.75 -> 2014070982048629.800, not
    the binary value's .750)."""
    digits = np.format_float_positional(x, unique=True, trim="-")
    whole, _, fraction = digits.partition(".")
    if len(fraction) > decimal:             # needs rounding: the exact value decides, as before
        return f"%.{decimal}f" % x
    return whole + ("." + fraction.ljust(decimal, "0") if decimal > 0 else "")


_PRINTF_FIELD = re.compile(r"%(-?\d*)(?:\.(\d+))?([sdf%])")


def _printf(template: str, values) -> str:
    """The %s, %d and %f fields of DML's formatted print, filled left to right."""
    remaining = list(values)

    def fill(match: re.Match) -> str:
        kind = match.group(3)
        if kind == "%":
            return "%"
        if not remaining:
            raise DMLRuntimeError(f"print format {template!r} has more fields than values")
        value = remaining.pop(0)
        width = match.group(1) or ""
        if kind == "s":
            return f"{to_string(value):{'<' if width.startswith('-') else '>'}{width.lstrip('-')}}"
        if kind == "d":
            return f"%{width}d" % to_int(value)
        precision = match.group(2)
        return f"%{width}.{precision or 6}f" % float(value)
    text = _PRINTF_FIELD.sub(fill, template)
    if remaining:
        raise DMLRuntimeError(f"print format {template!r} has fewer fields than values ({len(values)})")
    return text


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
