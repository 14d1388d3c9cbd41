"""Moving cells between block grids: the shuffle behind right and left indexing, cbind and rbind.

A block of a source matrix is cut into pieces along the block boundaries of the output grid,
each piece keyed by the output block it lands in and carrying its offset there; pieces are then
grouped by output block (partitioned by block row) and laid into fresh blocks.
"""
from __future__ import annotations

import numpy as np

from .matrix import DistributedMatrix, block_count, row_key


def _cuts(start: int, stop: int, block: int):
    """(output block, offset in it, first, last) for the output range [start, stop)."""
    position = start
    while position < stop:
        index, offset = divmod(position, block)
        end = min(stop, (index + 1) * block)
        yield index, offset, position - start, end - start
        position = end


def shifted_pieces(source: DistributedMatrix, rows: tuple[int, int], cols: tuple[int, int],
                   to: tuple[int, int], block: int, priority: int = 0):
    """Pieces of source[rows, cols] (0-based, half open) placed at output offset `to`; where
    pieces overlap, the higher priority is laid last (left indexing overwrites its target)."""
    (r0, r1), (c0, c1) = rows, cols
    row_size, col_size = source.block, source.col_block
    dr, dc = to

    def cut(item):
        (i, j), data = item
        top, left = i * row_size, j * col_size
        lo_r, hi_r = max(r0, top), min(r1, top + data.shape[0])
        lo_c, hi_c = max(c0, left), min(c1, left + data.shape[1])
        if lo_r >= hi_r or lo_c >= hi_c:
            return
        part = data[lo_r - top:hi_r - top, lo_c - left:hi_c - left]
        out_r, out_c = lo_r - r0 + dr, lo_c - c0 + dc
        for bi, ro, a, b in _cuts(out_r, out_r + part.shape[0], block):
            for bj, co, c, d in _cuts(out_c, out_c + part.shape[1], block):
                yield (bi, bj), (priority, ro, co, part[a:b, c:d])
    return source.rdd.flatMap(cut)


def assemble(pieces, rows: int, cols: int, block: int, dtype, partitions: int,
             depth: int = 0) -> DistributedMatrix:
    """The matrix whose blocks are made of the given pieces (cells not covered are zero)."""
    dtype = np.dtype(dtype)

    def lay(items):
        blocks: dict = {}
        for key, (_, ro, co, part) in sorted(items, key=lambda item: item[1][0]):
            target = blocks.get(key)
            if target is None:
                i, j = key
                shape = (min(block, rows - i * block), min(block, cols - j * block))
                target = blocks[key] = np.zeros(shape, dtype=dtype)
            target[ro:ro + part.shape[0], co:co + part.shape[1]] = part
        return iter(blocks.items())
    rdd = pieces.partitionBy(partitions, row_key).mapPartitions(lay, preservesPartitioning=True)
    return DistributedMatrix(rdd, rows, cols, block, dtype, depth=depth)


def whole(source: DistributedMatrix, to=(0, 0), block: int | None = None, priority: int = 0):
    """Pieces of all of `source` placed at offset `to`."""
    return shifted_pieces(source, (0, source.rows), (0, source.cols), to, block or source.block,
                          priority)


def partitions_for(*matrices: DistributedMatrix) -> int:
    return max(m.rdd.getNumPartitions() for m in matrices)


def grid(rows: int, cols: int, block: int):
    return [(i, j) for i in range(block_count(rows, block)) for j in range(block_count(cols, block))]
