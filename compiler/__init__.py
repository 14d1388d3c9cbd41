"""Keras models -> DML: `compile_model(path_or_model)` gives a CompiledModel (scripts, weights in
DML layout, and the description of its inputs, outputs and parameters)."""
from .compile import compile_model

__all__ = ["compile_model"]
