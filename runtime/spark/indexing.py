"""Distributed right indexing X[rows, cols], left indexing X[rows, cols] = V, cbind and rbind:
cells move to their place in the output block grid through runtime/spark/reblock.py."""
from __future__ import annotations

from functools import partial

import numpy as np

from ..indexing import checked_slice
from .reblock import assemble, partitions_for, shifted_pieces, whole
from .matrix import is_matrix_operand
from .registry import operation


def _region(matrix, rows, cols, name, reading: bool = False) -> tuple[slice, slice]:
    shape = tuple(matrix.shape)
    return (checked_slice(rows, shape[0], "row", name, shape, reading),
            checked_slice(cols, shape[1], "column", name, shape, reading))


def _selected(matrix, rows, cols, name, reading: bool = False):
    r, c = _region(matrix, rows, cols, name, reading)
    return r.stop - r.start, c.stop - c.start


def _read(matrix, rows, cols, name):
    return _selected(matrix, rows, cols, name, reading=True)


def _accepts_right(matrix, rows, cols, name) -> bool:
    return is_matrix_operand(matrix)


@operation("rightIndex", accepts=_accepts_right, output=_read, strategy="reblock")
def right_index(runtime, matrix, rows, cols, name):
    m = runtime.distribute(matrix)
    r, c = _region(m, rows, cols, name, reading=True)
    if r.start == r.stop or c.start == c.stop:
        return np.zeros((r.stop - r.start, c.stop - c.start), dtype=m.dtype)  # M[, 1:0]
    if (r.start, r.stop, c.start, c.stop) == (0, m.rows, 0, m.cols):
        return m  # the whole matrix (a one-batch loop's X[1:N, ]): nothing moves
    pieces = shifted_pieces(m, (r.start, r.stop), (c.start, c.stop), (0, 0), m.block)
    return assemble(pieces, r.stop - r.start, c.stop - c.start, m.block, m.dtype,
                    m.rdd.getNumPartitions(), depth=m.depth + 1)


# ---- left indexing ------------------------------------------------------------------------------

def _accepts_left(target, rows, cols, value, name) -> bool:
    if not is_matrix_operand(target):
        return False
    try:
        region = _selected(target, rows, cols, name)
    except Exception:  # out of bounds: the local path reports it
        return False
    if is_matrix_operand(value):
        return tuple(value.shape) == region
    return isinstance(value, (bool, int, float))


def _fill(region, value, item):
    (i, j), block = item
    (r0, r1), (c0, c1), (top, left) = region[0], region[1], (i * region[2], j * region[3])
    lo_r, hi_r = max(r0, top), min(r1, top + block.shape[0])
    lo_c, hi_c = max(c0, left), min(c1, left + block.shape[1])
    if lo_r >= hi_r or lo_c >= hi_c:
        return (i, j), block
    block = block.copy()
    block[lo_r - top:hi_r - top, lo_c - left:hi_c - left] = value
    return (i, j), block


@operation("leftIndex", accepts=_accepts_left, output=lambda target, *rest: tuple(target.shape),
           strategy="reblock")
def left_index(runtime, target, rows, cols, value, name):
    m = runtime.distribute(target)
    r, c = _region(m, rows, cols, name)
    if not is_matrix_operand(value):
        region = ((r.start, r.stop), (c.start, c.stop), m.block, m.col_block)
        return m.derive(m.rdd.map(partial(_fill, region, float(value)), preservesPartitioning=True))
    v = runtime.distribute(value)
    # the target keeps its precision, as local left indexing writes into the target's array
    pieces = whole(m).union(whole(v, to=(r.start, c.start), block=m.block, priority=1))
    return assemble(pieces, m.rows, m.cols, m.block, m.dtype, partitions_for(m, v),
                    depth=max(m.depth, v.depth) + 1)


# ---- cbind / rbind ------------------------------------------------------------------------------

def _accepts_bind(axis, *matrices) -> bool:
    if len(matrices) < 2 or not all(is_matrix_operand(m) for m in matrices):
        return False
    kept = 0 if axis == 1 else 1
    return len({m.shape[kept] for m in matrices}) == 1


def _bind_output(axis, *matrices):
    rows = sum(m.shape[0] for m in matrices) if axis == 0 else matrices[0].shape[0]
    cols = sum(m.shape[1] for m in matrices) if axis == 1 else matrices[0].shape[1]
    return rows, cols


def _bind_along(axis, runtime, *matrices):
    parts = [runtime.distribute(m) for m in matrices]
    block = parts[0].block
    offset, pieces = 0, None
    for part in parts:
        placed = whole(part, to=(offset, 0) if axis == 0 else (0, offset), block=block)
        pieces = placed if pieces is None else pieces.union(placed)
        offset += part.shape[axis]
    rows, cols = _bind_output(axis, *parts)
    dtype = np.result_type(*[p.dtype for p in parts])
    return assemble(pieces, rows, cols, block, dtype, partitions_for(*parts),
                    depth=max(p.depth for p in parts) + 1)


for _name, _axis in (("cbind", 1), ("rbind", 0)):
    operation(_name, accepts=partial(_accepts_bind, _axis), output=partial(_bind_output, _axis),
              strategy="reblock")(partial(_bind_along, _axis))
