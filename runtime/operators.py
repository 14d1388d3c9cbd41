"""DML's operators on scalars and matrices, one table entry per operator.

Each binary operator has a scalar rule (Python numbers, with DML's int/double typing) and an
elementwise matrix rule (a numpy ufunc). Matrix operands broadcast the way SystemDS allows:
equal shapes, a row or column vector against a matrix, a scalar against anything.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .errors import DMLRuntimeError
from .values import format_scalar, is_matrix, to_bool, type_name


# ---- scalar rules ---------------------------------------------------------------------------

def _divide(a, b):
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _power(a, b):
    try:
        result = math.pow(a, b)
    except ValueError:  # negative base with a fractional exponent
        return math.nan
    except OverflowError:
        return math.inf
    return result


def _modulus(a, b):
    if b == 0:
        return math.nan
    if type(a) is int and type(b) is int:
        return a % b
    return a - math.floor(a / b) * b


def _int_divide(a, b):
    if b == 0:
        return _divide(float(a), 0.0)
    if type(a) is int and type(b) is int:
        return a // b
    return float(math.floor(a / b))


SCALAR_RULES: dict[str, Callable] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
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


# ---- matrix rules ---------------------------------------------------------------------------

def _logical(fn):
    return lambda a, b: fn(a != 0, b != 0)


MATRIX_RULES: dict[str, Callable] = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide, "^": np.power,
    "%%": np.mod, "%/%": np.floor_divide,
    "==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal,
    ">": np.greater, ">=": np.greater_equal,
    "&": _logical(np.logical_and), "&&": _logical(np.logical_and),
    "|": _logical(np.logical_or), "||": _logical(np.logical_or),
}


def _matrix_operand(value, op):
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return value
    raise DMLRuntimeError(f"`{op}` between a matrix and a {type_name(value)} is not defined")


def _elementwise(op: str, a, b):
    left, right = _matrix_operand(a, op), _matrix_operand(b, op)
    if is_matrix(left) and is_matrix(right) and not _broadcastable(left.shape, right.shape):
        raise DMLRuntimeError(f"`{op}` of {type_name(a)} and {type_name(b)}: dimensions do not match "
                              "(elementwise operations need equal shapes or a row/column vector)")
    result = MATRIX_RULES[op](left, right)
    if result.dtype == np.bool_:
        dtype = next(x.dtype for x in (left, right) if is_matrix(x))
        result = result.astype(dtype)
    return result


def _broadcastable(s1, s2) -> bool:
    return all(x == y or x == 1 or y == 1 for x, y in zip(s1, s2))


def matmul(a, b):
    if not (is_matrix(a) and is_matrix(b)):
        raise DMLRuntimeError(f"`%*%` needs two matrices, got {type_name(a)} and {type_name(b)}")
    if a.shape[1] != b.shape[0]:
        raise DMLRuntimeError(f"`%*%` of {type_name(a)} and {type_name(b)}: inner dimensions "
                              f"{a.shape[1]} and {b.shape[0]} differ")
    return a @ b


# ---- dispatch -------------------------------------------------------------------------------

def _general(op: str, a, b):
    """Everything but the number-number fast path: matrices, booleans, strings."""
    if is_matrix(a) or is_matrix(b):
        return _elementwise(op, a, b)
    if op in LOGICAL_OPS:
        return LOGICAL_OPS[op](to_bool(a, f"left operand of `{op}`"), to_bool(b, f"right operand of `{op}`"))
    if isinstance(a, str) or isinstance(b, str):
        return _string_op(op, a, b)
    if isinstance(a, (bool, int, float)) and isinstance(b, (bool, int, float)):
        return SCALAR_RULES[op](int(a) if isinstance(a, bool) else a, int(b) if isinstance(b, bool) else b)
    raise DMLRuntimeError(f"`{op}` is not defined for {type_name(a)} and {type_name(b)}")


def _string_op(op: str, a, b):
    if op == "+":
        return format_scalar(a) + format_scalar(b)
    if op in COMPARISONS and isinstance(a, str) and isinstance(b, str):
        return SCALAR_RULES[op](a, b)
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
        return -int(a)
    if isinstance(a, (int, float)):
        return -a
    raise DMLRuntimeError(f"unary `-` is not defined for {type_name(a)}")


def _not(a):
    if is_matrix(a):
        return (a == 0).astype(a.dtype)
    return not to_bool(a, "operand of `!`")


def _plus(a):
    if is_matrix(a) or isinstance(a, (bool, int, float)):
        return a
    raise DMLRuntimeError(f"unary `+` is not defined for {type_name(a)}")


UNARY_RULES: dict[str, Callable] = {"-": _negate, "!": _not, "+": _plus}
