"""Workers' rows served from the driver: features and labels that are numpy arrays on the
driver anyway go to each worker task over the parameter server's authenticated channel, at
the task's start.

They would otherwise be pickled into the JVM, parallelized as one partition per worker,
persisted and counted by a Spark job of their own, and read back from the cache by the
workers' job: several copies and a job per paramserv call (the estimator calls paramserv once
per epoch). Over the channel a share is one message whose arrays travel out of band, and the
task that asks for it keeps it for its life; a retried task asks again. Data that is
distributed already (a DataFrame's rows) stays on the executors (spark_data.py).
"""
from __future__ import annotations

import numpy as np

from .partition import take_rows
from .spark_data import Plan


class DriverShares:
    def __init__(self, features: np.ndarray, labels: np.ndarray, plan: Plan):
        self.features, self.labels = features, labels
        self.parts = plan.parts()

    @property
    def workers(self) -> int:
        return len(self.parts)

    def share(self, worker: int) -> tuple[np.ndarray, np.ndarray]:
        """Worker `worker`'s features and labels in its row order (views where its rows are one
        contiguous range)."""
        rows = self.parts[worker]
        return (np.ascontiguousarray(take_rows(self.features, rows)),
                np.ascontiguousarray(take_rows(self.labels, rows)))


def serves_from_driver(features, labels) -> bool:
    """numpy features and labels: the driver holds them, it serves the workers' rows itself."""
    return isinstance(features, np.ndarray) and isinstance(labels, np.ndarray)


def driver_tasks(sc, workers: int):
    """The job input of workers served from the driver: one partition per worker holding only
    its index."""
    return sc.parallelize(range(workers), workers)
