"""The arguments of `paramserv(...)`: SystemDS's names, defaults and checks, in one table.

Defaults follow SystemDS 3.4: mode LOCAL, utype ASP, freq EPOCH, batchsize 64, k the local
cores (the executors' cores on Spark), scheme DISJOINT_CONTIGUOUS, nbatches 1, modelAvg FALSE.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import DMLRuntimeError
from ..values import to_bool, to_int, to_string

MODES = ("LOCAL", "REMOTE_SPARK")
UPDATE_TYPES = ("BSP", "ASP")
FREQUENCIES = ("BATCH", "EPOCH", "NBATCHES")
SCHEMES = ("DISJOINT_CONTIGUOUS", "DISJOINT_ROUND_ROBIN", "DISJOINT_RANDOM", "OVERLAP_RESHUFFLE")

# SystemDS parameters this runtime refuses, with the reason given to the user.
UNSUPPORTED = {
    "he": "homomorphic encryption is for federated workers, which this runtime does not have",
    "weighting": "weighting is for federated workers, which this runtime does not have",
    "runtime_balancing": "runtime balancing is for federated workers, which this runtime does not have",
}


@dataclass(frozen=True)
class PSConfig:
    mode: str
    utype: str
    freq: str
    epochs: int
    batchsize: int
    k: int | None          # None: as many workers as cores (decided by the runtime)
    scheme: str
    nbatches: int
    model_avg: bool
    seed: int | None       # None: a fresh random partition (DISJOINT_RANDOM, OVERLAP_RESHUFFLE)


def _choice(name: str, allowed: tuple[str, ...]):
    def parse(value):
        text = to_string(value, f"paramserv's {name}")
        if text == "SBP" and name == "utype":
            raise DMLRuntimeError("paramserv: utype=\"SBP\" (backup workers) is not supported; "
                                  "use \"BSP\" or \"ASP\"")
        if text not in allowed:
            raise DMLRuntimeError(f"paramserv: {name}={text!r} is not one of {', '.join(allowed)}")
        return text
    return parse


def _positive(name: str):
    def parse(value):
        number = to_int(value, f"paramserv's {name}")
        if number <= 0:
            raise DMLRuntimeError(f"paramserv: {name} must be at least 1, got {number}")
        return number
    return parse


def _checkpointing(value):
    if to_string(value, "paramserv's checkpointing") != "NONE":
        raise DMLRuntimeError("paramserv: checkpointing is not supported (only \"NONE\")")
    return value


def _seed(value):
    seed = to_int(value, "paramserv's seed")
    return None if seed == -1 else seed


PARSERS = {
    "mode": _choice("mode", MODES), "utype": _choice("utype", UPDATE_TYPES),
    "freq": _choice("freq", FREQUENCIES), "epochs": _positive("epochs"),
    "batchsize": _positive("batchsize"), "k": _positive("k"), "scheme": _choice("scheme", SCHEMES),
    "nbatches": _positive("nbatches"), "modelAvg": lambda v: to_bool(v, "paramserv's modelAvg"),
    "seed": _seed, "checkpointing": _checkpointing,
    "num_backup_workers": lambda v: to_int(v, "paramserv's num_backup_workers"),
}
DEFAULTS = {"mode": "LOCAL", "utype": "ASP", "freq": "EPOCH", "batchsize": 64, "k": None,
            "scheme": "DISJOINT_CONTIGUOUS", "nbatches": 1, "modelAvg": False, "seed": None}


def parse_config(options: dict) -> PSConfig:
    """The run's settings from the call's scalar arguments (checked, with defaults)."""
    for name, reason in UNSUPPORTED.items():
        if name in options:
            raise DMLRuntimeError(f"paramserv: parameter `{name}` is not supported: {reason}")
    if "epochs" not in options:
        raise DMLRuntimeError("paramserv: the argument `epochs` is required")
    values = dict(DEFAULTS)
    for name, value in options.items():
        if name not in PARSERS:
            known = ", ".join(sorted(PARSERS))
            raise DMLRuntimeError(f"paramserv: unknown parameter `{name}` (known: {known})")
        values[name] = PARSERS[name](value)
    if values["modelAvg"] and values["utype"] == "ASP":
        raise DMLRuntimeError("paramserv: modelAvg=TRUE needs utype=\"BSP\" (as in SystemDS)")
    return PSConfig(values["mode"], values["utype"], values["freq"], values["epochs"],
                    values["batchsize"], values["k"], values["scheme"], values["nbatches"],
                    values["modelAvg"], values["seed"])
