"""Keras models -> DML: `compile_model(path_or_model)` gives a CompiledModel (scripts, weights in
DML layout, and the description of its inputs, outputs and parameters); `Keras2DML` trains,
predicts and scores a model with them, scikit-learn style."""
from .compile import compile_model
from .estimator import Keras2DML

__all__ = ["compile_model", "Keras2DML"]
