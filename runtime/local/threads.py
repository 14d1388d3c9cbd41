"""How many threads the BLAS library behind numpy should run, set before numpy is imported.

OpenBLAS (numpy's wheels) and MKL read their thread count from the environment once, when
they are loaded, so entry points (the bench runner, a command line) call configure_blas_threads()
before anything imports numpy. OpenBLAS itself would start one thread per CPU the machine shows,
but a container limited by a cgroup CPU quota shows the host's CPUs: more threads than cores
then fight over the quota, and every matrix product waits for its slowest thread. This module
imports nothing heavy, so it is safe to import first.
"""
from __future__ import annotations

import math
import os
import sys
from pathlib import Path

# The variables numpy's BLAS builds honour: OpenBLAS (pthreads or OpenMP builds) and MKL.
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
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


def configure_blas_threads(threads: int | None = None) -> dict[str, str]:
    """Sets the BLAS thread variables that the user has not set to `threads` (default: the
    available cores) and returns the values in effect. It cannot take effect once numpy is
    loaded, so it refuses to run then rather than pretend."""
    if "numpy" in sys.modules:
        raise RuntimeError("configure_blas_threads() must run before numpy is imported: the BLAS "
                           "library reads its thread count when numpy loads it")
    count = str(threads or available_cores())
    for name in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(name, count)
    return {name: os.environ[name] for name in BLAS_THREAD_VARIABLES}
