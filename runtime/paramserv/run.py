"""Runs one `paramserv(...)` call: checks the settings, then hands the work to the LOCAL or the
REMOTE_SPARK runtime."""
from __future__ import annotations

from ..errors import DMLRuntimeError
from ..lists import DMLList
from ..local.threads import available_cores
from .config import parse_config
from .local import run_local
from .worker import PSFunctions


def run_paramserv(context, model: DMLList, features, labels, functions, hyperparams,
                  validation, options: dict) -> DMLList:
    config = parse_config(options)
    if features.shape[0] != labels.shape[0]:
        raise DMLRuntimeError(f"paramserv: features has {features.shape[0]} rows but labels has "
                              f"{labels.shape[0]}")
    upd, agg, val = functions
    ps_functions = PSFunctions(upd, agg, val, hyperparams, getattr(context, "ps_timings", None))
    val_features, val_labels = validation

    def validate(current):
        ps_functions.validate(current, val_features, val_labels)
    if config.mode == "REMOTE_SPARK":
        raise DMLRuntimeError("paramserv: mode=\"REMOTE_SPARK\" is not available yet; use "
                              "mode=\"LOCAL\"")
    planner = context.planner
    if planner is not None:      # a LOCAL run works on the driver's copies
        features, labels = planner.collect(features), planner.collect(labels)
    k = config.k or available_cores()
    return run_local(config, k, model, features, labels, ps_functions, validate)
