"""Distributed aggregates: full (sum, mean, min, max), row and column (sums, means, maxs, mins),
rowIndexMax/Min, and table. Each block is reduced by the local builtin; the partial results are
combined in block order, so a run gives the same floating-point result every time."""
from __future__ import annotations

import math
from functools import partial, reduce

import numpy as np

from ..builtins import BUILTINS
from ..builtins.aggregates import exact_axis_sum
from ..context import Context
from .elementwise import accepts_binary, binary, binary_output, binary_strategy, join_blocks
from .matrix import DistributedMatrix, from_panels, is_matrix_operand
from .registry import operation

def _sum_parts(axis, block):
    """A block's row (axis 1) or column (axis 0) sums and their residuals side by side, so that
    summing the parts of all blocks rounds like the local compensated sum over the cells."""
    high = exact_axis_sum(block, axis)
    low = exact_axis_sum(np.concatenate([block, -high], axis=axis), axis)
    return np.concatenate([high, low], axis=axis)


def _sum_total(axis, parts):
    return exact_axis_sum(np.concatenate(parts, axis=axis), axis)


def _extreme_parts(function, axis, block):
    return function(block, axis=axis, keepdims=True)


def _extreme_total(function, axis, parts):
    return reduce(function, parts)


# suffix -> (partial result of one block, the total of a row's/column's partials in block order)
_AXIS = {"Sums": (_sum_parts, _sum_total), "Means": (_sum_parts, _sum_total),
         "Maxs": (partial(_extreme_parts, np.max), partial(_extreme_total, np.maximum)),
         "Mins": (partial(_extreme_parts, np.min), partial(_extreme_total, np.minimum))}


def _single_matrix(name, x=None, *rest, **kwargs) -> bool:
    return x is not None and not rest and not kwargs and is_matrix_operand(x)


# ---- executor-side ---------------------------------------------------------------------------

def _apply(name, block):
    return BUILTINS[name].function(block)


def _keyed_partial(part, axis, item):
    (i, j), block = item
    return (i, (j, part(1, block))) if axis == "row" else (j, (i, part(0, block)))


def _divided(count, x):
    return x / count


def _combine_ordered(total, axis, dtype, parts):
    ordered = [part for _, part in sorted(parts, key=lambda p: p[0])]
    return total(axis, ordered).astype(dtype, copy=False)


# ---- full aggregates ----------------------------------------------------------------------------

def _exact_sum(block):
    """A block's sum as two doubles whose sum is (nearly) exact, so that adding the blocks'
    parts with fsum rounds like one compensated sum over all cells, as the local sum does."""
    cells = block.ravel().tolist()
    high = math.fsum(cells)
    return high, math.fsum(cells + [-high])


def _full(runtime, name, x):
    m = runtime.distribute(x)
    if name == "sum" and m.row_blocks * m.col_blocks > 1:
        return math.fsum(value for _, pair in m.rdd.mapValues(_exact_sum).collect() for value in pair)
    parts = [value for _, value in sorted(m.rdd.mapValues(partial(_apply, name)).collect(),
                                          key=lambda item: item[0])]
    if name == "sum":
        return parts[0]
    reduce = np.minimum if name == "min" else np.maximum
    return float(reduce.reduce(parts))


@operation("sum", accepts=partial(_single_matrix, "sum"), output=lambda x: None, strategy="aggregate")
def full_sum(runtime, x):
    return _full(runtime, "sum", x)


@operation("mean", accepts=partial(_single_matrix, "mean"), output=lambda x: None, strategy="aggregate")
def full_mean(runtime, x):
    return _full(runtime, "sum", x) / (x.shape[0] * x.shape[1])


def _accepts_min_max(name, *values) -> bool:
    if len(values) == 1:
        return is_matrix_operand(values[0])
    return len(values) == 2 and accepts_binary("-", *values)


def _min_max_output(*values):
    return None if len(values) == 1 else binary_output(*values)


def _min_max_strategy(runtime, *values):
    return "aggregate" if len(values) == 1 else binary_strategy(runtime, *values)


@operation("min", "max", accepts=_accepts_min_max, output=_min_max_output, strategy=_min_max_strategy,
           named=True)
def min_max(runtime, name, *values):
    """min(X) / max(X): the extreme cell; min(A, B) / max(A, B) elementwise (ReLU is max(X, 0))."""
    if len(values) == 1:
        return _full(runtime, name, values[0])
    return binary(runtime, name, *values)


# ---- row and column aggregates ----------------------------------------------------------------

def _register_axis(axis: str, suffix: str):
    name = f"{axis}{suffix}"
    part, total = _AXIS[suffix]

    def output(x):
        return (x.shape[0], 1) if axis == "row" else (1, x.shape[1])

    def run(runtime, x):
        m = runtime.distribute(x)
        keyed = m.rdd.map(partial(_keyed_partial, part, axis))
        combined = keyed.groupByKey().mapValues(partial(_combine_ordered, total, 1 if axis == "row" else 0,
                                                        m.dtype))
        if suffix == "Means":
            combined = combined.mapValues(partial(_divided, m.cols if axis == "row" else m.rows))
        if axis == "row":
            rdd = combined.map(lambda item: ((item[0], 0), item[1]))
            return DistributedMatrix(rdd, m.rows, 1, m.block, m.dtype, row_partitioned=False)
        rdd = combined.map(lambda item: ((0, item[0]), item[1]))
        return DistributedMatrix(rdd, 1, m.cols, m.block, m.dtype, panel=m.panel, row_partitioned=False)
    operation(name, accepts=partial(_single_matrix, name), output=output, strategy="aggregate")(run)


for _axis in ("row", "col"):
    for _suffix in _AXIS:
        _register_axis(_axis, _suffix)


def _register_row_index(name: str):
    def run(runtime, x):
        m = runtime.distribute(x)
        return from_panels(m.panels().mapValues(partial(_apply, name)), m.rows, 1, m.block, m.dtype,
                           depth=m.depth + 1)
    operation(name, accepts=partial(_single_matrix, name), output=lambda x: (x.shape[0], 1),
              strategy="row-panels")(run)


for _name in ("rowIndexMax", "rowIndexMin"):
    _register_row_index(_name)


# ---- table --------------------------------------------------------------------------------------

def _accepts_table(A, B=None, *rest) -> bool:
    return (B is not None and is_matrix_operand(A) and is_matrix_operand(B) and tuple(A.shape) == tuple(B.shape)
            and len(rest) in (0, 2) and not any(is_matrix_operand(r) for r in rest))


def _block_table(precision, dims, item):
    _, (a, b) = item
    return BUILTINS["table"].function(Context(precision=precision), a, b, *dims)


@operation("table", accepts=_accepts_table, output=lambda A, B, *rest: tuple(rest) or None,
           strategy="aggregate")
def table(runtime, A, B, *dims):
    """Per block pair the local contingency table, padded to the largest and added up."""
    _, joined = join_blocks(runtime.distribute(A), runtime.distribute(B))
    parts = joined.map(partial(_block_table, runtime.precision, dims)).collect()
    rows = max(p.shape[0] for p in parts)
    cols = max(p.shape[1] for p in parts)
    result = np.zeros((rows, cols), dtype=parts[0].dtype)
    for part in parts:
        result[:part.shape[0], :part.shape[1]] += part
    return result


# ---- dimensions ---------------------------------------------------------------------------------

@operation("nrow", "ncol", "length", accepts=lambda name, x=None, *rest: isinstance(x, DistributedMatrix),
           output=lambda x: None, strategy="metadata", named=True)
def dimensions(runtime, name, x):
    """Known without a Spark job: a distributed matrix carries its dimensions."""
    rows, cols = x.shape
    return {"nrow": rows, "ncol": cols, "length": rows * cols}[name]
