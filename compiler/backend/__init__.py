"""The backend: a prepared IR graph -> readable DML scripts (Jinja templates, one per op family,
under templates/ops) and the weights in DML layout.

    model = CompiledModel(graph, train_graph, loss="categorical_crossentropy")
    model.predict_script, model.train_script, model.weights, model.parameters
"""
from .model import CompiledModel, CompileTrainingError, ParameterSpec, TensorSpec
from .registry import supported_ops
from .training import TRAIN_ALGOS, TrainingView
from .weights import write_weights

__all__ = ["CompiledModel", "CompileTrainingError", "ParameterSpec", "TensorSpec", "TRAIN_ALGOS",
           "TrainingView", "supported_ops", "write_weights"]
