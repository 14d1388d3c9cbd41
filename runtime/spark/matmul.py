"""Distributed matrix multiply and transpose.

Strategies, chosen by size (as SystemDS's mapmm / cpmm):
- broadcast: the right side fits the broadcast limit; each row block of the left is multiplied
  with its slice of the broadcast right side, no shuffle of the left (the common X %*% W);
- broadcast-left: the left side is small (t(W) %*% X style); partial products are summed per
  column block of the right side;
- shuffle: both large; blocks A[i,k] and B[k,j] meet by a join on the shared index k and the
  products are summed per output block.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from .matrix import DistributedMatrix, from_panels, is_matrix_operand
from .reblock import assemble, whole
from .registry import operation


def _accepts(a, b) -> bool:
    return is_matrix_operand(a) and is_matrix_operand(b) and a.shape[1] == b.shape[0]


def _strategy(runtime, a, b) -> str:
    if runtime.fits_broadcast(b):
        return "broadcast"
    if runtime.fits_broadcast(a):
        return "broadcast-left"
    return "shuffle"


# ---- executor-side ---------------------------------------------------------------------------

def _times_right(shared, col_size, item):
    (i, j), block = item
    w = shared.value
    return i, (j, block @ w[j * col_size:j * col_size + block.shape[1]])


def _left_times(shared, row_size, item):
    (i, j), block = item
    w = shared.value
    return j, (i, w[:, i * row_size:i * row_size + block.shape[0]] @ block)


def _ordered_sum(parts):
    ordered = [value for _, value in sorted(parts, key=lambda p: p[0])]
    total = ordered[0]
    for value in ordered[1:]:
        total = total + value
    return total


def _products(item):
    _, (lefts, rights) = item
    for i, a in lefts:
        for j, b in rights:
            yield (i, j), a @ b


def _column_panel_blocks(block, item):
    j, panel = item
    for i in range(0, max(panel.shape[0], 1), block):
        yield (i // block, j), panel[i:i + block]


def _transposed(item):
    (i, j), block = item
    return (j, i), np.ascontiguousarray(block.T)


# ---- the operations ---------------------------------------------------------------------------

@operation("%*%", accepts=_accepts, output=lambda a, b: (a.shape[0], b.shape[1]), strategy=_strategy)
def matmul(runtime, a, b):
    dtype = np.result_type(a.dtype, b.dtype)
    strategy = _strategy(runtime, a, b)
    if strategy == "broadcast":
        left = runtime.distribute(a)
        keyed = left.rdd.map(partial(_times_right, runtime.broadcast(b), left.col_block))
        sums = keyed.groupByKey().mapValues(_ordered_sum) if left.col_blocks > 1 else \
            keyed.mapValues(lambda part: part[1])
        return from_panels(sums, left.rows, b.shape[1], left.block, dtype,
                           row_partitioned=left.col_blocks == 1, depth=left.depth + 1)
    if strategy == "broadcast-left":
        right = runtime.distribute(b).squared()
        keyed = right.rdd.map(partial(_left_times, runtime.broadcast(a), right.block))
        sums = keyed.groupByKey().mapValues(_ordered_sum)
        rdd = sums.flatMap(partial(_column_panel_blocks, right.block))
        return DistributedMatrix(rdd, a.shape[0], right.cols, right.block, dtype, row_partitioned=False,
                                 depth=right.depth + 1).holding(right.leases)
    return _shuffle(runtime, runtime.distribute(a).squared(), runtime.distribute(b).squared(), dtype)


def _shuffle(runtime, a: DistributedMatrix, b: DistributedMatrix, dtype) -> DistributedMatrix:
    """a %*% b by a shuffle; the product holds the leases of a and b as given (squared, their
    lineage may end in a cache of their own, which the run's operands do not hold)."""
    leases = a.leases + b.leases
    if a.block != b.block:
        b = assemble(whole(b, block=a.block), b.rows, b.cols, a.block, b.dtype, b.rdd.getNumPartitions())
    lefts = a.rdd.map(lambda item: (item[0][1], (item[0][0], item[1])))
    rights = b.rdd.map(lambda item: (item[0][0], (item[0][1], item[1])))
    products = lefts.cogroup(rights).flatMap(_products)
    partitions = max(a.rdd.getNumPartitions(), b.rdd.getNumPartitions())
    summed = products.reduceByKey(np.add, partitions)
    return DistributedMatrix(summed, a.rows, b.cols, a.block, dtype, row_partitioned=False,
                             depth=max(a.depth, b.depth) + 1).holding(leases)


@operation("t", accepts=lambda x, *rest: not rest and is_matrix_operand(x),
           output=lambda x: (x.shape[1], x.shape[0]),
           strategy="blockwise")
def transpose(runtime, x):
    m = runtime.distribute(x).squared()
    return m.derive(m.rdd.map(_transposed), rows=m.cols, cols=m.rows, row_partitioned=False)
