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
    sum(A + B), sum(v ^ 2), sum(u * v) SystemDS' rewrites     the sum in SystemDS' order

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
from .operators import matmul, transposed_matmul

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


# SystemDS rewrites a full sum before it runs, and the rewritten sum adds in another order (its
# last digits differ): sum(A + B) -> sum(A) + sum(B) for A and B of equal dimensions, and
# sum(v ^ 2), sum(u * v) of column vectors -> the dot product t(v) %*% v, t(u) %*% v (summed
# in blocks of 8, local/small_matmul.py) -- except a product with a factor that is itself a
# product or a square (SystemDS sums those as one ternary aggregate). SystemDS decides on the
# statement block's whole expression graph; this sees one expression, with variables as leaves.

def _square_base(node):
    """The X of `X ^ 2`, or None."""
    if isinstance(node, n.Binary) and node.op == "^" and isinstance(node.right, n.Literal) \
            and _number(node.right.value) and node.right.value == 2:
        return node.left
    return None


def _dot_factors(node):
    """(u, v) of a sum(u * v) or sum(v ^ 2) that SystemDS turns into a dot product, or None."""
    base = _square_base(node)
    if base is not None:
        return base, base
    if isinstance(node, n.Binary) and node.op == "*" and not any(
            (isinstance(f, n.Binary) and f.op == "*") or _square_base(f) is not None
            for f in (node.left, node.right)):
        return node.left, node.right
    return None


def _column_vectors(a, b) -> bool:
    return (type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == b.ndim == 2
            and a.shape == b.shape and a.shape[1] == 1 and a.dtype == b.dtype == np.float64)


def _summand(compiler, node) -> Callable:
    """frame -> (value thunk, total): the node's value (computed on demand) and its full sum,
    summed the way SystemDS sums it after the rewrites above."""
    plain_sum = compiler.counted("sum", BUILTINS["sum"].function)
    if isinstance(node, n.Binary) and node.op == "+":
        left, right = _summand(compiler, node.left), _summand(compiler, node.right)
        add = compiler.binary("+", node.pos)

        def split(frame):
            (left_value, left_total), (right_value, right_total) = left(frame), right(frame)
            a, b = left_value(), right_value()
            if type(a) is np.ndarray and type(b) is np.ndarray and a.shape == b.shape:
                return (lambda: add(a, b)), (lambda: left_total() + right_total())
            return _plain(lambda: add(a, b), plain_sum)
        return split
    factors = _dot_factors(node)
    if factors is not None:
        read_u, read_v = compiler.compile(factors[0], False), compiler.compile(factors[1], False)
        operator = compiler.binary(node.op, node.pos)
        square = factors[0] is factors[1]
        exponent = node.right.value if square else None
        dot = compiler.counted("%*%", matmul)

        def dot_product(frame):
            u = read_u(frame)
            v = u if square else read_v(frame)
            value = (lambda: operator(u, exponent)) if square else (lambda: operator(u, v))
            if _column_vectors(u, v):
                return value, lambda: float(dot(u.T, v)[0, 0])
            return _plain(value, plain_sum)
        return dot_product
    read = compiler.compile(node, False)
    return lambda frame: _plain(lambda value=read(frame): value, plain_sum)


def _plain(value: Callable, plain_sum: Callable):
    """(value thunk, total thunk) where the total is the plain sum of the value (computed once)."""
    computed = []

    def get():
        if not computed:
            computed.append(value())
        return computed[0]
    return get, lambda: plain_sum(get())


def _rewritten_sum(compiler, node: n.Call) -> Callable | None:
    """sum(A + B), sum(v ^ 2), sum(u * v): see above."""
    if not _builtin(compiler, node, "sum") or len(node.args) != 1 or node.args[0].name is not None:
        return None
    argument = node.args[0].value
    if not (isinstance(argument, n.Binary) and argument.op == "+") and _dot_factors(argument) is None:
        return None
    summand = _summand(compiler, argument)

    def evaluate(frame):
        _, total = summand(frame)
        return total()
    return evaluate


PATTERNS = {n.Binary: [_relu_gradient, _gradient_step, _transposed_product],
            n.Call: [_clamp, _convolution_bias, _rewritten_sum]}


def compile_fused(compiler, node) -> Callable | None:
    """A fused closure for the node, or None (also always None under a planner)."""
    if compiler.context.planner is not None:
        return None
    for pattern in PATTERNS.get(type(node), ()):
        fused = pattern(compiler, node)
        if fused is not None:
            return fused
    return None
