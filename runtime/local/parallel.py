"""Runs a kernel's independent chunks (ranges of images) on a pool of worker threads.

numpy releases the GIL inside copies, ufunc loops and BLAS calls, so chunks of one kernel call
run truly in parallel. This uses all cores for the copies and elementwise passes around the
matrix products too (which BLAS threads alone leave to one core), and balances the load
chunk by chunk: on a busy machine a worker that loses its core delays one chunk, not every
matrix product, as a BLAS library's static split of each product does.

Results come back in chunk order, so a kernel that sums per-chunk parts sums them in the same
order with any number of workers: results do not depend on the thread count. threads.py decides
the number of workers (KERASDML_KERNEL_THREADS; 1 runs every chunk in the calling thread).
"""
from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

from .threads import kernel_workers

T = TypeVar("T")

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_inside = threading.local()        # set in worker threads: their nested calls run inline


def workers() -> int:
    return kernel_workers()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(workers(), thread_name_prefix="kerasdml-kernel",
                                       initializer=_mark_worker)
        return _pool


def _mark_worker() -> None:
    _inside.active = True


def run_chunks(function: Callable[[int, int], T], ranges: Iterable[tuple[int, int]]) -> list[T]:
    """[function(first, last) for each range], shared between this thread and the workers.

    The calling thread works too: it and up to workers()-1 helpers take the next range until
    none is left, so one call costs one hand-off per helper, not one per range (a hand-off costs
    about as much as a small matrix product)."""
    ranges = list(ranges)
    helpers = min(workers(), len(ranges)) - 1
    if helpers < 1 or getattr(_inside, "active", False):
        return [function(first, last) for first, last in ranges]
    results: list = [None] * len(ranges)
    tickets = itertools.count()                  # next() on it is atomic under the GIL

    def drain() -> None:
        for index in iter(tickets.__next__, None):
            if index >= len(ranges):
                return
            results[index] = function(*ranges[index])
    pool = _executor()
    futures = [pool.submit(drain) for _ in range(helpers)]
    try:
        drain()
    finally:
        for future in futures:                   # wait for all, then raise what failed
            future.exception()
    for future in futures:
        future.result()
    return results


def split(count: int, pieces: int) -> list[tuple[int, int]]:
    """0..count cut into `pieces` contiguous ranges of nearly equal size (none empty)."""
    pieces = max(1, min(pieces, count))
    edges = [count * k // pieces for k in range(pieces + 1)]
    return [(edges[k], edges[k + 1]) for k in range(pieces)]
