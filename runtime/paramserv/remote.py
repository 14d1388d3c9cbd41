"""paramserv with mode="REMOTE_SPARK": the workers are long-running Spark tasks, the parameter
server runs on the driver.

1. Distributed features and labels are cut into the workers' partitions on the executors and
   persisted there (spark_data.py): the driver never holds them. numpy ones, which the driver
   holds anyway, go to each worker task over the channel when it starts (driver_shares.py).
2. The server listens on the driver, on a random port, behind the authenticated channel
   (channel.py, a secret drawn for this run and shipped in the tasks' closure).
3. One Spark job runs one task per worker (remote_worker.py); each exchanges models and
   gradients with the server every BATCH, NBATCHES or EPOCH (coordinator.py applies BSP or
   ASP). A failed task is retried by Spark and resumes at its worker's next step. The job
   ends with the call, unless the runtime keeps its workers for the next call (worker_pool.py).

BSP needs all k tasks running at once: k must not exceed the task slots of the cluster.
"""
from __future__ import annotations

import hashlib
import pickle
import secrets
import time

from ..errors import DMLRuntimeError
from ..lists import DMLList
from ..spark.lease import Lease
from ..spark.parfor import module_snapshot
from ..spark.settings import setting
from .channel import new_secret
from .config import PSConfig
from .coordinator import make_coordinator
from .driver_shares import DriverShares, driver_tasks, serves_from_driver
from .model_reads import positions_read
from .remote_worker import RemoteJob, WorkerCall, compiled_functions
from .socket_server import ParameterServerSocket, ServedCall
from .spark_data import Plan, worker_partitions
from .worker import PSFunctions, epoch_segments
from .worker_pool import IDLE_SECONDS, PoolKey, WorkerPool

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


_DIGESTS: dict = {}      # the last program's digest, by its syntax trees' identities


def _program_digest(shipped: dict, precision: str) -> str:
    """Names the functions' code (modules by file and definitions, not by their ids, which
    differ from one run of the same script to the next) and the precision. Pickling the
    definitions to hash them takes milliseconds, at the start of every call: a script run again
    (the estimator's next epoch) has the same syntax trees (parse() keeps them, and they never
    change), so the digest is found by their identities; the entry holds the trees, so no other
    object can take their ids while it stands."""
    canonical = [(role, name, [(file, base, definitions, sorted(namespaces), library)
                               for file, base, definitions, namespaces, library
                               in snapshot["modules"].values()])
                 for role, (snapshot, name) in sorted(shipped.items())]
    identity = repr([(role, name, [(file, base, [id(d) for d in definitions], namespaces, library)
                                   for file, base, definitions, namespaces, library in modules])
                     for role, name, modules in canonical]) + precision
    found = _DIGESTS.get(identity)
    if found is None:
        _DIGESTS.clear()
        found = _DIGESTS[identity] = (hashlib.sha256(pickle.dumps((canonical, precision))).hexdigest(),
                                      canonical)
    return found[0]


def _call_settings(config: PSConfig, context, functions: PSFunctions, stream: bool,
                   digest: str) -> WorkerCall:
    return WorkerCall(dict(context.args), functions.hyperparams, config.batchsize, config.freq,
                      config.nbatches, config.model_avg, config.epochs, stream, digest,
                      context.precision)


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
    upd, agg = compiled_functions(lambda: shipped, digest, context.precision, dict(context.args))
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
    if not serves_from_driver(features, labels):
        runtime.release_paramserv_workers()     # partitioning them is a Spark job of its own
    data = _worker_data(runtime, context, features, labels, plan)
    partitioned = time.perf_counter()
    counts = [len(epoch_segments(size, config.batchsize, config.freq, config.nbatches)) for size in sizes]
    snapshot = _shipped_functions(functions)
    digest = _program_digest(snapshot, context.precision)
    shipped = _pickled_functions(snapshot, digest)
    coordinator = make_coordinator(config.utype, model, counts, config.epochs,
                                   _server_functions(functions, shipped, digest, context),
                                   config.model_avg, validate)
    # a worker that exchanges every batch never calls agg: it needs only what upd reads
    upd_reads = positions_read(functions.upd) if config.freq == "BATCH" and not config.model_avg else None
    shares = data if isinstance(data, DriverShares) else None
    call = ServedCall(coordinator, _call_settings(config, context, functions,
                                                  _streams_gradients(sc, len(sizes), slots), digest),
                      upd_reads, shares, len(sizes), shipped)
    key = _pool_key(runtime, len(sizes), "driver" if shares is not None else id(data))
    pool, spent = _served(runtime, key, call, lambda: _new_pool(
        runtime, key, driver_tasks(sc, len(sizes)) if shares is not None else data))
    if not coordinator.finished():
        raise DMLRuntimeError("paramserv: the Spark workers ended before the last update")
    record.update(partition=partitioned - began, job=time.perf_counter() - partitioned,
                  workers=len(sizes), server_push=call.push_seconds, refused=pool.server.refused,
                  server_sent_bytes=call.sent_bytes,
                  shared_memory_bytes=pool.server.shared_bytes - call.shared_before,
                  pushes=call.pushes, streamed_parts=call.parts,
                  **{f"worker_{name}": value for name, value in _summed(spent).items()},
                  **{f"reported_{name}": value for name, value in call.worker_timings.totals.items()})
    return coordinator.model


def _served(runtime, key: PoolKey, call: ServedCall, new_pool) -> tuple:
    """Runs the call on the kept workers where they serve it, else on a new pool; keeps the
    pool for the next call while the runtime keeps workers, else lets it go. Returns the pool
    and each worker's timings."""
    pool, runtime.paramserv_pool = runtime.paramserv_pool, None
    spent = None
    try:
        if pool is not None and pool.serves(key):
            spent = pool.run_call(call)     # None: the workers were let go meanwhile
        if spent is None:
            if pool is not None:
                pool.close()
            pool = None
            pool = new_pool()
            spent = pool.run_call(call)
            if spent is None:
                raise DMLRuntimeError("paramserv: the Spark workers left before the call began")
    except BaseException:
        if pool is not None:
            pool.stop()
        raise
    if runtime.keeps_paramserv_workers:
        runtime.paramserv_pool = pool
    else:
        pool.close()
    return pool, spent


def _pool_key(runtime, workers: int, data) -> PoolKey:
    shared = _flag(runtime.sc, SHARED_MEMORY_SETTING) is not False
    return PoolKey(id(runtime.sc), workers, data, shared, runtime.fail_first_attempt)


def _new_pool(runtime, key: PoolKey, tasks) -> WorkerPool:
    secret = new_secret()
    server = ParameterServerSocket(secret, _driver_host(runtime.sc), IDLE_SECONDS)
    job = RemoteJob(server.address, secret, key.shared_memory, key.fail_once)
    return WorkerPool(runtime, tasks, job, server, key)


def start_workers(runtime, workers: int) -> None:
    """Starts the workers of a coming paramserv call with `workers` workers on the driver's
    numpy data, and keeps them for it (inside SparkRuntime.kept_paramserv_workers): their Spark
    job then starts while the script still works towards the call (the estimator's first
    epoch reads its inputs and weights meanwhile). A call with other workers or data lets
    them go and starts its own; one that does not come within IDLE_SECONDS finds them gone."""
    if runtime.paramserv_pool is None and workers <= _task_slots(runtime.sc):
        key = _pool_key(runtime, workers, "driver")
        runtime.paramserv_pool = _new_pool(runtime, key, driver_tasks(runtime.sc, workers))


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


def _summed(spent: dict) -> dict:
    totals: dict = {}
    for timings in spent.values():
        for name, value in timings.items():
            totals[name] = totals.get(name, 0.0) + value
    return totals
