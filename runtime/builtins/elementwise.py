"""Elementwise builtins: unary math (exp, log, sqrt, abs, round, trig, sigmoid, ...), log with a
base, ifelse, is.na / is.nan / is.infinite (also named isNA, isNaN, isInf), replace and the
bitwise bitwAnd, bitwOr, bitwXor, bitwShiftL, bitwShiftR (on 32-bit Java ints, as SystemDS; an
int for two int scalars, a double otherwise).

On a scalar the unary math builtins return a double (abs(-3) is 3.0); on a matrix they return a
matrix of the same dtype. Out-of-domain arguments give NaN or Infinity, as in Java, not errors.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import DMLRuntimeError
from ..operators import COMPARISONS, binary_operator, broadcastable, java_truncate
from ..values import is_matrix, to_bool, to_double, to_string, type_name
from .registry import builtin

_LONG_MAX, _LONG_MIN = 2**63 - 1, -(2**63)


def _scalar_number(value, name: str) -> float:
    if isinstance(value, (str, list)):
        raise DMLRuntimeError(f"{name} needs a number or a matrix, got {type_name(value)}")
    return to_double(value, f"the argument of {name}")


def _java_round(x):
    """Java's Math.round, elementwise: half rounds toward +infinity (x - floor(x) is exact) and
    the result is a long, so NaN gives 0 and huge values stop at Long.MIN/MAX_VALUE."""
    down = np.floor(x)
    with np.errstate(invalid="ignore"):
        rounded = np.clip(down + (x - down >= 0.5), _LONG_MIN, _LONG_MAX)
    return np.where(np.isnan(rounded), 0.0, rounded + 0.0)


def _scalar_round(x: float) -> float:
    """Math.round of a finite double (non-finite ones take the matrix path)."""
    down = math.floor(x)
    return float(min(max(down + 1 if x - down >= 0.5 else down, _LONG_MIN), _LONG_MAX))


def _signed_floor(x: float) -> float:
    """math.floor returns an int; Java's keeps the sign of zero (floor(-0.0) is -0.0)."""
    return math.copysign(math.floor(x), x)


def _signed_ceil(x: float) -> float:
    return math.copysign(math.ceil(x), x)        # ceil(-0.5) is -0.0


def _java_signum(x):
    """Java's Math.signum keeps a zero's sign (signum(-0.0) is -0.0); np.sign drops it."""
    return np.copysign(np.sign(x), x)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _scalar_sigmoid(x: float) -> float:
    try:
        return 1.0 / (1.0 + math.exp(-x))
    except OverflowError:
        return 0.0


# name -> (matrix function, fast scalar function or None); a scalar function may raise
# ValueError/OverflowError for arguments outside its domain, then numpy gives NaN or Infinity.
_UNARY = {
    "exp": (np.exp, math.exp),
    "log": (np.log, math.log),
    "sqrt": (np.sqrt, math.sqrt),
    "abs": (np.abs, abs),
    "round": (_java_round, _scalar_round),
    "floor": (np.floor, _signed_floor),
    "ceil": (np.ceil, _signed_ceil),
    "ceiling": (np.ceil, _signed_ceil),
    "sign": (_java_signum, None),
    "sin": (np.sin, math.sin),
    "cos": (np.cos, math.cos),
    "tan": (np.tan, math.tan),
    "asin": (np.arcsin, math.asin),
    "acos": (np.arccos, math.acos),
    "atan": (np.arctan, math.atan),
    "sinh": (np.sinh, math.sinh),
    "cosh": (np.cosh, math.cosh),
    "tanh": (np.tanh, math.tanh),
    "sigmoid": (_sigmoid, _scalar_sigmoid),
}


def matrix_ufunc(name: str):
    """The numpy ufunc a unary builtin applies to a matrix, or None (not unary, or not a ufunc)."""
    entry = _UNARY.get(name)
    return entry[0] if entry is not None and isinstance(entry[0], np.ufunc) else None


# Transcendental functions whose numpy (SIMD) versions may differ from Java's Math in the last
# bit; on small double matrices they run cell by cell through Python's math (the C library), as
# for scalars, so that small programs print SystemDS' digits.
_CELLWISE = frozenset({"exp", "log", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh",
                       "tanh", "sigmoid"})
_CELLWISE_MAX_CELLS = 1024


def runs_cellwise(name: str, matrix: np.ndarray) -> bool:
    """Whether the unary builtin `name` computes this matrix cell by cell (see _CELLWISE)."""
    return name in _CELLWISE and matrix.dtype == np.float64 and matrix.size <= _CELLWISE_MAX_CELLS


def _scalar_result(matrix_function, scalar_function, x: float) -> float:
    if scalar_function is not None and math.isfinite(x):
        try:
            return float(scalar_function(x))
        except (ValueError, OverflowError):
            pass
    with np.errstate(all="ignore"):
        return float(matrix_function(np.float64(x)))


def apply_unary(name: str, value):
    matrix_function, scalar_function = _UNARY[name]
    if is_matrix(value):
        if runs_cellwise(name, value):
            cells = [_scalar_result(matrix_function, scalar_function, x) for x in value.ravel().tolist()]
            return np.array(cells, dtype=np.float64).reshape(value.shape)
        with np.errstate(all="ignore"):
            return matrix_function(value)
    return _scalar_result(matrix_function, scalar_function, _scalar_number(value, name))


def _register_unary(name: str):
    def function(target):
        return apply_unary(name, target)
    function.__name__ = name
    function.__doc__ = f"{name}, elementwise on a matrix; a double for a scalar."
    builtin(name)(function)


for _name in _UNARY:
    if _name != "log":
        _register_unary(_name)


def _java_long(x: float) -> int:
    """Java's (long) cast: truncation, NaN -> 0, saturation at the 64-bit limits."""
    if x != x:
        return 0
    if x >= _LONG_MAX:
        return _LONG_MAX
    if x <= _LONG_MIN:
        return _LONG_MIN
    return int(x)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@builtin("log")
def log(target, base=None):
    """log(x): natural logarithm; log(x, base). Like SystemDS, two int arguments give an int,
    truncated (log(10, 2) is 3)."""
    if base is None:
        return apply_unary("log", target)
    if is_matrix(base):
        if not is_matrix(target):
            raise DMLRuntimeError(f"log of {type_name(target)} in a matrix base is not supported; "
                                  "the base may be a matrix when the first argument is one")
        if not broadcastable(target.shape, base.shape):
            raise DMLRuntimeError(f"log of {type_name(target)} in base {type_name(base)}: dimensions "
                                  "do not match")
        with np.errstate(all="ignore"):   # cell by cell, as log(x, b) of numbers
            return np.log(target) / np.log(base).astype(target.dtype, copy=False)
    b = _scalar_number(base, "log")
    with np.errstate(all="ignore"):
        log_base = float(np.log(np.float64(b)))
        if is_matrix(target):
            return np.log(target) / target.dtype.type(log_base)
        x = _scalar_number(target, "log")
        result = float(np.log(np.float64(x)) / np.float64(log_base))
    if _is_int(target) and _is_int(base):
        return _java_long(result)
    return result


# ---- ifelse -----------------------------------------------------------------------------------

def _branch(value, cond: np.ndarray, which: str):
    if isinstance(value, (str, list)):
        raise DMLRuntimeError(f"ifelse with a matrix condition needs numbers or matrices as branches; "
                              f"the {which} branch is {type_name(value)}")
    if is_matrix(value):
        if value.shape != cond.shape:
            raise DMLRuntimeError(f"ifelse: the {which} branch ({type_name(value)}) must have the "
                                  f"condition's dimensions ({type_name(cond)})")
        return value
    return float(value)


def _branch_kinds(yes, no) -> set:
    """The Python types of two scalar branches; a boolean beside a number is refused."""
    kinds = {bool if isinstance(v, bool) else type(v) for v in (yes, no)}
    if bool in kinds and kinds & {int, float}:
        raise DMLRuntimeError(f"ifelse: a boolean and a number branch ({type_name(yes)} and "
                              f"{type_name(no)}) have no common type")
    return kinds


@builtin("ifelse", context=True, keeps_inputs=True)
def ifelse(context, test, yes, no):
    """ifelse(cond, a, b): with a scalar condition, a or b itself; with a matrix condition, the
    cells of a where the condition is nonzero and of b elsewhere."""
    if not is_matrix(test):
        _branch_kinds(yes, no)
        return yes if to_bool(test, "ifelse's condition") else no
    a, b = _branch(yes, test, "first"), _branch(no, test, "second")
    branches = [m.dtype for m in (a, b) if is_matrix(m)]
    dtype = np.result_type(*branches) if branches else test.dtype
    if not np.issubdtype(dtype, np.floating):
        dtype = context.dtype
    return np.where(test != 0, a, b).astype(dtype, copy=False)


# ---- NaN tests and replace ----------------------------------------------------------------------

def _test_cells(name: str, value, test):
    if is_matrix(value):
        return test(value).astype(value.dtype if np.issubdtype(value.dtype, np.floating) else np.float64)
    return bool(test(_scalar_number(value, name)))


@builtin("is.na", "isNA")
def is_na(target):
    """1 where a cell is NaN, else 0 (a boolean for a scalar)."""
    return _test_cells("is.na", target, np.isnan)


@builtin("is.nan", "isNaN")
def is_nan(target):
    """1 where a cell is NaN, else 0 (a boolean for a scalar)."""
    return _test_cells("is.nan", target, np.isnan)


@builtin("is.infinite", "isInf")
def is_infinite(target):
    """1 where a cell is +-Infinity, else 0 (a boolean for a scalar)."""
    return _test_cells("is.infinite", target, np.isinf)


@builtin("replace")
def replace(target, pattern, replacement):
    """The cells equal to pattern (NaN: the NaN cells) set to replacement."""
    if not is_matrix(target):
        raise DMLRuntimeError(f"replace's target must be a matrix, got {type_name(target)}")
    if is_matrix(pattern) or isinstance(pattern, (str, list)):
        raise DMLRuntimeError(f"replace's pattern must be a number, got {type_name(pattern)}")
    if is_matrix(replacement) or isinstance(replacement, (str, list)):
        raise DMLRuntimeError(f"replace's replacement must be a number, got {type_name(replacement)}")
    put = target.dtype.type(float(replacement))
    return np.where(_matches(target, pattern), put, target)


def _matches(target: np.ndarray, pattern) -> np.ndarray:
    """The cells equal to pattern; a NaN pattern finds the NaN cells."""
    find = float(pattern)
    return np.isnan(target) if find != find else target == find


@builtin("contains")
def contains(target, pattern):
    """Whether any cell equals pattern (NaN: whether any cell is NaN)."""
    if not is_matrix(target):
        raise DMLRuntimeError(f"contains's target must be a matrix, got {type_name(target)}")
    if is_matrix(pattern) or isinstance(pattern, (str, list)):
        raise DMLRuntimeError(f"contains's pattern must be a number, got {type_name(pattern)}")
    return bool(_matches(target, pattern).any())


@builtin("ppred")
def ppred(A, B, op):
    """The old form of a comparison: ppred(A, B, ">") is A > B."""
    name = to_string(op, "ppred's operator")
    if name not in COMPARISONS:
        raise DMLRuntimeError(f"ppred's operator must be one of {', '.join(sorted(COMPARISONS))}, "
                              f"got {name!r}")
    return binary_operator(name)(A, B)


@builtin("xor")
def xor(a, b):
    """Exclusive or: elementwise 0/1 on matrices (nonzero is true), a boolean on scalars."""
    for value, which in ((a, "first"), (b, "second")):
        if isinstance(value, (str, list)):
            raise DMLRuntimeError(f"xor's {which} argument must be a boolean, number or matrix, "
                                  f"got {type_name(value)}")
    if not is_matrix(a) and not is_matrix(b):
        return to_bool(a, "xor's first argument") != to_bool(b, "xor's second argument")
    if is_matrix(a) and is_matrix(b) and a.shape != b.shape:
        raise DMLRuntimeError(f"xor needs matrices of equal dimensions, got {type_name(a)} and "
                              f"{type_name(b)}")
    dtype = np.result_type(*[m.dtype for m in (a, b) if is_matrix(m)])
    return np.logical_xor(np.not_equal(a, 0), np.not_equal(b, 0)).astype(dtype)


# SystemDS' bitwise function objects work on Java ints: two int scalars take the long path
# (each operand's low 32 bits), anything else the double path (UtilFunctions.toInt: truncation
# saturating at the int limits). bitwShiftL gives NaN where the int result is Integer.MIN_VALUE
# (0 once stored in an int scalar); bitwShiftR of two ints shifts the whole long.
_INT_MIN = -(2**31)


def _wrap_int32(x):
    return ((x + 2**31) & 0xFFFFFFFF) - 2**31


def _java_shift_left(a, b):
    return _wrap_int32(a << (b & 31))


def _java_shift_right(a, b):
    return a >> (b & 31)


_BITWISE = {
    "bitwAnd": np.bitwise_and,
    "bitwOr": np.bitwise_or,
    "bitwXor": np.bitwise_xor,
    "bitwShiftL": _java_shift_left,
    "bitwShiftR": _java_shift_right,
}


def _java_to_int(values):
    """UtilFunctions.toInt, elementwise: its truncation, then Java's (int) cast."""
    with np.errstate(invalid="ignore"):
        truncated = np.clip(np.nan_to_num(java_truncate(values), nan=0.0), _INT_MIN, 2**31 - 1)
    return truncated.astype(np.int64)


def _int_scalar_bitwise(name: str, operation, a: int, b: int) -> int:
    if name == "bitwShiftR":
        return a >> (_wrap_int32(b) & 63)
    result = int(operation(_wrap_int32(a), _wrap_int32(b)))
    return 0 if name == "bitwShiftL" and result == _INT_MIN else result


def _register_bitwise(name: str, operation):
    def function(a, b):
        if isinstance(a, bool) or isinstance(b, bool):     # SystemDS: invalid value types
            raise DMLRuntimeError(f"{name} is not defined for booleans; convert with as.integer(...)")
        if _is_int(a) and _is_int(b):
            return _int_scalar_bitwise(name, operation, a, b)
        matrices = [m for m in (a, b) if is_matrix(m)]
        left, right = (_java_to_int(np.asarray(v, dtype=np.float64)) if is_matrix(v)
                       else _java_to_int(np.float64(_scalar_number(v, name))) for v in (a, b))
        result = operation(left, right).astype(np.float64)
        if name == "bitwShiftL":
            result = np.where(result == _INT_MIN, np.nan, result)
        if matrices:
            like = matrices[0]
            return result.astype(like.dtype if like.dtype.kind == "f" else np.float64)
        return float(result)
    function.__name__ = name
    function.__doc__ = f"{name} on Java int values, elementwise on matrices."
    builtin(name)(function)


for _name, _operation in _BITWISE.items():
    _register_bitwise(_name, _operation)


# The name the interpreter gives `x = ifelse(...)`: SystemDS stores a scalar result in the
# variable's type, the common type of both branches (an int and a double branch give a
# double), while print(ifelse(...)) shows the chosen branch as it is.
ASSIGNED_IFELSE = "ifelse="


@builtin(ASSIGNED_IFELSE, context=True, keeps_inputs=True)
def assigned_ifelse(context, test, yes, no):
    result = ifelse(context, test, yes, no)
    if not is_matrix(test) and _branch_kinds(yes, no) == {int, float}:
        return float(result)
    return result
