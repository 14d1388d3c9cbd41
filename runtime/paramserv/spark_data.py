"""The workers' partitions of a distributed matrix, built and kept on the executors.

Each row panel of features and labels is cut, where it lives, into the pieces that go to each
worker (by the partition scheme, runtime/paramserv/partition.py, which every executor
recomputes from the scheme, the row count, k and the seed: no row index list travels), the
pieces are shuffled to one Spark partition per worker and assembled there in the worker's row
order, and the result is persisted: worker w's task reads partition w from the executors'
cache. The driver handles only row counts.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from .partition import partition_rows

_ROUTES: dict = {}   # Plan -> (worker of each row, position in it), per executor process


@dataclass(frozen=True)
class Plan:
    scheme: str
    rows: int
    k: int
    seed: int | None

    def parts(self) -> list[np.ndarray]:
        return partition_rows(self.scheme, self.rows, self.k, self.seed)

    def sizes(self) -> list[int]:
        return [len(p) for p in self.parts()]

    def routes(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """For every worker: the position in its partition of each global row (-1: not its)."""
        found = _ROUTES.get(self)
        if found is None:
            found = []
            for rows in self.parts():
                position = np.full(self.rows, -1, dtype=np.int64)
                position[rows] = np.arange(len(rows))
                found.append(position)
            _ROUTES.clear()                     # one run's routes at a time
            _ROUTES[self] = found
        return found


def _route(plan: Plan, block: int, side: int, item):
    """A panel's rows, cut into (worker, (side, positions, rows)) pieces."""
    index, panel = item
    first = index * block
    for worker, position in enumerate(plan.routes()):
        where = position[first:first + panel.shape[0]]
        mine = np.flatnonzero(where >= 0)
        if len(mine):
            yield worker, (side, where[mine], np.ascontiguousarray(panel[mine]))


def _assemble(plan: Plan, widths: tuple[int, int], dtypes: tuple, worker: int, pieces):
    size = plan.sizes()[worker]
    sides = [np.empty((size, widths[s]), dtype=dtypes[s]) for s in (0, 1)]
    for _, (side, positions, rows) in pieces:
        sides[side][positions] = rows
    yield worker, sides[0], sides[1]


def worker_partitions(features, labels, plan: Plan):
    """A persisted RDD with one element per partition: (worker, its features, its labels)."""
    workers = len(plan.sizes())
    pieces = features.panels().flatMap(partial(_route, plan, features.block, 0)).union(
        labels.panels().flatMap(partial(_route, plan, labels.block, 1)))
    widths = (features.cols, labels.cols)
    dtypes = (np.dtype(features.dtype), np.dtype(labels.dtype))
    return _persisted(pieces.partitionBy(workers, _identity).mapPartitionsWithIndex(
        partial(_assemble, plan, widths, dtypes), preservesPartitioning=True))


def _persisted(data):
    from pyspark import StorageLevel

    data.persist(StorageLevel.MEMORY_AND_DISK)
    data.count()
    return data


def _identity(worker: int) -> int:
    return worker
