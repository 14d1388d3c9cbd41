"""How paramserv splits the training rows among k workers (SystemDS's four schemes).

- DISJOINT_CONTIGUOUS: consecutive blocks of ceil(n/k) rows (the last one shorter). SystemDS
  3.4 drops a last block of exactly one row and then has fewer blocks than workers; here every
  row is kept.
- DISJOINT_ROUND_ROBIN: worker i takes the rows whose 0-based index is i modulo k.
- DISJOINT_RANDOM: one random permutation of the rows, cut into contiguous blocks.
- OVERLAP_RESHUFFLE: every worker gets all rows, each in its own random order (seed + i).
The random schemes draw with numpy from `seed`, so they differ from SystemDS's permutations.
"""
from __future__ import annotations

import math

import numpy as np


def row_blocks(rows: int, k: int) -> list[tuple[int, int]]:
    """The [start, stop) row ranges of the contiguous scheme, at most k of them, none empty."""
    step = max(1, math.ceil(rows / k))
    return [(start, min(start + step, rows)) for start in range(0, rows, step)]


def _contiguous(rows, k, seed):
    return [np.arange(start, stop) for start, stop in row_blocks(rows, k)]


def _round_robin(rows, k, seed):
    return [np.arange(i, rows, k) for i in range(min(k, rows))]


def _random(rows, k, seed):
    order = np.random.default_rng(seed).permutation(rows)
    return [order[start:stop] for start, stop in row_blocks(rows, k)]


def _overlap_reshuffle(rows, k, seed):
    return [np.random.default_rng(None if seed is None else seed + i).permutation(rows)
            for i in range(k)]


SCHEMES = {"DISJOINT_CONTIGUOUS": _contiguous, "DISJOINT_ROUND_ROBIN": _round_robin,
           "DISJOINT_RANDOM": _random, "OVERLAP_RESHUFFLE": _overlap_reshuffle}


def partition_rows(scheme: str, rows: int, k: int, seed: int | None) -> list[np.ndarray]:
    """The row indices (0-based) of each worker's partition."""
    return SCHEMES[scheme](rows, k, seed)


def take_rows(matrix: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """A worker's rows: a view for a contiguous range, else a gathered copy."""
    if len(indices) and indices[-1] - indices[0] + 1 == len(indices) and \
            np.all(np.diff(indices) == 1):
        return matrix[indices[0]:indices[-1] + 1]
    return matrix[indices]
