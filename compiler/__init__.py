"""Keras models -> DML: `compile_model(path_or_model)` gives a CompiledModel (scripts, weights in
DML layout, and the description of its inputs, outputs and parameters); `Keras2DML` trains,
predicts and scores a model with them, scikit-learn style.

Both load on first use, so that the console script (launch.py) can choose the BLAS threads
before anything imports numpy.
"""
from __future__ import annotations

__all__ = ["compile_model", "Keras2DML"]


def __getattr__(name: str):
    if name == "compile_model":
        from .compile import compile_model
        return compile_model
    if name == "Keras2DML":
        from .estimator import Keras2DML
        return Keras2DML
    raise AttributeError(f"module 'kerasdml.compiler' has no attribute {name!r}")
