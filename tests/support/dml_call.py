"""Calls one function of the DML library from Python, for parity tests against Keras."""
from __future__ import annotations

from kerasdml.runtime.api import run_string


def call_dml(source: str, function: str, inputs: dict, outputs: list[str], **scalars) -> dict:
    """Runs `[out1, out2, ...] = ns::function(name=name, ...)` with `source` from dml_lib.

    `inputs` bind matrices (numpy arrays) and scalars by the function's parameter names;
    `scalars` are extra keyword parameters passed as literals-by-binding too."""
    bound = {**inputs, **scalars}
    arguments = ", ".join(f"{name}={name}" for name in bound)
    targets = ", ".join(f"out_{name}" for name in outputs)
    left = f"[{targets}]" if len(outputs) > 1 else targets
    script = f'source("{source}") as lib\n{left} = lib::{function}({arguments})\n'
    results = run_string(script, inputs=bound, outputs=[f"out_{name}" for name in outputs])
    return {name: results[f"out_{name}"] for name in outputs}
