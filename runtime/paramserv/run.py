"""Runs one `paramserv(...)` call: checks the settings, then hands the work to the LOCAL or the
REMOTE_SPARK runtime."""
from __future__ import annotations

import time

from ..errors import DMLRuntimeError
from ..lists import DMLList
from ..local.threads import available_cores
from .config import parse_config
from .local import run_local
from .worker import PSFunctions, Timings

# The latest run's time inside `upd` and `agg` and its wall time: what bench/ reports as the
# parameter server's own cost per update.
LAST_RUN: dict = {}


def run_paramserv(context, model: DMLList, features, labels, functions, hyperparams,
                  validation, options: dict) -> DMLList:
    config = parse_config(options)
    if features.shape[0] != labels.shape[0]:
        raise DMLRuntimeError(f"paramserv: features has {features.shape[0]} rows but labels has "
                              f"{labels.shape[0]}")
    upd, agg, val = functions
    timings = Timings()
    ps_functions = PSFunctions(upd, agg, val, hyperparams, timings)
    val_features, val_labels = validation

    def validate(current):
        ps_functions.validate(current, val_features, val_labels)
    if config.mode == "REMOTE_SPARK":
        return _run_remote(context, config, model, features, labels, ps_functions, validate)
    planner = context.planner
    if planner is not None:      # a LOCAL run works on the driver's copies
        features, labels = planner.collect(features), planner.collect(labels)
    k = config.k or available_cores()
    started = time.perf_counter()
    result = run_local(config, k, model, features, labels, ps_functions, validate,
                       threads=planner is None)
    LAST_RUN.clear()
    LAST_RUN.update(mode="LOCAL", wall=time.perf_counter() - started, upd=timings.upd, agg=timings.agg,
                    batches=timings.batches, updates=timings.updates, workers=k)
    return result


def _run_remote(context, config, model, features, labels, functions: PSFunctions, validate):
    """Workers on Spark: upd and the workers' local agg calls are timed on the executors and
    reported with the pushes; the server's agg calls are timed here."""
    planner = context.planner
    if planner is None or planner.spark is None:
        raise DMLRuntimeError("paramserv: mode=\"REMOTE_SPARK\" needs Spark (run with a Spark "
                              "session, or --master); without it use mode=\"LOCAL\"")
    record: dict = {}
    started = time.perf_counter()
    result = planner.spark.paramserv(context, config, model, features, labels, functions, validate,
                                     record)
    timings = functions.timings
    LAST_RUN.clear()
    LAST_RUN.update(record, wall=time.perf_counter() - started, upd=record["reported_upd"],
                    agg=record["reported_agg"] + timings.agg, server_agg=timings.agg,
                    server_updates=timings.updates,
                    batches=int(record["reported_batches"]),
                    updates=int(record["reported_updates"]) + timings.updates, mode="REMOTE_SPARK")
    return result
