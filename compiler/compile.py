"""The compiler's front door: a Keras model file (or keras.Model) -> a CompiledModel.

    from kerasdml.compiler import compile_model
    model = compile_model("lenet.keras")
    model.write("out/")                  # predict.dml, train.dml, weights.h5, summary.txt
    y = model.predict(x)                 # on the local runtime, what keras' model.predict gives
"""
from __future__ import annotations

from . import passes
from .backend import CompiledModel, compile_settings
from .frontend.config import flatten_model
from .frontend.convert import convert
from .frontend.sources import open_model


def compile_model(source, *, loss=None, optimizer=None) -> CompiledModel:
    """Reads the model once and prepares it twice: for prediction (dropout and linear
    activations removed) and for training. loss/optimizer override the model's compile config
    (Keras names or serialized Keras objects)."""
    with open_model(source) as model:
        graph = convert(model)
        config = compile_settings(model.compile_config)
        frozen = [call.layer for call in flatten_model(model.config, model.path).calls
                  if call.config.get("trainable", True) is False]
    return CompiledModel(passes.prepare(graph), passes.prepare(graph, training=True),
                         frozen=frozen,
                         loss=loss if loss is not None else config.get("loss"),
                         optimizer=optimizer if optimizer is not None
                         else config.get("optimizer"),
                         source=graph.source)
