"""DML values in Python: scalars are int, float, bool and str; matrices are 2-D numpy arrays.

A DML matrix is never 1-D. Booleans are checked before ints everywhere, since bool is an int
subclass in Python. Formatting follows SystemDS, which prints doubles the way Java does.
"""
from __future__ import annotations

import math
import sys
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

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


def is_any_matrix(value) -> bool:
    """A matrix, local (numpy) or distributed (a planner's handle)."""
    return isinstance(value, (np.ndarray, MatrixHandle))


def type_name(value) -> str:
    """A value's DML type as users read it in messages: `matrix 3x4`, `int`, `double`, ..."""
    if is_any_matrix(value):
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
    sign, digits, exponent = java_digits(float(x))
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exponent += 1
    mantissa = f"{digits[0]}." + ("".join(map(str, digits[1:])) or "0")
    return f"{'-' if sign else ''}{mantissa}E{exponent + len(digits) - 1}"


# Where Java 17's Double.toString (the JVM SystemDS runs on) prints more digits than the
# shortest representation Python's repr gives, measured against it over 60,000 random doubles
# (all alike), every power of two and thousands of large whole numbers:
# - a whole number from 2^53 to 2^63 is printed from its exact digits, with as many low digits
#   dropped (rounded half up) as its binary exponent makes insignificant: 2^62 is
#   4.6116860184273879E18, not 4.611686018427388E18. Binary exponent -> digits dropped:
_JAVA_INSIGNIFICANT_DIGITS = {53: 0, 54: 0, 55: 0, 56: 0, 57: 0, 58: 1, 59: 1, 60: 1, 61: 2, 62: 2}
# - a power of two gets the shortest digits within half the gap to the next smaller double on
#   both sides (that gap is half the one above, which repr's interval allows for): 2^69 is
#   5.9029581035870565E20, not 5.902958103587057E20.
# Subnormal numbers (below 2^-1022) keep repr's digits: Java differs on some (4.9E-324).


def java_digits(x: float) -> tuple[int, list[int], int]:
    """(sign, digits, exponent) of x as Java prints it: x = digits * 10^exponent."""
    mantissa, exponent = math.frexp(x)
    dropped = _JAVA_INSIGNIFICANT_DIGITS.get(exponent - 1)
    if dropped is not None and x.is_integer():
        whole = abs(int(x))
        if dropped:
            whole = (whole + 5 * 10 ** (dropped - 1)) // 10 ** dropped
        return int(x < 0), [int(d) for d in str(whole)], dropped
    if abs(mantissa) == 0.5 and abs(x) >= sys.float_info.min:
        return _power_of_two_digits(x, exponent - 1)
    sign, digits, exponent = Decimal(repr(x)).as_tuple()
    return sign, list(digits), exponent


def _power_of_two_digits(x: float, exponent_of_two: int) -> tuple[int, list[int], int]:
    with localcontext() as context:
        context.prec = 1100                         # every double's exact digits
        exact = Decimal(x)
        half_gap = Decimal(2) ** (exponent_of_two - 54)
        for count in range(1, 18):
            rounded = exact.quantize(Decimal(1).scaleb(exact.adjusted() - count + 1),
                                     rounding=ROUND_HALF_EVEN)
            if abs(rounded - exact) < half_gap:
                break
    sign, digits, exponent = rounded.as_tuple()
    return sign, list(digits), exponent


def format_scalar(value) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_double(value)
    return str(value)


def is_sparse_matrix(value) -> bool:
    """A scipy.sparse matrix or array (csr, csc, coo, ...), told by its interface: scipy is
    optional and never imported here."""
    return callable(getattr(value, "toarray", None)) and hasattr(value, "tocsr") \
        and hasattr(value, "shape")


def dense(value):
    """A scipy.sparse matrix (sklearn's load_svmlight_file gives one; SystemML took them) as
    the dense numpy array it holds; anything else as it is."""
    return np.asarray(value.toarray()) if is_sparse_matrix(value) else value
