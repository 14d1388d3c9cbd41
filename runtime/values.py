"""DML values in Python: scalars are int, float, bool and str; matrices are 2-D numpy arrays.

A DML matrix is never 1-D. Booleans are checked before ints everywhere, since bool is an int
subclass in Python. Formatting follows SystemDS, which prints doubles the way Java does.
"""
from __future__ import annotations

from decimal import Decimal

import numpy as np

from .errors import DMLRuntimeError

Scalar = int | float | bool | str


class MatrixHandle:
    """Base of matrix values that are not numpy arrays (a Spark block matrix). They exist only
    when a planner runs the program, and the planner collects them to numpy before any local
    operation sees them; `shape` is (rows, cols)."""
    shape: tuple[int, int]


def is_matrix(value) -> bool:
    return isinstance(value, np.ndarray)


def type_name(value) -> str:
    """A value's DML type as users read it in messages: `matrix 3x4`, `int`, `double`, ..."""
    if isinstance(value, (np.ndarray, MatrixHandle)):
        return f"matrix {value.shape[0]}x{value.shape[1]}"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def dims(value) -> str:
    return f"{value.shape[0]}x{value.shape[1]}"


# ---- conversions --------------------------------------------------------------------------

def to_double(value, what: str = "value") -> float:
    if isinstance(value, (bool, int, float)):
        return float(value)
    if isinstance(value, np.ndarray) and value.size == 1:
        return float(value.flat[0])
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise DMLRuntimeError(f"{what} must be a number, got {type_name(value)}")


def to_int(value, what: str = "value") -> int:
    """DML casts doubles to ints by truncation toward zero (as Java's (long) cast)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    number = to_double(value, what)
    if np.isnan(number) or np.isinf(number):
        raise DMLRuntimeError(f"{what} must be a finite number, got {format_scalar(number)}")
    return int(number)


def to_bool(value, what: str = "value") -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, np.ndarray) and value.size == 1:
        return bool(value.flat[0] != 0)
    if isinstance(value, str) and value.upper() in ("TRUE", "FALSE"):
        return value.upper() == "TRUE"
    raise DMLRuntimeError(f"{what} must be a boolean, got {type_name(value)}")


def to_string(value, what: str = "value") -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return format_scalar(value)
    raise DMLRuntimeError(f"{what} must be a scalar, got {type_name(value)}")


def to_matrix(value, dtype=np.float64) -> np.ndarray:
    """Scalars become 1x1 matrices; matrices pass through."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (bool, int, float)):
        return np.full((1, 1), float(value), dtype=dtype)
    raise DMLRuntimeError(f"expected a matrix or a number, got {type_name(value)}")


def require_matrix(value, what: str) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise DMLRuntimeError(f"{what} must be a matrix, got {type_name(value)}")
    return value


def require_scalar(value, what: str):
    if isinstance(value, np.ndarray):
        raise DMLRuntimeError(f"{what} must be a scalar, got {type_name(value)}")
    return value


# ---- formatting -----------------------------------------------------------------------------

def format_double(x: float) -> str:
    """Java's Double.toString: plain notation for 1e-3 <= |x| < 1e7, else d.dddE[-]n."""
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if np.signbit(x) else "0.0"
    magnitude = abs(x)
    if 1e-3 <= magnitude < 1e7:
        text = repr(float(x))
        return text if "." in text or "e" in text else text + ".0"
    sign, digits, exponent = Decimal(repr(float(x))).as_tuple()
    digits = list(digits)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exponent += 1
    mantissa = f"{digits[0]}." + ("".join(map(str, digits[1:])) or "0")
    return f"{'-' if sign else ''}{mantissa}E{exponent + len(digits) - 1}"


def format_scalar(value) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_double(value)
    return str(value)
