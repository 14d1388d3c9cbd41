"""DML's operators on scalars and matrices, one table entry per operator.

Each binary operator has a scalar rule (Python numbers, with DML's int/double typing) and an
elementwise matrix rule (a numpy ufunc). The rules follow SystemDS 3.x:
- ints are 64-bit, computed through doubles as SystemDS does: a result above 2^63 is an error,
  below -2^63 it wraps around, beyond 2^53 it keeps a double's precision; `/` and `^` always
  give doubles;
- `%/%` truncates toward zero and `%%` takes the sign of the dividend (Java's remainder);
- booleans take part in comparisons and logic, never in arithmetic (as.integer converts them);
- matrices combine elementwise when their shapes are equal, or when the right operand is a row
  vector (1 x ncol) or column vector (nrow x 1) of the left one; a scalar combines with anything.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .errors import DMLRuntimeError
from .local.elementwise import binary as parallel_binary
from .local.matmul import matmul as local_matmul
from .local.small_matmul import SMALL_CELLS, blocked_product, small_product
from .values import format_scalar, is_matrix, to_bool, type_name

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


# ---- scalar rules ---------------------------------------------------------------------------

def _wrap(result: int) -> int:
    """64-bit two's-complement wrap-around, as Java's long addition."""
    if INT64_MIN <= result <= INT64_MAX:
        return result
    return (result - INT64_MIN) % 2**64 + INT64_MIN


# SystemDS computes an int op on two ints as a double (BinaryScalarScalarCPInstruction): a
# result above 2^63 is an overflow error, any other is cast back to a long, so results beyond
# 2^53 keep only a double's precision (9007199254740993 * 1 is 9007199254740992).
_TWO_63 = 2.0 ** 63
_EXACT = 2 ** 53
_TO_LONG_EPS = 2.0 ** -53   # what UtilFunctions.toLong adds to a magnitude before truncating


def long_of_double(d: float) -> int:
    """Java's (long) cast of a double: NaN is 0, out-of-range values saturate."""
    if d != d:
        return 0
    if d >= _TWO_63:
        return INT64_MAX
    if d <= -_TWO_63:
        return INT64_MIN
    return int(d)


def long_through_double(exact: int) -> int:
    """A long result that SystemDS computes as a double: exact up to 2^53, beyond that with a
    double's precision, cast back to a long."""
    return exact if -_EXACT <= exact <= _EXACT else long_of_double(float(exact))


def java_truncate(values):
    """UtilFunctions.toLong's and toInt's rounding of doubles (a scalar or an array): toward zero
    after adding 2^-53 to the magnitude, so 0.9999999999999999 is 1; NaN and infinities stay.
    A scalar takes math's functions: numpy's cost a microsecond per scalar `%/%` or `%%`."""
    if isinstance(values, np.ndarray):
        return np.copysign(np.floor(np.abs(values) + _TO_LONG_EPS), values)
    if not math.isfinite(values):           # math.floor refuses them
        return values
    return math.copysign(math.floor(abs(values) + _TO_LONG_EPS), values)


def _int_result(d: float, expression: str) -> int:
    if d > _TWO_63:
        raise DMLRuntimeError(f"integer overflow: {expression} is {d!r}, which does not fit in 64 bits "
                              "(use doubles, e.g. 1.0 * x)")
    return long_of_double(d)


def _long_arithmetic(exact: int, estimate: float, expression: str) -> int:
    """Plus, Minus and Multiply on longs: the double result when it passes 2^63 (an error),
    else the wrapped long result, through a double."""
    if -_EXACT <= exact <= _EXACT:
        return exact
    return _int_result(estimate if estimate > _TWO_63 else float(_wrap(exact)), expression)


def _add(a, b):
    result = a + b
    if type(result) is int:
        return _long_arithmetic(result, float(a) + float(b), f"{a} + {b}")
    return result


def _subtract(a, b):
    result = a - b
    if type(result) is int:
        return _long_arithmetic(result, float(a) - float(b), f"{a} - {b}")
    return result


def _multiply(a, b):
    result = a * b
    if type(result) is int:
        return _long_arithmetic(result, float(a) * float(b), f"{a} * {b}")
    return result


def _divide(a, b):
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _power(a, b):
    try:
        return math.pow(a, b)
    except ValueError:  # 0 to a negative power (Java: Infinity), or a negative base with a fraction
        if a == 0:
            odd = float(b).is_integer() and b % 2 == 1
            return math.copysign(math.inf, a) if odd else math.inf
        return math.nan
    except OverflowError:
        return math.inf if a > 0 or float(b).is_integer() and b % 2 == 0 else -math.inf


def _java_int_divide(a: float, b: float) -> float:
    """IntegerDivide on doubles: UtilFunctions.toLong's truncation of the quotient."""
    return java_truncate(_divide(a, b))


def long_quotient(quotient):
    """IntegerDivide's quotient on doubles (a scalar or an array): UtilFunctions.toLong's cast to
    a long and back, so it saturates at the long range and -0.0 becomes 0.0; NaN and infinities
    stay (IntegerDivide returns them uncast)."""
    if isinstance(quotient, np.ndarray):
        cast = np.clip(java_truncate(quotient), -_TWO_63, _TWO_63) + 0.0
        return np.where(np.isfinite(quotient), cast, quotient)
    if not math.isfinite(quotient):
        return quotient
    return min(max(java_truncate(quotient), -_TWO_63), _TWO_63) + 0.0


def _modulus(a, b):
    if type(a) is int and type(b) is int:
        if b == 0:
            return 0
        # Modulus on longs: a - (a %/% b) * b, all in doubles (as SystemDS, also for big ints)
        return _int_result(float(a) - _java_int_divide(float(a), float(b)) * float(b), f"{a} %% {b}")
    if b == 0:
        return math.nan
    # Modulus on doubles is a - (a %/% b) * b, not the exact remainder: 3 %% 0.6 is 0
    return a - long_quotient(a / b) * b


def _int_divide(a, b):
    if type(a) is int and type(b) is int:
        if b == 0 and a > 0:
            raise DMLRuntimeError(f"integer division by zero: {a} %/% 0 (use a double divisor for "
                                  "Infinity)")
        return _int_result(_java_int_divide(float(a), float(b)), f"{a} %/% {b}")
    if b == 0:
        return _divide(float(a), 0.0)
    return long_quotient(a / b)


SCALAR_RULES: dict[str, Callable] = {
    "+": _add,
    "-": _subtract,
    "*": _multiply,
    "/": _divide,
    "^": _power,
    "%%": _modulus,
    "%/%": _int_divide,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
LOGICAL_OPS = {"&": lambda a, b: a and b, "&&": lambda a, b: a and b,
               "|": lambda a, b: a or b, "||": lambda a, b: a or b}
COMPARISONS = {"==", "!=", "<", "<=", ">", ">="}
ARITHMETIC = {"+", "-", "*", "/", "^", "%%", "%/%"}


# ---- matrix rules ---------------------------------------------------------------------------

def _logical(fn):
    return lambda a, b: fn(a != 0, b != 0)


def matrix_int_divide(a, b):
    with np.errstate(all="ignore"):
        return long_quotient(np.true_divide(a, b))


def matrix_modulus(a, b):
    """a - (a %/% b) * b cell by cell, as SystemDS computes `%%` (a zero divisor gives NaN)."""
    with np.errstate(all="ignore"):
        return a - long_quotient(np.true_divide(a, b)) * b


MATRIX_RULES: dict[str, Callable] = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide, "^": np.power,
    "%%": matrix_modulus, "%/%": matrix_int_divide,
    "==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal,
    ">": np.greater, ">=": np.greater_equal,
    "&": _logical(np.logical_and), "&&": _logical(np.logical_and),
    "|": _logical(np.logical_or), "||": _logical(np.logical_or),
}


def _matrix_operand(value, op):
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, bool):
        if op in ARITHMETIC:
            raise _boolean_arithmetic(op)
        return float(value)
    if isinstance(value, (int, float)):
        return value
    raise DMLRuntimeError(f"`{op}` between a matrix and a {type_name(value)} is not defined")


def unchanged_operand(op: str, left, right):
    """The matrix operand that `left op right` gives back cell for cell (X * 1, 1 * X, X / 1:
    the same bits, -0 and NaN included, in the matrix's own precision), or None. A gradient
    divided by its count of batches is one such, once per update."""
    if op == "*" and type(left) in (int, float) and left == 1 and _float_array(right):
        return right
    if op in ("*", "/") and type(right) in (int, float) and right == 1 and _float_array(left):
        return left
    return None


def _float_array(value) -> bool:
    return type(value) is np.ndarray and value.ndim == 2 and value.dtype.kind == "f"


def _elementwise(op: str, a, b):
    left, right = _matrix_operand(a, op), _matrix_operand(b, op)
    unchanged = unchanged_operand(op, left, right)
    if unchanged is not None:
        return unchanged
    if is_matrix(left) and is_matrix(right) and not broadcastable(left.shape, right.shape):
        raise DMLRuntimeError(f"`{op}` of {type_name(a)} and {type_name(b)}: dimensions do not match "
                              "(elementwise operations need equal shapes, or a row or column vector or "
                              "a 1x1 matrix as the RIGHT operand)")
    if op == "^" and _cellwise_power_applies(left, right):
        return _cellwise_power(left, right)
    return parallel_binary(MATRIX_RULES[op], left, right, dtype=_result_dtype(left, right))


_CELLWISE_POWER_CELLS = 1024


def _cellwise_power_applies(left, right) -> bool:
    """numpy's power may differ from Java's Math.pow in the last bit; small double matrices are
    raised cell by cell through the C library (math.pow), as scalars are."""
    matrices = [x for x in (left, right) if is_matrix(x)]
    return all(x.dtype == np.float64 for x in matrices) \
        and max(x.size for x in matrices) <= _CELLWISE_POWER_CELLS


def _cellwise_power(left, right) -> np.ndarray:
    bases, exponents = np.broadcast_arrays(np.asarray(left, dtype=np.float64),
                                           np.asarray(right, dtype=np.float64))
    cells = [float(_power(x, y)) for x, y in zip(bases.ravel().tolist(), exponents.ravel().tolist())]
    return np.array(cells, dtype=np.float64).reshape(bases.shape)


def _result_dtype(left, right):
    """A matrix result keeps its matrices' precision (the wider one when they differ)."""
    dtypes = [x.dtype for x in (left, right) if is_matrix(x)]
    return np.result_type(*dtypes)


def broadcastable(left: tuple, right: tuple) -> bool:
    """SystemDS's elementwise shape rule: equal shapes, or on the right a vector of the left
    matrix or a 1x1 matrix (taken as a scalar; a 1x1 matrix on the left is refused)."""
    rows, cols = left
    return right == left or right == (1, cols) or right == (rows, 1) or right == (1, 1)


def matmul(a, b):
    if not (is_matrix(a) and is_matrix(b)):
        raise DMLRuntimeError(f"`%*%` needs two matrices, got {type_name(a)} and {type_name(b)}")
    if a.shape[1] != b.shape[0]:
        raise DMLRuntimeError(f"`%*%` of {type_name(a)} and {type_name(b)}: inner dimensions "
                              f"{a.shape[1]} and {b.shape[0]} differ")
    small = small_product(a, b)
    return small if small is not None else local_matmul(a, b)


def transposed_matmul(a, b):
    """t(a) %*% b. SystemDS computes it as t(t(b) %*% a) when b is a column vector, so the sums
    run in its vector-matrix order (local/small_matmul.py); t(u) %*% v of two column vectors is
    its dot product (blocks of 8) instead. t(X) %*% X (SystemDS' tsmm) sums each cell as its
    general kernel does: the rows in blocks of 24, nonzero products grouped by 4 (probed up to
    50 rows). t(X) %*% Y of other shapes is not pinned down: SystemDS' order depends on
    whether it knows the dimensions when it compiles (inside a function it often does not).
    SystemDS' tsmm computes only the upper triangle (each cell (i, j), i <= j, grouped by the
    nonzeros of column i) and copies it to the lower one, so t(X) %*% X is exactly symmetric."""
    if a is b and is_matrix(a) and a.shape[1] > 1:
        return _mirror_upper(_transposed_self_product(a))
    if not (is_matrix(a) and is_matrix(b) and a.shape[0] == b.shape[0]
            and a.dtype == b.dtype == np.float64 and a.size + b.size <= SMALL_CELLS):
        return matmul(a.T if is_matrix(a) else a, b)
    if b.shape[1] == 1 and a.shape[1] > 1 and a.shape[0] > 1:
        row = small_product(np.ascontiguousarray(b.T), a)     # t(t(b) %*% a)
        if row is not None:
            return row.reshape(-1, 1)
    return matmul(a.T, b)


def _transposed_self_product(a: np.ndarray) -> np.ndarray:
    """t(a) %*% a, its upper triangle summed in SystemDS' tsmm order for small float64 a."""
    if a.dtype == np.float64 and a.shape[0] > 1 and a.size <= _TRANSPOSED_BLOCKED_CELLS:
        return blocked_product(np.ascontiguousarray(a.T), a)
    return matmul(a.T, a)


def _mirror_upper(product: np.ndarray) -> np.ndarray:
    """The symmetric matrix whose upper triangle (diagonal included) is product's."""
    lower = np.tril_indices(product.shape[0], -1)
    product[lower] = product.T[lower]
    return product


_TRANSPOSED_BLOCKED_CELLS = 4096   # blocked_product loops in Python over a's columns


# ---- dispatch -------------------------------------------------------------------------------

def _boolean_arithmetic(op: str) -> DMLRuntimeError:
    return DMLRuntimeError(f"`{op}` is not defined for booleans (DML has no boolean arithmetic; "
                           "convert with as.integer() or as.double())")


def _general(op: str, a, b):
    """Everything but the number-number fast path: matrices, booleans, strings."""
    if is_matrix(a) or is_matrix(b):
        return _elementwise(op, a, b)
    if op in LOGICAL_OPS:
        return LOGICAL_OPS[op](to_bool(a, f"left operand of `{op}`"), to_bool(b, f"right operand of `{op}`"))
    if isinstance(a, str) or isinstance(b, str):
        return _string_op(op, a, b)
    if isinstance(a, (bool, int, float)) and isinstance(b, (bool, int, float)):
        if op in ARITHMETIC:
            raise _boolean_arithmetic(op)
        return SCALAR_RULES[op](a, b)
    raise DMLRuntimeError(f"`{op}` is not defined for {type_name(a)} and {type_name(b)}")


def _string_op(op: str, a, b):
    if op == "+" and not isinstance(a, list) and not isinstance(b, list):
        return format_scalar(a) + format_scalar(b)
    if op in COMPARISONS and not isinstance(a, list) and not isinstance(b, list):
        # SystemDS compares a string with a number or boolean as strings, the other operand
        # written as print shows it: "1" == 1 and "TRUE" == TRUE hold, "3" < 10 does not
        return SCALAR_RULES[op](format_scalar(a), format_scalar(b))
    raise DMLRuntimeError(f"`{op}` is not defined for {type_name(a)} and {type_name(b)}")


def binary_operator(op: str) -> Callable:
    """The function computing `a op b`; numbers take a fast path that skips all checks."""
    if op == "%*%":
        return matmul
    scalar_rule = SCALAR_RULES.get(op)
    if scalar_rule is None:
        return lambda a, b: _general(op, a, b)

    def apply(a, b):
        ta, tb = type(a), type(b)
        if (ta is int or ta is float) and (tb is int or tb is float):
            return scalar_rule(a, b)
        return _general(op, a, b)
    return apply


def _negate(a):
    if is_matrix(a):
        return np.negative(a)
    if isinstance(a, bool):
        raise _boolean_arithmetic("-")
    if isinstance(a, int):
        return _long_arithmetic(-a, -float(a), f"-{a}")     # 0 - a, as SystemDS
    if isinstance(a, float):
        return -a
    raise DMLRuntimeError(f"unary `-` is not defined for {type_name(a)}")


def _not(a):
    if is_matrix(a):
        return (a == 0).astype(a.dtype)
    return not to_bool(a, "operand of `!`")


def _plus(a):
    if is_matrix(a) or isinstance(a, (int, float)) and not isinstance(a, bool):
        return a
    raise DMLRuntimeError(f"unary `+` is not defined for {type_name(a)}")


UNARY_RULES: dict[str, Callable] = {"-": _negate, "!": _not, "+": _plus}
