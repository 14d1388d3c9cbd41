"""Distinct values: unique, countDistinct, rowCountDistinct, colCountDistinct.

unique(X) lists X's distinct cell values as a column, in the order SystemDS' Java HashSet holds
them: by hash bucket (the double's bits folded to 32 bits and spread, modulo the table size,
which starts at 16 and doubles past a load of 0.75), values of one bucket in order of first
appearance (row by row). So {1, 2, 3, 4} comes out as 1, 2, 4, 3.
"""
from __future__ import annotations

import struct

import numpy as np

from ..values import require_matrix
from .registry import builtin

_INITIAL_CAPACITY = 16
_LOAD_FACTOR = 0.75


def _java_bucket(value: float, capacity: int) -> int:
    bits = struct.unpack(">Q", struct.pack(">d", value))[0]
    hashed = (bits ^ (bits >> 32)) & 0xFFFFFFFF
    return (hashed ^ (hashed >> 16)) & (capacity - 1)


def _hash_set_order(values: list[float]) -> list[float]:
    distinct = list(dict.fromkeys(values))
    capacity = _INITIAL_CAPACITY
    while len(distinct) > capacity * _LOAD_FACTOR:
        capacity *= 2
    return sorted(distinct, key=lambda v: _java_bucket(v, capacity))  # stable within a bucket


@builtin("unique")
def unique(target):
    x = require_matrix(target, "the argument of unique")
    ordered = _hash_set_order(x.ravel().tolist())
    return np.array(ordered, dtype=x.dtype if x.dtype.kind == "f" else np.float64).reshape(-1, 1)


@builtin("countDistinct")
def count_distinct(target):
    """How many different values the matrix holds (an int)."""
    return int(np.unique(require_matrix(target, "the argument of countDistinct")).size)


def _distinct_per(x: np.ndarray, axis: int) -> np.ndarray:
    lines = x if axis == 1 else x.T
    counts = [np.unique(line).size for line in lines]
    shape = (-1, 1) if axis == 1 else (1, -1)
    return np.array(counts, dtype=x.dtype if x.dtype.kind == "f" else np.float64).reshape(shape)


@builtin("rowCountDistinct")
def row_count_distinct(target):
    return _distinct_per(require_matrix(target, "the argument of rowCountDistinct"), 1)


@builtin("colCountDistinct")
def col_count_distinct(target):
    return _distinct_per(require_matrix(target, "the argument of colCountDistinct"), 0)
