"""Moving rows of several aligned matrices to new global positions, on the executors.

A chunk is (position of its first row, [one array per matrix, same rows]). Its rows are cut into
pieces by the row block of their target position, the pieces meet in the partition of their
row block, and each row block becomes one panel per matrix. The same routing builds matrices
from a DataFrame's chunks (each chunk at its row offset) and shuffles the rows of matrices
already built (every row to its place in a permutation). Only positions travel from the
driver; rows move executor to executor.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from .matrix import DistributedMatrix, block_count, from_panels, row_key


class ScatterError(ValueError):
    """A row block received other rows than the plan said (the source changed between reads)."""


def _contiguous_pieces(block: int, item):
    """(block row, (first row within the block, [arrays])) for a chunk of consecutive rows."""
    start, arrays = item
    count = arrays[0].shape[0]
    for i in range(start // block, (start + count - 1) // block + 1 if count else start // block):
        lo, hi = max(start, i * block), min(start + count, (i + 1) * block)
        yield i, (np.arange(lo - i * block, hi - i * block),
                  [a[lo - start:hi - start] for a in arrays])


def _permuted_pieces(block: int, rows: int, seed: int, item):
    """The rows of panel i moved to their places in the permutation of `seed`."""
    i, arrays = item
    target = _inverse_permutation(rows, seed)[i * block:i * block + arrays[0].shape[0]]
    blocks = target // block
    for b in np.unique(blocks):
        mine = np.flatnonzero(blocks == b)
        yield int(b), (target[mine] - b * block, [a[mine] for a in arrays])


_PERMUTATIONS: dict = {}   # (rows, seed) -> where each row goes, once per executor process


def _inverse_permutation(rows: int, seed: int) -> np.ndarray:
    key = (rows, seed)
    if key not in _PERMUTATIONS:
        order = np.random.default_rng(seed).permutation(rows)   # new row r is old row order[r]
        where = np.empty(rows, dtype=np.int64)
        where[order] = np.arange(rows)
        _PERMUTATIONS.clear()
        _PERMUTATIONS[key] = where
    return _PERMUTATIONS[key]


def _assemble(rows: int, block: int, widths, dtype, pieces):
    """One row block's pieces -> (block row, [panel per matrix]), every row filled once."""
    grouped: dict[int, list] = {}
    for i, piece in pieces:
        grouped.setdefault(i, []).append(piece)
    for i, found in grouped.items():
        height = min(block, rows - i * block)
        panels = [np.empty((height, width), dtype=dtype) for width in widths]
        filled = 0
        for positions, arrays in found:
            for panel, array in zip(panels, arrays):
                panel[positions] = array
            filled += len(positions)
        if filled != height:
            raise ScatterError(f"row block {i} received {filled} rows, expected {height}: the "
                               "source gave other rows on a second read (cache it, or make it "
                               "deterministic)")
        yield i, panels


def scatter(pieces, rows: int, widths: list[int], block: int, dtype, partitions: int) -> list:
    """The matrices the routed pieces make, from one persisted RDD of row blocks."""
    from pyspark import StorageLevel

    from .lease import Lease

    panels = pieces.partitionBy(partitions, row_key).mapPartitions(
        partial(_assemble, rows, block, tuple(widths), np.dtype(dtype)), preservesPartitioning=True)
    panels.persist(StorageLevel.MEMORY_AND_DISK)
    panels.count()
    lease = Lease(rdds=(panels,))
    return [from_panels(panels.mapValues(partial(_pick, k)), rows, width, block, dtype)
            .holding((lease,)) for k, width in enumerate(widths)]


def _pick(k: int, panels: list):
    return panels[k]


def partitions_for(sc, rows: int, block: int) -> int:
    return max(1, min(block_count(rows, block), 4 * sc.defaultParallelism))


def from_chunks(sc, chunks, rows: int, widths: list[int], block: int, dtype) -> list:
    """Matrices from an RDD of (first row, [arrays]) chunks covering rows 0..rows-1."""
    pieces = chunks.flatMap(partial(_contiguous_pieces, block))
    return scatter(pieces, rows, widths, block, dtype, partitions_for(sc, rows, block))


def shuffled_rows(matrices: list[DistributedMatrix], seed: int) -> list[DistributedMatrix]:
    """The matrices with their rows in one random order (the same for all), from `seed`."""
    first = matrices[0]
    rows, block = first.rows, first.block
    panels = first.panels()
    for other in matrices[1:]:
        panels = panels.join(other.panels())
    together = panels.mapValues(_as_list)
    pieces = together.flatMap(partial(_permuted_pieces, block, rows, seed))
    return scatter(pieces, rows, [m.cols for m in matrices], block, first.dtype,
                   partitions_for(first.context, rows, block))


def _as_list(value) -> list:
    """Joined panels arrive nested ((a, b), c); flattened in order."""
    if isinstance(value, tuple):
        return [panel for part in value for panel in _as_list(part)]
    return [value]
