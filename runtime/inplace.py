"""Elementwise results written into an operand's buffer when nothing else holds the operand.

An operand is free when no DML variable, list, view or caller holds it: an intermediate
result (the `dX * lr` of `X - dX * lr`) or a variable whose last read took it out of the frame
(liveness.py; `X` in `X = X - lr * dX`). CPython's reference count tells exactly that: a free
array is referenced only by the evaluating closure. Writing the result there instead of into a
new matrix saves the allocation and the page faults of first touching it, and keeps the peak
memory of a step lower; numpy's ufuncs compute each cell with the same loop either way, so the
bits are those of the plain evaluation. Local runs only: under a planner operands may be
distributed, and the plain operations run.
"""
from __future__ import annotations

import sys
from typing import Callable

import numpy as np

from .builtins import BUILTINS
from .builtins.elementwise import matrix_ufunc, runs_cellwise
from .local import dnn as local_dnn
from .local.elementwise import binary as parallel_binary
from .operators import MATRIX_RULES, broadcastable, unchanged_operand


def _references(array) -> int:
    return sys.getrefcount(array)


def _own_references() -> int:
    """The count `_references` sees for an array that only its caller's one local holds."""
    probe = np.empty(1)
    return _references(probe)


_OWN = _own_references()


def free(array) -> bool:
    """Nothing but the caller's one local variable holds this writable array, and it owns its
    buffer: no view, or a reshaped view of a whole buffer that nothing else holds (the DNN
    kernels return their N x F x L results reshaped to N x F*L)."""
    if (type(array) is not np.ndarray or not array.flags.writeable
            or _references(array) > _OWN + 1):            # + 1: this function's parameter
        return False
    base = array.base
    return base is None or (type(base) is np.ndarray and base.base is None
                            and base.nbytes == array.nbytes and array.flags.c_contiguous
                            and base.flags.c_contiguous
                            and _references(base) <= _OWN + 1)   # + 1: the view's reference


def _scalar(value) -> bool:
    return type(value) is int or type(value) is float


def fits(target, other, target_left: bool) -> bool:
    """`target` (an operand) can take the elementwise result: a float matrix of the result's
    shape and dtype beside a number or a matrix DML allows there (a row or column vector only
    on the right)."""
    if type(target) is not np.ndarray or target.ndim != 2 or target.dtype.kind != "f":
        return False
    if _scalar(other):
        return True
    return (type(other) is np.ndarray and other.dtype == target.dtype
            and (other.shape == target.shape
                 or target_left and broadcastable(target.shape, other.shape)))


def binary_in_place(compiler, op: str, read_left: Callable, read_right: Callable,
                    plain: Callable) -> Callable | None:
    """The closure evaluating `left op right` into a free operand when there is one (else with
    `plain`), or None when the operator has no elementwise ufunc or a planner runs."""
    ufunc = MATRIX_RULES.get(op)
    if compiler.context.planner is not None or not isinstance(ufunc, np.ufunc):
        return None
    into = compiler.counted_fused(f"{op} in place", lambda a, b, out: parallel_binary(ufunc, a, b,
                                                                                out=out))

    def evaluate(frame):
        left = read_left(frame)
        right = read_right(frame)
        unchanged = unchanged_operand(op, left, right)
        if unchanged is not None:
            return unchanged
        if fits(left, right, True) and free(left):
            return into(left, right, left)
        if fits(right, left, False) and free(right):
            return into(left, right, right)
        return plain(left, right)
    return evaluate


_EXTREMES = {"max": np.maximum, "min": np.minimum}
_CHANNEL_KERNELS = {"bias_add": local_dnn.bias_add, "bias_multiply": local_dnn.bias_multiply}


def builtin_in_place(compiler, node) -> Callable | None:
    """A call of a unary math builtin (exp, sqrt, abs, ...) or of max/min of a matrix and a
    number, evaluated into its matrix argument when that is free; None for other calls."""
    if (compiler.context.planner is not None or any(a.name is not None for a in node.args)
            or "::" in node.name or compiler.module.find_function(node.name, node.pos) is not None
            or node.name not in BUILTINS):
        return None
    builtin = BUILTINS[node.name]
    plain = compiler.counted(node.name, builtin.function)
    args = [compiler.compile(a.value, False) for a in node.args]
    ufunc = matrix_ufunc(node.name)
    if ufunc is not None and len(args) == 1:
        return _unary(compiler.counted_fused(f"{node.name} in place", ufunc), args[0], plain, node.name)
    if node.name in _CHANNEL_KERNELS and len(args) == 2:
        return _channel(compiler.counted_fused(f"{node.name} in place",
                                               _CHANNEL_KERNELS[node.name]), args, plain)
    if node.name in _EXTREMES and len(args) == 2:
        return _extreme(compiler.counted_fused(f"{node.name} in place", parallel_binary),
                        _EXTREMES[node.name], args, plain)
    return None


def _unary(into: Callable, read: Callable, plain: Callable, name: str) -> Callable:
    def evaluate(frame):
        value = read(frame)
        if type(value) is np.ndarray and value.dtype.kind == "f" and free(value) \
                and not runs_cellwise(name, value):
            return into(value, out=value)
        return plain(value)
    return evaluate


def _extreme(into: Callable, ufunc, args, plain: Callable) -> Callable:
    """max(M, s) / max(s, M): builtins/aggregates.py computes ufunc(M, s in M's dtype)."""
    read_first, read_second = args

    def evaluate(frame):
        first = read_first(frame)
        second = read_second(frame)
        if _scalar(second) and type(first) is np.ndarray and first.dtype.kind == "f" \
                and free(first):
            return into(ufunc, first, first.dtype.type(float(second)), out=first)
        if _scalar(first) and type(second) is np.ndarray and second.dtype.kind == "f" \
                and free(second):
            return into(ufunc, second, second.dtype.type(float(first)), out=second)
        return plain(first, second)
    return evaluate


def _channel(into: Callable, args, plain: Callable) -> Callable:
    """bias_add / bias_multiply(X, b) into X: the kernel's own loop, written where it reads."""
    read_input, read_bias = args

    def evaluate(frame):
        matrix = read_input(frame)
        bias = read_bias(frame)
        if (type(bias) is np.ndarray and bias.ndim == 2 and bias.shape[1] == 1
                and bias.shape[0] > 0 and type(matrix) is np.ndarray and matrix.ndim == 2
                and matrix.dtype.kind == "f" and matrix.dtype == bias.dtype
                and matrix.shape[1] % bias.shape[0] == 0 and free(matrix)):
            return into(matrix, bias, out=matrix)
        return plain(matrix, bias)
    return evaluate
