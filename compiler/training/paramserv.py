"""The estimator's paramserv settings as the generated train.dml takes them ($workers, $sync,
$frequency, $nbatches, $mode), checked here so a wrong value fails before training starts.
With a Spark session the workers are Spark tasks (mode REMOTE_SPARK), without one threads of
this process (LOCAL)."""
from __future__ import annotations

from ..errors import CompileError

SYNC_MODES = ("BSP", "ASP")


def default_workers(spark) -> int:
    """The executors' cores on Spark (its default parallelism), the local cores otherwise."""
    if spark is not None:   # a SparkSession, or the runtime's SparkRuntime (its context: sc)
        context = getattr(spark, "sparkContext", None) or spark.sc
        return max(1, int(context.defaultParallelism))
    from kerasdml.runtime.local.threads import available_cores
    return available_cores()


def frequency_arguments(frequency) -> dict:
    """frequency="batch" | "epoch" | n (batches between two exchanges with the server)."""
    if isinstance(frequency, str) and frequency.lower() in ("batch", "epoch"):
        return {"frequency": frequency.upper(), "nbatches": 1}
    if isinstance(frequency, int) and not isinstance(frequency, bool) and frequency >= 1:
        return {"frequency": "NBATCHES", "nbatches": frequency}
    raise CompileError(f"frequency must be 'batch', 'epoch' or a number of batches >= 1, got "
                       f"{frequency!r}")


def paramserv_mode(spark) -> str:
    return "LOCAL" if spark is None else "REMOTE_SPARK"


def paramserv_arguments(workers, sync: str, frequency, spark) -> dict:
    if workers is None:
        workers = default_workers(spark)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise CompileError(f"workers must be a number >= 1, got {workers!r}")
    if not isinstance(sync, str) or sync.upper() not in SYNC_MODES:
        raise CompileError(f"sync must be 'BSP' or 'ASP', got {sync!r}")
    return {"workers": workers, "sync": sync.upper(), "mode": paramserv_mode(spark),
            **frequency_arguments(frequency)}
