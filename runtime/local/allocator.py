"""How the C allocator treats the runtime's large temporaries (glibc only; elsewhere nothing).

A training step allocates and frees the same activations and gradients, megabytes each, every
step. glibc serves such blocks with mmap and, by default, adapts its thresholds as they are
freed; depending on what the process allocated before (a 60,000-image training set moves the
threshold to its ceiling, a 6,000-image one does not) freed blocks go back to the system and the
next step faults every page in again (a LeNet epoch on full MNIST took a few million page faults,
a fifth of its time). While the runtime runs, blocks up to glibc's ceiling come from the heap
and freed memory stays in it for the next step; after a run long enough that faulting the memory
back in costs under a hundredth of it, the free memory goes back to the system (malloc_trim), so
a notebook does not keep a training run's peak.

Fixing the thresholds turns glibc's adaptation off for the rest of the process, which is what a
process that runs kerasdml wants anyway. KERASDML_MALLOC=default leaves the allocator alone.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import threading
import time

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# glibc refuses an mmap threshold above HEAP_MAX_SIZE / 2: 32 MiB on 64-bit builds
MMAP_THRESHOLD = 32 << 20
# free memory at the top of the heap kept for the next step before glibc gives it back
TRIM_THRESHOLD = 512 << 20
# a run shorter than this keeps its free memory: giving it back would cost the next run more
TRIM_AFTER_SECONDS = 1.0
SETTING_VARIABLE = "KERASDML_MALLOC"

_depth = 0
_lock = threading.Lock()


@functools.cache
def _glibc():
    """glibc's mallopt and malloc_trim, or None where the C library is another one."""
    if os.environ.get(SETTING_VARIABLE, "") == "default":
        return None
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version            # only glibc has it
    except (OSError, TypeError, AttributeError):
        return None
    return libc


@functools.cache
def _keep_freed_memory() -> bool:
    """Fixes the thresholds once per process; False where that is not possible."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


@contextlib.contextmanager
def runtime_memory():
    """The allocator's settings for a run; nested runs share the outermost one's."""
    global _depth
    if not _keep_freed_memory():
        yield
        return
    with _lock:
        _depth += 1
    started = time.perf_counter()
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            outermost = _depth == 0
        if outermost and time.perf_counter() - started >= TRIM_AFTER_SECONDS:
            _glibc().malloc_trim(0)
