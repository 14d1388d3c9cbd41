"""Conversions between DML's value types, and the dimension queries nrow, ncol, length."""
from __future__ import annotations

import numpy as np

from ..errors import DMLRuntimeError
from ..io.numbers import parse_java_double
from ..lists import DMLList, single_element
from ..operators import java_truncate, long_of_double
from ..values import is_matrix, require_matrix, to_bool, to_double, to_matrix, type_name
from .registry import builtin


def _scalar_of(value, function: str):
    value = single_element(value, function)
    if is_matrix(value):
        if value.shape != (1, 1):
            raise DMLRuntimeError(f"{function} needs a scalar or a 1x1 matrix, got {type_name(value)}")
        return float(value[0, 0])
    if isinstance(value, list):
        raise DMLRuntimeError(f"{function} needs a scalar or a 1x1 matrix, got a list")
    return value


@builtin("as.scalar", "castAsScalar")
def as_scalar(value):
    return _scalar_of(value, "as.scalar")


@builtin("as.matrix", context=True, keeps_inputs=True)
def as_matrix(context, value):
    if isinstance(value, DMLList) and len(value) == 1:
        value = value[0]
    if isinstance(value, list):     # several elements: a column of them, scalars only (SystemDS)
        if any(is_matrix(v) or isinstance(v, list) for v in value):
            raise DMLRuntimeError("as.matrix of a list of several elements takes scalars only")
        cells = [to_double(v, "as.matrix list element") for v in value]
        return np.asarray(cells, dtype=context.dtype).reshape(-1, 1)
    if isinstance(value, str):
        raise DMLRuntimeError("as.matrix needs a number or a matrix, got string")
    return to_matrix(value, context.dtype)


def _parse_number(value: str, function: str) -> float:
    """Strings are read by Java's Double.parseDouble, also for as.integer ("3.5" is 3)."""
    try:
        return parse_java_double(value.strip())
    except ValueError:
        raise DMLRuntimeError(f"{function} cannot convert string {value!r}") from None


@builtin("as.integer")
def as_integer(value):
    value = _scalar_of(value, "as.integer")
    if isinstance(value, str):
        number = _parse_number(value, "as.integer")
    else:
        number = to_double(value, "as.integer argument")
    return long_of_double(java_truncate(number))     # UtilFunctions.toLong


@builtin("as.double")
def as_double(value):
    value = _scalar_of(value, "as.double")
    if isinstance(value, str):
        return _parse_number(value, "as.double")
    return to_double(value, "as.double argument")


# The strings as.logical reads as TRUE; every other string is FALSE (" TRUE", "T", "1" too).
_TRUE_STRINGS = frozenset({"TRUE", "true"})


@builtin("as.logical", "as.boolean")   # SystemDS takes as.boolean as another name
def as_logical(value):
    value = _scalar_of(value, "as.logical")
    if isinstance(value, str):
        return value in _TRUE_STRINGS
    return to_bool(value, "as.logical argument")


@builtin("nrow")
def nrow(matrix):
    return require_matrix(matrix, "the argument of nrow").shape[0]


@builtin("ncol")
def ncol(matrix):
    return require_matrix(matrix, "the argument of ncol").shape[1]


@builtin("length")
def length(value):
    if isinstance(value, list):
        return len(value)
    return int(require_matrix(value, "the argument of length").size)
