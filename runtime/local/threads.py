"""Which threads do the numeric work: BLAS's own, or the kernel worker pool (parallel.py).

Two levels of threads on the same cores fight each other, so a run uses one of them:
- kernel workers (what the command line and the benchmarks configure): BLAS runs one thread
  per call, and the DNN kernels and matrix products (local/matmul.py) cut their work into
  chunks that a pool of one worker per core picks up. The copies and elementwise passes around
  the products run in parallel too, and a busy machine costs little: a worker that loses its
  core delays one chunk. A BLAS library instead splits every product evenly across its threads
  and waits for the slowest, which on a shared machine is several times slower per LeNet
  training step than one BLAS thread per call (bench/run.py lenet measures it).
- BLAS threads (numpy's behaviour when nothing is configured): the kernels then run their
  chunks in the calling thread.

OpenBLAS and MKL read their thread count from the environment once, when numpy loads them, so
entry points call configure_threads() before anything imports numpy. The count of cores honours
the affinity mask and a cgroup v2 CPU quota (a container limited to 2 CPUs of a 64-CPU host
shows 64). This module imports nothing heavy, so it is safe to import first.
"""
from __future__ import annotations

import math
import os
import sys
from pathlib import Path

# The variables numpy's BLAS builds honour: OpenBLAS (pthreads or OpenMP builds) and MKL.
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
KERNEL_THREADS_VARIABLE = "KERASDML_KERNEL_THREADS"
_CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def available_cores() -> int:
    """CPUs this process may run on: its affinity mask, capped by a cgroup v2 CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:                      # not on Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = _CGROUP_CPU_MAX.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def kernel_workers() -> int:
    """Worker threads for the kernels: as configured, else one per core when BLAS was told to
    run single-threaded, else 1 (BLAS's threads do the parallel work)."""
    configured = os.environ.get(KERNEL_THREADS_VARIABLE, "")
    if configured.isdigit():
        return max(1, int(configured))
    return available_cores() if os.environ.get("OPENBLAS_NUM_THREADS") == "1" else 1


def configure_threads(blas: int | None = None, kernels: int | None = None) -> dict[str, str]:
    """Sets the thread variables the user has not set: by default one BLAS thread and one kernel
    worker per core; given a BLAS thread count above 1, one kernel worker. Returns the values in
    effect. Refuses to run once numpy is loaded, when BLAS would no longer read them."""
    if "numpy" in sys.modules:
        raise RuntimeError("configure_threads() must run before numpy is imported: the BLAS "
                           "library reads its thread count when numpy loads it")
    if blas is None:
        blas = 1
    if kernels is None:
        kernels = available_cores() if blas == 1 else 1
    for name in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(name, str(blas))
    os.environ.setdefault(KERNEL_THREADS_VARIABLE, str(kernels))
    return {name: os.environ[name] for name in (*BLAS_THREAD_VARIABLES, KERNEL_THREADS_VARIABLE)}
