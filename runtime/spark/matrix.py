"""The distributed matrix: an RDD of ((block_row, block_col), numpy block) plus its dimensions.

Rows are cut into blocks of `block` rows everywhere. Columns are cut into blocks of `block`
columns too ("square" layout), except for results of row-local operations (DNN builtins, a
matrix multiply with a broadcast right side), which keep each row block whole as one
full-width panel ("panel" layout, block_col always 0): the next row-local operation then needs
no regrouping. Block (i, j) holds rows [i*block, (i+1)*block) and the columns of its layout.

Every constructor here places all blocks of one row block in the same partition
(`row_partitioned`), so whole-row panels are assembled inside a partition without a shuffle.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..values import MatrixHandle

# Lineage longer than this is cut (cached and materialized): loops that update a distributed
# matrix would otherwise grow an ever longer chain of RDDs that Spark recomputes.
MAX_LINEAGE = 12

# The data a task made by from_numpy carries (Spark warns from 1 MB; the executors' JVM holds
# it while the task deserializes, so large tasks run it out of heap).
TASK_BYTES = 16 * 2**20


def row_key(key) -> int:
    """Partition function keeping a row block's blocks together."""
    return key[0] if isinstance(key, tuple) else key


def block_count(extent: int, block: int) -> int:
    return max(1, -(-extent // block))


@dataclass(frozen=True, eq=False)
class DistributedMatrix(MatrixHandle):
    rdd: object               # pyspark RDD of ((i, j), np.ndarray)
    rows: int
    cols: int
    block: int
    dtype: np.dtype
    panel: bool = False        # one full-width block per row block
    row_partitioned: bool = True
    depth: int = 0             # operations since the last materialization
    leases: tuple = ()         # the Spark resources its lineage needs (runtime/spark/lease.py)
    lineage_cut: bool = False  # checkpointed: its lineage needs nothing but its own cache

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows, self.cols

    @property
    def col_block(self) -> int:
        return max(self.cols, 1) if self.panel else self.block

    @property
    def row_blocks(self) -> int:
        return block_count(self.rows, self.block)

    @property
    def col_blocks(self) -> int:
        return 1 if self.panel else block_count(self.cols, self.block)

    @property
    def nbytes(self) -> int:
        return self.rows * self.cols * np.dtype(self.dtype).itemsize

    @property
    def context(self):
        return self.rdd.context

    def derive(self, rdd, **changes) -> "DistributedMatrix":
        """A matrix computed from this one; cuts the lineage when it grows too long."""
        result = replace(self, rdd=rdd, depth=changes.pop("depth", self.depth + 1),
                         lineage_cut=False, **changes)
        return result.materialized() if result.depth > MAX_LINEAGE else result

    def materialized(self) -> "DistributedMatrix":
        """Computed once and kept by the executors, the lineage cut (by Spark's reliable
        checkpoint when the context has a checkpoint directory, else a local checkpoint): the
        broadcasts and caches of the operations before are no longer needed.

        The checkpoint is taken of a JVM-only copy (a coalesce to the same partitions), not of
        the Python RDD itself: a checkpointed Python RDD still carries its function, and with
        it the broadcasts it read, into every later task, so they could never be destroyed."""
        from pyspark import StorageLevel

        from .lease import Lease

        cut = self.rdd.coalesce(self.rdd.getNumPartitions())
        cut.persist(StorageLevel.MEMORY_AND_DISK)
        if self.context._jsc.sc().getCheckpointDir().isDefined():
            cut.checkpoint()
        else:
            cut.localCheckpoint()
        cut.count()
        return replace(self, rdd=cut, depth=0, leases=(Lease(rdds=(cut,)),), lineage_cut=True)

    def holding(self, leases: tuple) -> "DistributedMatrix":
        """The same matrix, holding these leases too (those its lineage needs)."""
        from .lease import union

        return replace(self, leases=union(self.leases, leases))

    def map_blocks(self, function, dtype=None) -> "DistributedMatrix":
        """Applies a function to every block; it must keep the block's shape."""
        return self.derive(self.rdd.mapValues(function), dtype=np.dtype(dtype or self.dtype))

    def map_partitions_lazily(self, function) -> "DistributedMatrix":
        """The same blocks passed through `function(iterator)` in their partitions: no shuffle,
        no new lineage step counted (it only watches the blocks go by)."""
        return replace(self, rdd=self.rdd.mapPartitions(function, preservesPartitioning=True))

    def to_numpy(self) -> np.ndarray:
        result = np.zeros(self.shape, dtype=self.dtype)
        for (i, j), block in self.rdd.collect():
            r, c = i * self.block, j * self.col_block
            result[r:r + block.shape[0], c:c + block.shape[1]] = block
        return result

    # ---- layouts ---------------------------------------------------------------------------

    def grouped_by_row(self):
        """The RDD with all blocks of a row block in one partition (a shuffle only if needed)."""
        if self.row_partitioned:
            return self.rdd
        return self.rdd.partitionBy(self.rdd.getNumPartitions(), row_key)

    def panels(self):
        """An RDD of (block_row, full-width panel)."""
        if self.panel:
            return self.rdd.map(lambda item: (item[0][0], item[1]), preservesPartitioning=False)
        return self.grouped_by_row().mapPartitions(_assemble_panels)

    def squared(self) -> "DistributedMatrix":
        """The same matrix in the square layout (panels split by column, no shuffle)."""
        if not self.panel or self.cols <= self.block:
            return replace(self, panel=False) if self.panel else self
        size = self.block
        return self.derive(self.rdd.flatMap(lambda item: split_panel(item[0][0], item[1], size)),
                           panel=False)


def is_matrix_operand(value) -> bool:
    """A matrix operand of a distributed operation: local (numpy) or distributed."""
    return isinstance(value, (np.ndarray, DistributedMatrix))


def _assemble_panels(blocks):
    rows: dict[int, dict[int, np.ndarray]] = {}
    for (i, j), block in blocks:
        rows.setdefault(i, {})[j] = block
    for i, parts in rows.items():
        yield i, np.hstack([parts[j] for j in sorted(parts)]) if len(parts) > 1 else parts[next(iter(parts))]


def split_panel(i: int, panel: np.ndarray, size: int):
    for j in range(block_count(panel.shape[1], size)):
        yield (i, j), np.ascontiguousarray(panel[:, j * size:(j + 1) * size])


def _tag(side, value):
    return side, value


def _pair_up(items):
    halves: dict = {}
    for key, (side, value) in items:
        halves.setdefault(key, [None, None])[side] = value
    return iter((key, tuple(pair)) for key, pair in halves.items())


def pair_by_key(left, right, partitions: int):
    """(key, (left value, right value)) for two RDDs keyed alike (by block, or by block row),
    partitioned by block row."""
    from functools import partial

    tagged = left.mapValues(partial(_tag, 0)).union(right.mapValues(partial(_tag, 1)))
    return tagged.partitionBy(partitions, row_key).mapPartitions(_pair_up, preservesPartitioning=True)


def from_panels(panels_rdd, rows: int, cols: int, block: int, dtype, row_partitioned=True,
                depth: int = 0) -> DistributedMatrix:
    """A panel-layout matrix from an RDD of (block_row, panel)."""
    rdd = panels_rdd.map(lambda item: ((item[0], 0), item[1]), preservesPartitioning=True)
    return DistributedMatrix(rdd, rows, cols, block, np.dtype(dtype), panel=True,
                             row_partitioned=row_partitioned, depth=depth)


def from_numpy(sc, array: np.ndarray, block: int, partitions: int | None = None) -> DistributedMatrix:
    """Row-block partitioning of a local matrix: each partition receives whole row panels."""
    rows, cols = array.shape
    count = block_count(rows, block)
    panels = [(i, np.ascontiguousarray(array[i * block:(i + 1) * block])) for i in range(count)]
    # a parallelized partition travels inside its task: keep tasks near TASK_BYTES at most
    wanted = partitions or max(sc.defaultParallelism, -(-array.nbytes // TASK_BYTES))
    slices = min(count, wanted)
    rdd = sc.parallelize(panels, slices).flatMap(lambda item: split_panel(item[0], item[1], block))
    return DistributedMatrix(rdd, rows, cols, block, array.dtype)


def ensure_distributed(sc, value, block: int) -> DistributedMatrix:
    return value if isinstance(value, DistributedMatrix) else from_numpy(sc, value, block)


def collect(value):
    """A distributed matrix as numpy; anything else unchanged."""
    return value.to_numpy() if isinstance(value, DistributedMatrix) else value
