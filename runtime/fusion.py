"""Fused evaluation of expressions that dml_lib's layers repeat, for local runs.

On a batch of activations an elementwise step costs what its memory traffic costs, and the
plain evaluation of some common expressions passes over the data several times (a mask, then
a product). A pattern here evaluates its expression in one pass, with the same bits as the
plain evaluation; whenever the operands are not what the fused kernel handles (a scalar, a
vector, mixed precision), the plain evaluation runs. With a planner (Spark, hybrid) nothing is
fused: the planner sees and places the plain operations.

    dout * (X > 0)                    the gradient of relu    elementwise.multiply_where_positive
    min(max(X, low), high)            relu6, a clamp          elementwise.clamp
    X - dX * lr                       a gradient step         elementwise.subtract_scaled
    bias_add(conv2d(X, W, ...), b)    a convolution layer     the bias added chunk by chunk
    t(A) %*% v                        a gradient              operators.transposed_matmul

A pattern is a function (compiler, node) -> closure or None, listed in PATTERNS by the node
type it matches.
"""
from __future__ import annotations

import inspect
from typing import Callable

import numpy as np

from . import nodes as n
from .builtins import BUILTINS
from .builtins.dnn import conv2d_bias_add
from .builtins.registry import Builtin
from .inplace import free
from .local.elementwise import clamp, multiply_where_positive, subtract_scaled
from .operators import transposed_matmul

_CONV2D_BIAS_ADD = Builtin("conv2d_bias_add", conv2d_bias_add, inspect.signature(conv2d_bias_add),
                           needs_context=False, keeps_inputs=False)


def _is_zero(node) -> bool:
    return isinstance(node, n.Literal) and not isinstance(node.value, (bool, str)) \
        and node.value == 0


def _positive_mask(node):
    """The X of `X > 0`, or None."""
    if isinstance(node, n.Binary) and node.op == ">" and _is_zero(node.right):
        return node.left
    return None


def _fusable(a, b) -> bool:
    return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.ndim == 2
            and a.shape == b.shape and a.dtype == b.dtype and a.dtype.kind == "f")


def _relu_gradient(compiler, node: n.Binary) -> Callable | None:
    """dout * (X > 0), either way round."""
    if node.op != "*":
        return None
    for values, mask, values_left in ((node.left, node.right, True),
                                      (node.right, node.left, False)):
        signs = _positive_mask(mask)
        if signs is None:
            continue
        read_values, read_signs = compiler.compile(values, False), compiler.compile(signs, False)
        multiply, greater = compiler.binary("*", node.pos), compiler.binary(">", mask.pos)
        fused = compiler.counted_fused("relu_gradient", multiply_where_positive)
        fused_in_place = compiler.counted_fused("relu_gradient in place",
                                                multiply_where_positive)

        def evaluate(frame):
            v, s = read_values(frame), read_signs(frame)
            if _fusable(v, s):
                return fused_in_place(v, s, v) if free(v) else fused(v, s)
            positive = greater(s, 0)
            return multiply(v, positive) if values_left else multiply(positive, v)
        return evaluate
    return None


def _number(value) -> bool:
    return type(value) in (int, float)


def _gradient_step(compiler, node: n.Binary) -> Callable | None:
    """X - dX * lr (or X - lr * dX), lr a number."""
    if node.op != "-" or not isinstance(node.right, n.Binary) or node.right.op != "*":
        return None
    product = node.right
    read_values = compiler.compile(node.left, False)
    read_left, read_right = compiler.compile(product.left, False), compiler.compile(product.right, False)
    multiply, subtract = compiler.binary("*", product.pos), compiler.binary("-", node.pos)
    fused = compiler.counted_fused("gradient_step", subtract_scaled)
    fused_in_place = compiler.counted_fused("gradient_step in place", subtract_scaled)

    def evaluate(frame):
        values, a, b = read_values(frame), read_left(frame), read_right(frame)
        step, scale = (a, b) if _number(b) else (b, a)
        if _number(scale) and _fusable(values, step):
            if free(values):
                return fused_in_place(values, step, scale, values)
            return fused(values, step, scale)
        return subtract(values, multiply(a, b))
    return evaluate


def _builtin(compiler, node, name: str) -> bool:
    """The node calls the builtin `name` (not a user function of that name)."""
    return (isinstance(node, n.Call) and node.name == name
            and compiler.module.find_function(name, node.pos) is None)


def _convolution_bias(compiler, node: n.Call) -> Callable | None:
    """bias_add(conv2d(...), b): the call becomes conv2d's with the bias as one more argument."""
    if not _builtin(compiler, node, "bias_add") or len(node.args) != 2 \
            or any(a.name is not None for a in node.args):
        return None
    convolution, bias = node.args[0].value, node.args[1].value
    if not _builtin(compiler, convolution, "conv2d"):
        return None
    positional = [a for a in convolution.args if a.name is None]
    named = [a for a in convolution.args if a.name is not None]
    if len(positional) != 2:                 # let the plain call report the mistake
        return None
    fused = n.Call(name="conv2d_bias_add", pos=node.pos,
                   args=(*positional, n.Argument(name=None, value=bias, pos=node.pos), *named))
    compiler.mark_fused("conv2d_bias_add")
    return compiler.builtin_call(_CONV2D_BIAS_ADD, fused)


def _positional_pair(compiler, node, name: str):
    """The two argument expressions of a call of the builtin `name` with two positional
    arguments, or None."""
    if _builtin(compiler, node, name) and len(node.args) == 2 \
            and all(a.name is None for a in node.args):
        return node.args[0].value, node.args[1].value
    return None


def _bound(value) -> bool:
    return _number(value) and value == value           # not NaN


def _matrix_and_number(first, second):
    """(matrix, number) of max/min's two arguments in either order, or None: max(M, s) and
    max(s, M) compute the same (builtins/aggregates.py)."""
    for matrix, bound in ((first, second), (second, first)):
        if type(matrix) is np.ndarray and matrix.ndim == 2 and matrix.dtype.kind == "f" \
                and _bound(bound):
            return matrix, bound
    return None


def _clamp(compiler, node: n.Call) -> Callable | None:
    """min(max(X, low), high) (relu6: the bounds 0 and 6), X a matrix, low and high numbers."""
    outer = _positional_pair(compiler, node, "min")
    inner = _positional_pair(compiler, outer[0], "max") if outer is not None else None
    if inner is None:
        return None
    read_a, read_b = compiler.compile(inner[0], False), compiler.compile(inner[1], False)
    read_high = compiler.compile(outer[1], False)
    maximum = compiler.counted("max", BUILTINS["max"].function)
    minimum = compiler.counted("min", BUILTINS["min"].function)
    fused = compiler.counted_fused("clamp", clamp)
    fused_in_place = compiler.counted_fused("clamp in place", clamp)

    def evaluate(frame):
        a, b, high = read_a(frame), read_b(frame), read_high(frame)
        pair = _matrix_and_number(a, b) if _bound(high) else None
        if pair is None:
            return minimum(maximum(a, b), high)
        values, low = pair
        del a, b, pair                      # free() counts the references left to values
        return fused_in_place(values, low, high, values) if free(values) \
            else fused(values, low, high)
    return evaluate


def _transposed_product(compiler, node: n.Binary) -> Callable | None:
    """t(A) %*% v without materializing t(A), summed as SystemDS sums it."""
    if node.op != "%*%" or not _builtin(compiler, node.left, "t") or len(node.left.args) != 1 \
            or node.left.args[0].name is not None:
        return None
    read_a = compiler.compile(node.left.args[0].value, False)
    read_b = compiler.compile(node.right, False)
    product = compiler.counted("%*%", transposed_matmul)
    return lambda frame: product(read_a(frame), read_b(frame))


PATTERNS = {n.Binary: [_relu_gradient, _gradient_step, _transposed_product],
            n.Call: [_clamp, _convolution_bias]}


def compile_fused(compiler, node) -> Callable | None:
    """A fused closure for the node, or None (also always None under a planner)."""
    if compiler.context.planner is not None:
        return None
    for pattern in PATTERNS.get(type(node), ()):
        fused = pattern(compiler, node)
        if fused is not None:
            return fused
    return None
