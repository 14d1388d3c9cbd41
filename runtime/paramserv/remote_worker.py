"""A REMOTE_SPARK worker: one long-running Spark task per worker, on the executor that caches
its partition.

The task connects to the parameter server on the driver over the authenticated channel, reads
its (features, labels) partition from the executors' cache (or, for numpy data on the driver,
asks the server for it: driver_shares.py), compiles the `upd` and `agg` functions with the
local interpreter (once per Python worker process: keyed by the program's digest, so a retried
task on the same process does not compile again; the functions' text comes from the server
only where the process has not compiled them) and then, step after step, runs a segment of
batches (runtime/paramserv/worker.py) on the model it got and pushes the result (exchanging
every batch, its large gradients go ahead while upd still runs: early_push.py). It asks the
server where it is first, so a retried task resumes at its worker's next step. Its data and
its model stay on the executor; only models and gradients travel.

A task serves one paramserv call after another while the driver keeps its workers (an
estimator's epochs: worker_pool.py): it asks for the next call, gets the call's settings
(WorkerCall) or is let go, and keeps its connection, its shared memory and its compiled
functions in between. Nothing of a call is in the task itself, so the driver may start the
workers before the first call's program is known (the estimator does, as its fit begins).
"""
from __future__ import annotations

import contextlib
import pickle
import time
from dataclasses import dataclass

from .channel import Channel
from .early_push import EarlyPush, Tap, streaming_variant
from .worker import PSFunctions, Timings, Worker

_PROGRAMS: dict = {}     # digest -> _Program, one program at a time per process
CONNECT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class RemoteJob:
    """What a worker task needs for all its calls, shipped in its closure (the secret included)."""
    address: tuple
    secret: bytes
    shared_memory: bool      # large arrays through /dev/shm when the server is on this host
    fail_once: bool = False  # tests: the first attempt of worker 0's task fails after a push


@dataclass(frozen=True)
class WorkerCall:
    """One paramserv call's settings, sent to each worker as the call begins."""
    args: dict
    hyperparams: object
    batchsize: int
    freq: str
    nbatches: int
    model_avg: bool
    epochs: int
    stream: bool             # large final gradients go ahead of the push (early_push.py)
    digest: str              # upd and agg's program and the precision (compiled_functions)
    precision: str


@dataclass
class _Program:
    """upd and agg compiled in this process, and upd's streaming variant once a worker asked."""
    context: object
    interpreter: object
    upd: object
    agg: object
    streaming: tuple | None = None     # (variant, its Tap), or (None, None): nothing to stream


def _worker_functions(job: RemoteJob, call: WorkerCall, channel: Channel) -> tuple:
    """upd, agg and the EarlyPush (or None) of this call's worker: upd's streaming variant
    (early_push.py) where the worker pushes upd's result as it is (an exchange every batch,
    no model averaging) and upd has gradients to stream."""
    upd, agg = compiled_functions(lambda: _program_text(channel), call.digest, call.precision,
                                  call.args)
    if not call.stream or call.freq != "BATCH" or call.model_avg:
        return upd, agg, None
    program = _PROGRAMS[call.digest]
    if program.streaming is None:
        tap = Tap()
        variant = streaming_variant(upd, program.interpreter, tap)
        program.streaming = (variant, tap) if variant is not None else (None, None)
    variant, tap = program.streaming
    return (upd, agg, None) if variant is None else (variant, agg, EarlyPush(channel, tap))


def _program_text(channel: Channel) -> bytes:
    """The call's pickled upd and agg, asked from the server."""
    channel.send(("program",))
    return channel.recv()[1]


def compiled_functions(functions, digest: str, precision: str, args: dict):
    """upd and agg, compiled by a local interpreter once per process for the functions' text
    and precision (`digest`), from what `functions()` returns (pickled: fetched and unpickled
    only then); the $ arguments (which change between the estimator's epochs) are swapped in
    place. The driver's parameter server compiles its agg this way too: a local run's
    liveness and in-place updates apply to its model, which lives on the driver."""
    program = _PROGRAMS.get(digest)
    if program is None:
        from ..context import Context
        from ..interpreter import Interpreter
        from ..spark.parfor import rebuild_modules
        from ..spark.shipped_files import make_package_files_readable

        make_package_files_readable()
        context = Context(args={}, precision=precision)
        interpreter = Interpreter(context)
        shipped = pickle.loads(functions())
        upd, agg = (rebuild_modules(snapshot, interpreter).functions[name]
                    for snapshot, name in (shipped["upd"], shipped["agg"]))
        program = _Program(context, interpreter, upd, agg)
        _PROGRAMS.clear()
        _PROGRAMS[digest] = program
    program.context.args.clear()           # compiled code reads this dict when it runs
    program.context.args.update(args)
    return program.upd, program.agg


@contextlib.contextmanager
def _task_runtime():
    """The kernels use the task's cores (spark.task.cpus: local/threads.py), BLAS one thread,
    as a local run does on its cores; the Python worker's own settings come back afterwards.
    Freed temporaries stay in the heap for the next batch (allocator.py), and the cycle
    collector waits for the task's end (collector.py), as in a local run."""
    from ..collector import collector_paused
    from ..local.allocator import runtime_memory
    from ..local.threads import runtime_threads

    with runtime_threads(), runtime_memory(), collector_paused():
        yield


def _should_fail(job: RemoteJob) -> bool:
    from pyspark import TaskContext

    task = TaskContext.get()
    return job.fail_once and task.partitionId() == 0 and task.attemptNumber() == 0


def run_worker_task(job: RemoteJob, partition: int, items):
    """Executor side: the whole life of one worker, over the calls it serves; yields its index
    and the number of calls."""
    import numpy as np

    started = time.perf_counter()
    item, = list(items)
    ident = item[0] if isinstance(item, tuple) else item
    channel = Channel.connect(job.address, job.secret, CONNECT_TIMEOUT_S)
    calls = 0
    try:
        if job.shared_memory:
            _offer_shared_memory(channel)
        with _task_runtime(), np.errstate(all="ignore"):
            spent = None
            while True:
                channel.send(("next", ident, spent))
                reply = channel.recv()
                if reply[0] != "call":
                    break
                if calls:       # a kept worker's call starts now, its first one with the task
                    started = time.perf_counter()
                spent = _run_call(job, reply[1], item, channel, started, calls == 0 and _should_fail(job))
                calls += 1
    finally:
        channel.close()
    yield ident, calls


def _run_call(job: RemoteJob, call: WorkerCall, item, channel: Channel, started: float,
              fail: bool) -> dict:
    """One call: the worker's rows (its partition, or its share asked from the driver: rows
    may change from one call to the next), its steps; returns its timings."""
    ident, features, labels = item if isinstance(item, tuple) else _share(channel, item)
    upd, agg, early = _worker_functions(job, call, channel)
    try:
        timings = Timings()
        worker = Worker(ident, features, labels,
                        PSFunctions(upd, agg, None, call.hyperparams, timings),
                        call.batchsize, call.freq, call.nbatches, call.model_avg)
        return _serve_steps(call, worker, channel, timings, started, early, fail)
    finally:
        if early is not None:
            early.close()


def _offer_shared_memory(channel: Channel) -> None:
    offer = channel.offer_shared_memory()
    if offer is not None:
        channel.send(offer)
        channel.use_shared_memory(channel.recv()[1])


def _share(channel: Channel, ident: int) -> tuple:
    """The worker's rows from the driver (its task carries only its index)."""
    channel.send(("share", ident))
    _, features, labels = channel.recv()
    return ident, features, labels


def _drained(timings: Timings, channel: Channel) -> dict:
    """Time and calls since the last push: upd, agg, and the channel's pickling and tags."""
    report = {"upd": timings.upd, "agg": timings.agg, "batches": timings.batches,
              "updates": timings.updates, **channel.seconds}
    timings.upd = timings.agg = 0.0
    timings.batches = timings.updates = 0
    channel.seconds = dict.fromkeys(channel.seconds, 0.0)
    return report


def _serve_steps(call: WorkerCall, worker: Worker, channel: Channel, timings: Timings, began: float,
                 early: EarlyPush | None, fail: bool) -> dict:
    failing_step = min(1, len(worker.segments) * call.epochs - 1)   # after a push, when there is one
    spent = {"startup": 0.0, "compute": 0.0, "exchange": 0.0}
    channel.send(("hello", worker.ident))
    reply = channel.recv()
    spent["startup"] = time.perf_counter() - began
    while reply[0] == "model":
        _, step, model = reply
        del reply
        start = time.perf_counter()
        segment = worker.segments[step % len(worker.segments)]
        if early is not None:
            result = early.run(step, lambda: worker.run_segment(model, segment))
        else:
            result = worker.run_segment(model, segment)
        del model
        spent["compute"] += time.perf_counter() - start
        if fail and step == failing_step:
            raise RuntimeError("injected failure of worker 0's first attempt "
                               "(spark.kerasdml.test.failFirstAttempt)")
        sent = time.perf_counter()
        if early is not None:
            early.flush()               # the push follows its parts
        report = _drained(timings, channel)
        channel.send(("push", worker.ident, step, result, report))
        # the model this worker pulled (its push, with model averaging) is let go before the
        # reply comes: the server's shared memory that held it is then free for the next model,
        # which would otherwise need a second segment (made while the message goes inline)
        del result
        reply = channel.recv()
        spent["exchange"] += time.perf_counter() - sent
    return spent
