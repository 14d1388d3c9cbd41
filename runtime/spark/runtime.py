"""What the planner talks to when an operation runs on Spark: the Spark context, the block size,
the broadcast limit, conversions, and Spark failures turned into DML errors."""
from __future__ import annotations

import contextlib
import re
from functools import partial

import numpy as np

from ..errors import DMLError, DMLRuntimeError, SourcePosition
from .lease import Lease, union
from .matrix import DistributedMatrix, collect, ensure_distributed, from_numpy

# Chosen by bench/bench_spark.py's block size sweep (4000x4000 shuffle multiply, local[2]; its
# output has the figures): 1000 was the fastest, and is SystemDS's default too.
DEFAULT_BLOCK = 1000

# A DML error raised in a task, as its text reaches the driver inside the Spark failure:
# "DMLRuntimeError: [file:line:col: ]runtime error: message".
_TASK_ERROR = re.compile(r"(?:DMLRuntimeError|DMLStopError): (?:(.+?):(\d+):(\d+): )?runtime error: (.*)")


class SparkRuntime:
    def __init__(self, sc, block: int = DEFAULT_BLOCK, broadcast_limit: int = 256 * 2**20,
                 precision: str = "double", memory_budget: int | None = None,
                 fail_first_attempt: bool = False, parfor_bytes: int | None = None):
        if block < 1:
            raise DMLRuntimeError(f"the block size must be positive, got {block}")
        self.sc, self.block, self.broadcast_limit = sc, block, broadcast_limit
        self.precision = precision
        self.memory_budget = memory_budget  # None: from the Spark conf (see session.make_planner)
        self.parfor_bytes = parfor_bytes    # likewise
        # fault injection for tests: the first attempt of partition 0 of elementwise tasks fails
        self.fail_first_attempt = fail_first_attempt
        self._created: list | None = None  # broadcasts made by the operation now running
        # what collects brought to the driver: tests and --stats read it (a training set
        # larger than the memory budget must never show up here)
        self.collected = CollectCount()
        # paramserv's workers (runtime/paramserv/worker_pool.py): kept from one call to the next
        # inside kept_paramserv_workers(), let go at each call's end otherwise
        self.keeps_paramserv_workers = False
        self.paramserv_pool = None

    @contextlib.contextmanager
    def kept_paramserv_workers(self, workers: int | None = None):
        """paramserv calls made meanwhile (an estimator's epochs) reuse one pool of Spark
        workers; they hold their task slots until the next call (IDLE_SECONDS at most) and go
        when this ends (their job ending in the background: a Spark job started right after
        waits for their slots a moment, a local run nothing). With `workers`, that many start
        now for a call on the driver's numpy data (paramserv.remote.start_workers)."""
        self.keeps_paramserv_workers = True
        try:
            if workers is not None:
                from ..paramserv.remote import start_workers

                start_workers(self, workers)
            yield self
        finally:
            self.keeps_paramserv_workers = False
            self.release_paramserv_workers(wait=False)

    def release_paramserv_workers(self, wait: bool = True) -> None:
        """Lets kept paramserv workers go now (before other Spark jobs that need their slots);
        without `wait`, their job ends in the background."""
        pool, self.paramserv_pool = self.paramserv_pool, None
        if pool is not None:
            pool.close(wait)

    def blockwise(self, function):
        """A block function as shipped to tasks (with the test fault when asked for)."""
        return partial(_failing_first_attempt, function) if self.fail_first_attempt else function

    def operations(self) -> dict:
        from .operations import load

        return load()

    # ---- values ----------------------------------------------------------------------------

    def distribute(self, value) -> DistributedMatrix:
        return ensure_distributed(self.sc, value, self.block)

    def from_numpy(self, array: np.ndarray) -> DistributedMatrix:
        return from_numpy(self.sc, array, self.block)

    def collect(self, value):
        if isinstance(value, DistributedMatrix):
            self.collected.add(value.nbytes)
        return self.guarded(collect, value)

    def local(self, value):
        """A matrix operand needed whole on every executor (a broadcast side)."""
        return self.collect(value)

    def broadcast(self, value):
        """A matrix for the tasks of the running operation; it lives as long as the operation's
        result needs it (see run and runtime/spark/lease.py)."""
        shared = self.sc.broadcast(np.ascontiguousarray(self.local(value)))
        if self._created is not None:
            self._created.append(shared)
        return shared

    def fits_broadcast(self, value) -> bool:
        rows, cols = value.shape
        return rows * cols * 8 <= self.broadcast_limit

    # ---- running ---------------------------------------------------------------------------

    def run(self, operation, decision, args, kwargs, position: SourcePosition | None = None):
        """Runs a distributed operation. Its result is lazy: it holds the broadcasts made for
        it and the leases of its distributed operands (its lineage reads them when a job
        runs), and a task that fails later, when a statement further on collects it, reports
        the statement that made it (`position`). A local result needed them only for the
        jobs that already ran: they are released at once. An operation with several outputs
        (a dml_lib function's kernel) returns a list; each lazy output holds them."""
        created, self._created = [], []
        try:
            result = self.guarded(operation.run, self, *args, **kwargs)
        finally:
            created, self._created = self._created, None
        lease = Lease(broadcasts=created)
        results = result if isinstance(result, list) else [result]
        if not any(_is_lazy(value) for value in results):
            lease.release()
            return result
        operands = [v for v in list(args) + list(kwargs.values()) if isinstance(v, DistributedMatrix)]
        leases = union(*(m.leases for m in operands), (lease,))
        held = [_holding(value, leases, position) if _is_lazy(value) else value for value in results]
        return held if isinstance(result, list) else held[0]

    def guarded(self, function, *args, **kwargs):
        """Calls a function that may run Spark jobs; a failed job becomes one DML error."""
        try:
            return function(*args, **kwargs)
        except DMLError:
            raise
        except Exception as err:  # py4j and pyspark errors carry the executor's traceback as text
            message, position = spark_failure(err)
            raise DMLRuntimeError(message, position) from None

    def parfor(self, interpreter, node, module, iteration_values, merging, planner):
        from .parfor import remote_parfor

        return remote_parfor(self, interpreter, node, module, iteration_values, merging, planner)

    def paramserv(self, context, config, model, features, labels, functions, validate, record):
        """paramserv's workers as Spark tasks (runtime/paramserv/remote.py)."""
        from ..paramserv.remote import run_remote

        return run_remote(self, context, config, model, features, labels, functions, validate, record)


def _is_lazy(value) -> bool:
    return isinstance(value, DistributedMatrix) and not value.lineage_cut


def _holding(result: DistributedMatrix, leases: tuple, position) -> DistributedMatrix:
    result = result.holding(leases)
    if position is not None:
        result = result.map_partitions_lazily(partial(_failures_located, position))
    return result


class CollectCount:
    """Distributed matrices collected to the driver: how many, their bytes, the largest."""

    def __init__(self):
        self.count = self.bytes = self.largest = 0

    def add(self, nbytes: int) -> None:
        self.count += 1
        self.bytes += nbytes
        self.largest = max(self.largest, nbytes)


def _failing_first_attempt(function, block):
    from pyspark import TaskContext

    task = TaskContext.get()
    if task is not None and task.partitionId() == 0 and task.attemptNumber() == 0:
        raise RuntimeError("injected failure of a task's first attempt "
                           "(spark.kerasdml.test.failFirstAttempt)")
    return function(block)


def _failures_located(origin: SourcePosition, blocks):
    """Executor side, around the blocks of one operation's result: a failure computing them is
    reported at the statement of that operation. Failures of earlier operations arrive already
    located (their own wrapper, further up the pipeline, caught them first)."""
    try:
        yield from blocks
    except DMLRuntimeError as err:
        if err.position is not None:
            raise
        raise DMLRuntimeError(err.message, origin) from None
    except Exception as err:
        raise DMLRuntimeError(f"a Spark job failed: {type(err).__name__}: {err}", origin) from None


def spark_failure(err: Exception) -> tuple[str, SourcePosition | None]:
    """The message (and DML position, when a task knew it) of a failed Spark job: the DML error
    raised in a task if there was one."""
    text = str(err)
    found = _TASK_ERROR.findall(text)
    if found:
        file, line, column, message = found[-1]
        position = SourcePosition(file, int(line), int(column)) if file else None
        return message.strip(), position
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    python = [line for line in lines if re.match(r"[A-Za-z_.]+(Error|Exception): ", line)]
    detail = python[-1] if python else (lines[0] if lines else type(err).__name__)
    return f"a Spark job failed: {detail[:500]}", None
