"""Scratch arrays reused from one kernel call to the next.

A training loop calls the same kernels with the same shapes at every step. Their temporaries
(im2col patches, a few MB per chunk) would otherwise be fresh allocations each time: large
blocks the allocator maps from the OS, which the first write then faults in page by page.
Each thread keeps its own buffers (kernels may run in worker threads), one per purpose and
dtype, grown when a larger one is asked for. Only temporaries that never leave a kernel may
come from here: the next call with the same purpose overwrites them.
"""
from __future__ import annotations

import math
import threading

import numpy as np

_local = threading.local()


def scratch(purpose: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """An uninitialised C-contiguous array of `shape`, owned by this thread's `purpose` slot."""
    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
    size = math.prod(shape)
    key = (purpose, np.dtype(dtype))
    buffer = buffers.get(key)
    if buffer is None or buffer.size < size:
        buffer = buffers[key] = np.empty(size, dtype=dtype)
    return buffer[:size].reshape(shape)


def release() -> None:
    """Drops this thread's scratch arrays (their memory goes back to the allocator)."""
    _local.buffers = {}
