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
the console script calls configure_threads() before anything imports numpy. From Python, where
numpy (and TensorFlow) are usually imported first, the runtime applies the same layout itself
while it runs (runtime_threads(), with threadpoolctl) and gives the caller back its BLAS threads
afterwards. The count of cores honours the affinity mask and a cgroup v2 CPU quota (a container
limited to 2 CPUs of a 64-CPU host shows 64). This module imports nothing heavy, so it is safe to
import first.
"""
from __future__ import annotations

import contextlib
import functools
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
    quota = _cgroup_quota_cores()
    return max(1, cores if quota is None else min(cores, quota))


@functools.cache
def _cgroup_quota_cores() -> int | None:
    """The cores a cgroup v2 CPU quota allows, None without one: read once per process, as
    every kernel call asks for the worker count and a container's quota does not change."""
    try:
        quota, period = _CGROUP_CPU_MAX.read_text().split()[:2]
        if quota != "max":
            return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return None


def _blas_from_environment() -> int | None:
    """The BLAS thread count the user set in the environment, if any."""
    for name in BLAS_THREAD_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


_requested_blas: int | None = None  # configure_threads(blas=...) once numpy was loaded


def blas_threads() -> int:
    """BLAS threads while the runtime runs: as configured, else one (the kernel workers do the
    parallel work)."""
    if _requested_blas is not None:
        return _requested_blas
    return _blas_from_environment() or 1


def spark_task_cores() -> int | None:
    """The cores Spark gave the task running in this process (spark.task.cpus), None outside
    a Spark task. An executor runs as many tasks at once as it has cores for: a task that used
    every core of the machine, or the driver's thread count (which a local master's workers
    inherit with its environment), would share each core with the other tasks' threads."""
    if "pyspark" not in sys.modules:
        return None
    from pyspark import TaskContext
    task = TaskContext.get()
    return None if task is None else max(1, task.cpus())


def kernel_workers() -> int:
    """Worker threads for the kernels: the task's cores inside a Spark task; else as
    configured, else one per core when BLAS runs one thread, else 1 (BLAS's threads do the
    parallel work)."""
    task_cores = spark_task_cores()
    if task_cores is not None:
        return task_cores
    configured = os.environ.get(KERNEL_THREADS_VARIABLE, "")
    if configured.isdigit():
        return max(1, int(configured))
    return available_cores() if blas_threads() == 1 else 1


def configure_threads(blas: int | None = None, kernels: int | None = None) -> dict[str, str]:
    """Sets the thread variables the user has not set: by default one BLAS thread and one kernel
    worker per core; given a BLAS thread count above 1, one kernel worker. Returns the values in
    effect. Once numpy is loaded, BLAS no longer reads the variables: the runtime then applies
    the BLAS count while it runs (runtime_threads)."""
    global _requested_blas
    if blas is None:
        blas = _blas_from_environment() or 1
    if kernels is None:
        kernels = available_cores() if blas == 1 else 1
    if "numpy" in sys.modules:
        _requested_blas = blas
    else:
        for name in BLAS_THREAD_VARIABLES:
            os.environ.setdefault(name, str(blas))
    os.environ.setdefault(KERNEL_THREADS_VARIABLE, str(kernels))
    values = {name: os.environ.get(name, str(blas)) for name in BLAS_THREAD_VARIABLES}
    return {**values, KERNEL_THREADS_VARIABLE: os.environ[KERNEL_THREADS_VARIABLE]}


@functools.cache
def _controller():
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController()  # finds the BLAS libraries loaded so far (numpy's)


@contextlib.contextmanager
def runtime_threads():
    """The runtime's thread layout for the duration of a run: BLAS limited to blas_threads()
    (one by default, whatever numpy was loaded with), the caller's BLAS threads restored after.
    Nested runs keep the layout."""
    with _controller().limit(limits=blas_threads(), user_api="blas"):
        yield
