"""paramserv with mode="REMOTE_SPARK": the workers are long-running Spark tasks, the parameter
server runs on the driver.

1. Distributed features and labels are cut into the workers' partitions on the executors and
   persisted there (spark_data.py): the driver never holds them. numpy ones, which the driver
   holds anyway, go to each worker task over the channel when it starts (driver_shares.py).
2. The server listens on the driver, on a random port, behind the authenticated channel
   (channel.py, a secret drawn for this run and shipped in the tasks' closure).
3. One Spark job runs one task per worker (remote_worker.py); each exchanges models and
   gradients with the server every BATCH, NBATCHES or EPOCH (coordinator.py applies BSP or
   ASP). A failed task is retried by Spark and resumes at its worker's next step.

BSP needs all k tasks running at once: k must not exceed the task slots of the cluster.
"""
from __future__ import annotations

import hashlib
import pickle
import secrets
import threading
import time
import uuid


from ..errors import DMLRuntimeError
from ..lists import DMLList
from ..spark.lease import Lease
from ..spark.parfor import module_snapshot
from ..spark.settings import setting
from .channel import new_secret
from .config import PSConfig
from .coordinator import make_coordinator
from .driver_shares import DriverShares, serves_from_driver
from .model_reads import positions_read
from .remote_worker import RemoteJob, compiled_functions, run_worker_task
from .socket_server import ParameterServerSocket
from .spark_data import Plan, worker_partitions
from .worker import PSFunctions, epoch_segments

RANDOM_SCHEMES = ("DISJOINT_RANDOM", "OVERLAP_RESHUFFLE")
STREAM_SETTING = "spark.kerasdml.streamGradients"
SHARED_MEMORY_SETTING = "spark.kerasdml.sharedMemory"


def _plan(config: PSConfig, rows: int, k: int) -> Plan:
    seed = config.seed
    if seed is None and config.scheme in RANDOM_SCHEMES:   # one draw every executor agrees on
        seed = secrets.randbelow(2**31)
    return Plan(config.scheme, rows, k, seed)


def _driver_host(sc) -> str:
    if sc.master.startswith("local"):
        return "127.0.0.1"
    return setting(sc, "spark.driver.bindAddress") or setting(sc, "spark.driver.host")


def _task_slots(sc) -> int:
    return max(1, sc.defaultParallelism // int(setting(sc, "spark.task.cpus", "1")))


def _shipped_functions(functions: PSFunctions) -> dict:
    return {role: (module_snapshot(function.module), function.name)
            for role, function in (("upd", functions.upd), ("agg", functions.agg))}


_PICKLED: dict = {}      # digest -> the shipped functions pickled (the last program's only)


def _pickled_functions(shipped: dict, digest: str) -> bytes:
    """The snapshot pickled once per program: the estimator calls paramserv every epoch with
    the same functions, and a worker whose process compiled them does not unpickle them."""
    if digest not in _PICKLED:
        _PICKLED.clear()
        _PICKLED[digest] = pickle.dumps(shipped, protocol=pickle.HIGHEST_PROTOCOL)
    return _PICKLED[digest]


def _program_digest(shipped: dict, precision: str) -> str:
    """Names the functions' code (modules by file and definitions, not by their ids, which
    differ from one run of the same script to the next) and the precision."""
    canonical = [(role, name, [(file, base, definitions, sorted(namespaces), library)
                               for file, base, definitions, namespaces, library
                               in snapshot["modules"].values()])
                 for role, (snapshot, name) in sorted(shipped.items())]
    return hashlib.sha256(pickle.dumps((canonical, precision))).hexdigest()


def _job(config: PSConfig, context, functions: PSFunctions, shipped: bytes, digest: str, server,
         secret, stream: bool, shared: bool, fail_once) -> RemoteJob:
    return RemoteJob(server.address, secret, shipped, digest, dict(context.args), context.precision,
                     functions.hyperparams, config.batchsize, config.freq, config.nbatches,
                     config.model_avg, config.epochs, stream, shared, fail_once)


def _flag(sc, key: str) -> bool | None:
    """A true/false setting: a local property of the calling thread, else a Spark setting."""
    value = sc.getLocalProperty(key) or setting(sc, key)
    if value is None:
        return None
    if value.lower() not in ("true", "false"):
        raise DMLRuntimeError(f"{key} must be true or false, got {value!r}")
    return value.lower() == "true"


def _streams_gradients(sc, workers: int, slots: int) -> bool:
    """Whether workers send their large gradients while upd runs (early_push.py):
    spark.kerasdml.streamGradients, a local property of the calling thread or else a Spark
    setting; without it, unless the workers fill every core of a local master. The overlap
    hides a transfer behind compute where something else does the copying (another machine's
    network, a free core); where every core computes, the copy takes a worker's core, while
    sent with the push it runs when the round's first workers wait for the last."""
    chosen = _flag(sc, STREAM_SETTING)
    if chosen is None:
        return not (sc.master.startswith("local") and workers >= slots)
    return chosen


def _server_functions(functions: PSFunctions, shipped: bytes, digest: str, context) -> PSFunctions:
    """The user's functions for the server on the driver, agg compiled by a local interpreter
    as the workers compile theirs (the run itself is planned for Spark)."""
    upd, agg = compiled_functions(shipped, digest, context.precision, dict(context.args))
    return PSFunctions(upd, agg, functions.val, functions.hyperparams, functions.timings)


def _check_slots(config: PSConfig, workers: int, slots: int) -> None:
    if config.utype == "BSP" and workers > slots:
        raise DMLRuntimeError(f"paramserv: mode=\"REMOTE_SPARK\" with utype=\"BSP\" runs its {workers} "
                              f"workers as Spark tasks at the same time, but Spark has {slots} task "
                              f"slots; use k <= {slots}")


def run_remote(runtime, context, config: PSConfig, model: DMLList, features, labels,
               functions: PSFunctions, validate, record: dict) -> DMLList:
    sc = runtime.sc
    began = time.perf_counter()
    slots = _task_slots(sc)
    plan = _plan(config, features.shape[0], config.k or slots)
    sizes = plan.sizes()
    _check_slots(config, len(sizes), slots)
    data = _worker_data(runtime, context, features, labels, plan)
    partitioned = time.perf_counter()
    counts = [len(epoch_segments(size, config.batchsize, config.freq, config.nbatches)) for size in sizes]
    snapshot = _shipped_functions(functions)
    digest = _program_digest(snapshot, context.precision)
    shipped = _pickled_functions(snapshot, digest)
    coordinator = make_coordinator(config.utype, model, counts, config.epochs,
                                   _server_functions(functions, shipped, digest, context),
                                   config.model_avg, validate)
    secret = new_secret()
    # a worker that exchanges every batch never calls agg: it needs only what upd reads
    upd_reads = positions_read(functions.upd) if config.freq == "BATCH" and not config.model_avg else None
    shares = data if isinstance(data, DriverShares) else None
    server = ParameterServerSocket(coordinator, secret, _driver_host(sc), upd_reads, shares)
    try:
        job = _job(config, context, functions, shipped, digest, server, secret,
                   _streams_gradients(sc, len(sizes), slots),
                   _flag(sc, SHARED_MEMORY_SETTING) is not False, runtime.fail_first_attempt)
        spent = _run_job(runtime, data, job, server)
    finally:
        server.close()
    if not coordinator.finished():
        raise DMLRuntimeError("paramserv: the Spark workers ended before the last update")
    record.update(partition=partitioned - began, job=time.perf_counter() - partitioned,
                  workers=len(sizes), server_push=server.push_seconds, refused=server.refused,
                  server_sent_bytes=server.sent_bytes, shared_memory_bytes=server.shared_bytes,
                  pushes=server.pushes, streamed_parts=server.parts,
                  **{f"worker_{name}": value for name, value in _summed(spent).items()},
                  **{f"reported_{name}": value for name, value in server.worker_timings.totals.items()})
    return coordinator.model


def _worker_data(runtime, context, features, labels, plan: Plan):
    """What the workers' job runs on: the driver's shares of numpy data, or the workers'
    partitions of distributed data, built once while the run passes the same features and
    labels with the same plan: the estimator calls paramserv once per epoch, and without
    shuffling every epoch has the same partition. The run holds the last partitions (and their
    sources, so the ids stay theirs and no in-place write reaches them); they are unpersisted
    when replaced or when the run ends."""
    if serves_from_driver(features, labels):
        return DriverShares(features, labels, plan)
    key = (id(features), id(labels), plan)
    cached = context.run_caches.get(__name__)
    if cached is not None and cached[0] == key:
        return cached[2]
    context.run_caches.pop(__name__, None)      # the previous partitions go first
    data = built_partitions(runtime, features, labels, plan)
    context.run_caches[__name__] = (key, (features, labels), data, Lease(rdds=(data,)))
    return data


def built_partitions(runtime, features, labels, plan: Plan):
    return runtime.guarded(worker_partitions, runtime.distribute(features),
                           runtime.distribute(labels), plan)


def _summed(spent: list) -> dict:
    totals: dict = {}
    for _, timings in spent:
        for name, value in timings.items():
            totals[name] = totals.get(name, 0.0) + value
    return totals


def _run_job(runtime, data, job: RemoteJob, server: ParameterServerSocket) -> list:
    """Runs the workers' job in a thread (the driver keeps serving) and stops it when the
    server fails; returns each worker's timings."""
    from functools import partial

    from pyspark import InheritableThread

    sc, group = runtime.sc, f"kerasdml-paramserv-{uuid.uuid4().hex}"
    outcome: dict = {}
    finished = threading.Event()        # set the moment the job ends: the run returns then

    def run():
        sc.setJobGroup(group, "paramserv workers", interruptOnCancel=True)
        try:
            tasks = data.tasks(sc) if isinstance(data, DriverShares) else data
            outcome["spent"] = tasks.mapPartitionsWithIndex(partial(run_worker_task, job)).collect()
        except BaseException as err:
            outcome["error"] = err
        finally:
            finished.set()
    thread = InheritableThread(target=run, daemon=True)
    thread.start()
    while not finished.wait(0.1):       # woken early when the job ends; else checks the server
        if server.error is not None:
            sc.cancelJobGroup(group)
            thread.join()
            raise server.error
    if "error" in outcome:
        runtime.guarded(_raise, outcome["error"])
    return outcome["spent"]


def _raise(error):
    raise error
