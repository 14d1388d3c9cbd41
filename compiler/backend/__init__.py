"""The backend: a prepared IR graph -> readable DML scripts (Jinja templates, one per op family,
under templates/ops) and the weights in DML layout.

    model = CompiledModel(graph, train_graph, loss="categorical_crossentropy")
    model.predict_script, model.train_script, model.weights, model.parameters

The names below load on first use: the op families (`compiler.ops`) import `backend.step`, and
loading this package must not pull the whole backend in before they are registered.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "CompiledModel": "model", "CompileTrainingError": "model", "ParameterSpec": "model",
    "TensorSpec": "model", "supported_ops": "registry", "TRAIN_ALGOS": "training_view",
    "TrainingView": "training_view", "write_weights": "weights",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'kerasdml.compiler.backend' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
