"""paramserv with mode="LOCAL": k workers as threads of this process, each on its partition.

The native kernels and numpy release the GIL, so workers overlap on several cores; a BSP round
runs every worker's segment on a thread pool and waits for all of them.
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from ..lists import DMLList
from .config import PSConfig
from .partition import partition_rows, take_rows
from .server import AsyncServer, run_bsp
from .worker import PSFunctions, Worker


def _in_errstate(function):
    """numpy's error state is per thread: workers ignore floating-point warnings as DML does."""
    def run(*args):
        with np.errstate(all="ignore"):
            return function(*args)
    return run


def make_workers(config: PSConfig, k: int, features, labels, functions: PSFunctions) -> list[Worker]:
    parts = partition_rows(config.scheme, features.shape[0], k, config.seed)
    return [Worker(i, take_rows(features, rows), take_rows(labels, rows), functions,
                   config.batchsize, config.freq, config.nbatches, config.model_avg)
            for i, rows in enumerate(parts)]


class InlinePool:
    """Runs each job in the calling thread: the workers of a run whose matrix operations go
    through a Spark planner, which serves one thread at a time."""
    def submit(self, function, *args):
        future = Future()
        future.set_result(function(*args))
        return future

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def run_local(config: PSConfig, k: int, model: DMLList, features, labels, functions: PSFunctions,
              validate, threads: bool = True) -> DMLList:
    workers = make_workers(config, k, features, labels, functions)
    pool_of = (lambda: ThreadPoolExecutor(len(workers), thread_name_prefix="kerasdml-psworker")) \
        if threads else InlinePool
    with pool_of() as pool:
        if config.utype == "BSP":
            def run_round(current, active):
                jobs = [pool.submit(_in_errstate(workers[w].run_segment), current,
                                    workers[w].segments[s]) for w, s in active]
                return [job.result() for job in jobs]
            return run_bsp(model, [len(w.segments) for w in workers], config.epochs, run_round,
                           functions, config.model_avg, validate)
        server = AsyncServer(model, functions, sum(len(w.segments) for w in workers), validate)

        def run_worker(worker: Worker):
            for _ in range(config.epochs):
                for segment in worker.segments:
                    server.push(worker.run_segment(server.pull(), segment))
        for job in [pool.submit(_in_errstate(run_worker), w) for w in workers]:
            job.result()
        return server.model
