"""The table of operations that have a distributed implementation, registered by the name the
planner routes them under: DML operator symbols (`+`, `%*%`, `unary-`), `rightIndex`,
`leftIndex`, and builtin names (`rowSums`, `conv2d`, ...). Anything not listed runs locally.

Each entry says which calls it takes (`accepts`; the rest run locally, so that the local
implementation reports bad arguments with its usual message), the result's dimensions
(`output`, for the plan and the memory estimate) and its strategy (shown by explain).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable


@dataclass(frozen=True)
class Operation:
    name: str
    run: Callable        # (runtime, *args, **kwargs) -> value
    accepts: Callable    # (*args, **kwargs) -> bool
    output: Callable     # (*args, **kwargs) -> (rows, cols) | None
    strategy: Callable   # (runtime, *args, **kwargs) -> str
    source: bool = False  # makes a matrix from no matrix operand (read): planned on every call
    spark_only: Callable | None = None  # (*args, **kwargs) -> True when there is no local way


OPERATIONS: dict[str, Operation] = {}


def _constant(text):
    return lambda runtime, *args, **kwargs: text


def operation(*names: str, accepts: Callable, output: Callable, strategy="blockwise",
              named: bool = False, source: bool = False, spark_only: Callable | None = None):
    """Registers a distributed implementation; with named=True it receives its name first
    (one function serving several operators)."""
    def register(function):
        for name in names:
            if name in OPERATIONS:
                raise ValueError(f"distributed operation {name!r} is registered twice")
            run = partial(_with_name, function, name) if named else function
            test = partial(accepts, name) if named else accepts
            pick = strategy if callable(strategy) else _constant(strategy)
            OPERATIONS[name] = Operation(name, run, test, output, pick, source, spark_only)
        return function
    return register


def _with_name(function, name, runtime, *args, **kwargs):
    return function(runtime, name, *args, **kwargs)
