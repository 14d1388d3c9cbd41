"""Leases: the Spark resources a distributed matrix needs, released when nothing needs them.

A lazy distributed result is recomputed from its lineage whenever a job reads it, so the
broadcasts its tasks read must live as long as the result (and every result computed from it)
does; a cached RDD is worth its memory only while a matrix refers to it. Each such resource
belongs to a Lease; matrices hold the leases of their lineage (runtime/spark/runtime.py gives
each operation's result its own and its operands'), and a lease is released when the last
matrix holding it is garbage collected: broadcasts are destroyed (on the executors and their
file on the driver), cached RDDs unpersisted. A matrix whose lineage was cut (a checkpoint)
holds only its own cache. Without this a loop's broadcasts and caches pile up for the whole
run: memory on the executors and one file per broadcast on the driver's disk.
"""
from __future__ import annotations

import weakref


class Lease:
    def __init__(self, broadcasts=(), rdds=()):
        self._finalizer = weakref.finalize(self, _release, tuple(broadcasts), tuple(rdds))
        self._finalizer.atexit = False  # Spark removes its temporary files when it stops

    def release(self) -> None:
        """Releases now (idempotent): for resources only an eager job needed."""
        self._finalizer()

    @property
    def alive(self) -> bool:
        return self._finalizer.alive


def _release(broadcasts, rdds) -> None:
    for broadcast in broadcasts:
        try:
            broadcast.destroy()
        except Exception:  # the context is already stopped: nothing is left to free
            pass
    for rdd in rdds:
        try:
            rdd.unpersist()
        except Exception:
            pass


def union(*groups) -> tuple:
    """The leases of several matrices, each once."""
    seen: dict[int, Lease] = {}
    for group in groups:
        for lease in group:
            seen.setdefault(id(lease), lease)
    return tuple(seen.values())
