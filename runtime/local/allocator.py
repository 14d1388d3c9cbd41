"""How the C allocator treats the runtime's large temporaries (glibc only; elsewhere nothing).

A training step allocates and frees the same activations and gradients, megabytes each, every
step. glibc serves such blocks with mmap and, by default, adapts its thresholds as they are
freed; depending on what the process allocated before (a 60,000-image training set moves the
threshold to its ceiling, a 6,000-image one does not) freed blocks go back to the system and the
next step faults every page in again (a LeNet epoch on full MNIST took a few million page faults,
a fifth of its time). While the runtime runs, blocks up to glibc's ceiling come from the heap
and freed memory stays in it for the next step. The free memory goes back to the system
(malloc_trim) once no run has started for IDLE_SECONDS, so a notebook does not keep a training
run's peak, while the runs that follow each other (an estimator's epochs, a paramserv worker's
tasks in one Python worker, a loop of predictions) keep theirs: faulting it in again is not
cheap where numpy asks for huge pages, each zeroed when first touched (a paramserv worker's
first two LeNet steps took twice their time after every trim).

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
# the free memory goes back to the system once no run has started for this long
IDLE_SECONDS = 10.0
SETTING_VARIABLE = "KERASDML_MALLOC"

_depth = 0                 # runs in progress
_last_end: float | None = None   # when the last run ended, while its memory is kept
_idle = threading.Condition()
_trimmer: threading.Thread | None = None


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
    global _depth, _last_end
    if not _keep_freed_memory():
        yield
        return
    with _idle:
        _depth += 1
    try:
        yield
    finally:
        with _idle:
            _depth -= 1
            if _depth == 0:
                _last_end = time.monotonic()
                _start_trimmer()
                _idle.notify()


def _start_trimmer() -> None:
    """The thread that trims once the process is idle; one per process (called under _idle)."""
    global _trimmer
    if _trimmer is None:
        _trimmer = threading.Thread(target=_trim_when_idle, name="kerasdml-malloc-trim", daemon=True)
        _trimmer.start()


def _trim_when_idle() -> None:
    global _last_end
    while True:
        with _idle:
            while _depth or _last_end is None or time.monotonic() < _last_end + IDLE_SECONDS:
                wait = None if _depth or _last_end is None else _last_end + IDLE_SECONDS - time.monotonic()
                _idle.wait(wait)
            _last_end = None
        _glibc().malloc_trim(0)


def _forget_trimmer() -> None:
    """A forked child (Spark's Python workers are forks of one daemon) has no trimmer thread,
    and its lock is not held by a thread it does not have."""
    global _trimmer, _idle
    _trimmer, _idle = None, threading.Condition()


os.register_at_fork(after_in_child=_forget_trimmer)
