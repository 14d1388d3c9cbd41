"""Kernels inside a Spark task use the task's cores (spark.task.cpus), not the machine's cores
nor the driver's thread settings: an executor runs as many tasks at once as it has cores, and
each task's threads would otherwise share every core with the other tasks' threads."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_a_task_runs_its_kernels_on_its_own_cores(spark):
    def task_threads(_):     # defined here: shipped by value, not imported from this module
        import os

        from kerasdml.runtime.local.threads import KERNEL_THREADS_VARIABLE, kernel_workers
        os.environ[KERNEL_THREADS_VARIABLE] = "3"     # as a local master's workers inherit it
        try:
            yield kernel_workers()
        finally:
            os.environ.pop(KERNEL_THREADS_VARIABLE)

    tasks = spark.sparkContext.parallelize(range(2), 2)
    assert tasks.mapPartitions(task_threads).collect() == [1, 1]   # spark.task.cpus = 1


def test_the_driver_keeps_its_own_settings(monkeypatch):
    from kerasdml.runtime.local.threads import KERNEL_THREADS_VARIABLE, kernel_workers
    monkeypatch.setenv(KERNEL_THREADS_VARIABLE, "3")
    assert kernel_workers() == 3
