"""Distributed elementwise operations: every block goes through the local operator or builtin
itself, so types, NaN and Infinity rules are the local ones by construction.

- matrix op scalar (either side), or op a 1x1 matrix on the right (SystemDS takes it as a
  scalar): a map over blocks;
- matrix op matrix of the same shape: the two block sets joined by block key;
- matrix op row vector (1 x ncol) / column vector (nrow x 1): the vector broadcast, each block
  taking its slice of it.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from ..builtins import BUILTINS
from ..operators import ARITHMETIC, UNARY_RULES, binary_operator, broadcastable
from .matrix import DistributedMatrix, is_matrix_operand, pair_by_key
from .registry import operation

BINARY_OPS = ("+", "-", "*", "/", "^", "%%", "%/%", "==", "!=", "<", "<=", ">", ">=",
              "&", "&&", "|", "||")
UNARY_BUILTINS = ("exp", "log", "sqrt", "abs", "round", "floor", "ceil", "sign", "sin", "cos", "tan",
                  "asin", "acos", "atan", "sinh", "cosh", "tanh", "sigmoid", "is.na", "is.nan",
                  "is.infinite")


def _number(value, op: str) -> bool:
    if isinstance(value, bool):
        return op not in ARITHMETIC
    return isinstance(value, (int, float))


def accepts_binary(op, a, b) -> bool:
    if is_matrix_operand(a) and is_matrix_operand(b):
        return broadcastable(tuple(a.shape), tuple(b.shape))
    return (is_matrix_operand(a) and _number(b, op)) or (is_matrix_operand(b) and _number(a, op))


def binary_output(a, b):
    return tuple(a.shape) if is_matrix_operand(a) else tuple(b.shape)


def _cell_right(a, b) -> bool:
    """b is a 1x1 matrix beside a larger matrix a: it goes to every block whole, as a scalar."""
    return is_matrix_operand(a) and is_matrix_operand(b) and tuple(b.shape) == (1, 1) != tuple(a.shape)


def binary_strategy(runtime, a, b) -> str:
    if is_matrix_operand(a) and is_matrix_operand(b) and not _cell_right(a, b):
        return "join" if tuple(a.shape) == tuple(b.shape) else "broadcast-vector"
    return "blockwise"


# ---- executor-side functions (module level, so that tasks import them by name) ---------------

def _rule(op):
    """The local function of an operator, or of the two-argument min/max builtins."""
    return BUILTINS[op].function if op in ("min", "max") else binary_operator(op)


def _left(op, scalar, block):
    return _rule(op)(block, scalar)


def _right(op, scalar, block):
    return _rule(op)(scalar, block)


def _pair(op, item):
    key, (left, right) = item
    return key, _rule(op)(left, right)


def _vector_slice(op, vector, row_size, col_size, by_row, item):
    (i, j), block = item
    v = vector.value
    if by_row:
        part = v[:, j * col_size:j * col_size + block.shape[1]]
    else:
        part = v[i * row_size:i * row_size + block.shape[0], :]
    return (i, j), _rule(op)(block, part)


def _unary(function_name, block):
    rule = UNARY_RULES.get(function_name[len("unary"):]) if function_name.startswith("unary") else None
    return rule(block) if rule is not None else BUILTINS[function_name].function(block)


def _sample_dtype(function, *operands):
    """The result dtype of a blockwise function, from a 1x1 sample of each matrix operand."""
    samples = [np.zeros((1, 1), dtype=x.dtype) if is_matrix_operand(x) else x for x in operands]
    with np.errstate(all="ignore"):
        return function(*samples).dtype


# ---- the operations -----------------------------------------------------------------------

def join_blocks(a: DistributedMatrix, b: DistributedMatrix):
    """The layout both take, and an RDD of (key, (block of a, block of b)), for two matrices
    of one shape. The layout holds b's leases too: squaring may have cut either's lineage into
    a cache that only the joined blocks read."""
    if a.panel != b.panel or a.block != b.block:
        a, b = a.squared(), b.squared()
    partitions = max(a.rdd.getNumPartitions(), b.rdd.getNumPartitions())
    return a.holding(b.leases), pair_by_key(a.rdd, b.rdd, partitions)


@operation(*BINARY_OPS, accepts=accepts_binary, output=binary_output, strategy=binary_strategy,
           named=True)
def binary(runtime, op, a, b):
    dtype = _sample_dtype(_rule(op), a, b)
    if not is_matrix_operand(b) or _cell_right(a, b):
        scalar = runtime.local(b) if is_matrix_operand(b) else b
        return runtime.distribute(a).map_blocks(runtime.blockwise(partial(_left, op, scalar)), dtype)
    if not is_matrix_operand(a):
        return runtime.distribute(b).map_blocks(runtime.blockwise(partial(_right, op, a)), dtype)
    if tuple(a.shape) == tuple(b.shape):
        layout, joined = join_blocks(runtime.distribute(a), runtime.distribute(b))
        return layout.derive(joined.map(partial(_pair, op), preservesPartitioning=True), dtype=dtype,
                             row_partitioned=True)
    left = runtime.distribute(a)
    by_row = b.shape[0] == 1 and a.shape[0] != 1 or b.shape[1] != 1
    vector = runtime.broadcast(b)
    function = partial(_vector_slice, op, vector, left.block, left.col_block, by_row)
    return left.derive(left.rdd.map(function, preservesPartitioning=True), dtype=dtype)


def _accepts_unary(name, x, *rest, **kwargs) -> bool:
    if rest or kwargs:  # log(X, base) and friends run locally
        return False
    return is_matrix_operand(x)


def _same_shape(x, *rest, **kwargs):
    return tuple(x.shape)


@operation("unary-", "unary!", *UNARY_BUILTINS, accepts=_accepts_unary, output=_same_shape, named=True)
def unary(runtime, name, x):
    function = partial(_unary, name)
    return runtime.distribute(x).map_blocks(function, _sample_dtype(function, x))
