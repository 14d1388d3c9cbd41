"""The table of distributed operations with every operation module loaded (each registers its
operations in `registry` when imported). Importing it needs numpy only: pyspark is imported when
Spark starts."""
from __future__ import annotations

from . import aggregates, dnn, elementwise, indexing, io, matmul  # noqa: F401  (registers them)
from .registry import OPERATIONS, Operation


def load() -> dict[str, Operation]:
    return OPERATIONS
