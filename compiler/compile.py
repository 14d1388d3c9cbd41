"""The compiler's front door: a Keras model file (or keras.Model) -> a CompiledModel.

    from kerasdml.compiler import compile_model
    model = compile_model("lenet.keras")
    model.write("out/")                  # predict.dml, train.dml, weights.h5, summary.txt
    y = model.predict(x)                 # on the local runtime, what keras' model.predict gives
"""
from __future__ import annotations

from . import passes
from .backend import CompiledModel
from .frontend.config import flatten_model
from .frontend.convert import convert
from .frontend.sources import open_model


def compile_model(source, *, loss=None, optimizer=None, metrics=None, learning_rate=None,
                  train_algo: str = "minibatch", loss_weights=None) -> CompiledModel:
    """Reads the model once and prepares it twice: for prediction (dropout and linear
    activations removed) and for training. loss, optimizer, metrics, loss_weights and
    learning_rate override
    the model's compile config (Keras names, Keras objects or their serialized form);
    train_algo is one of backend.TRAIN_ALGOS."""
    with open_model(source) as model:
        graph = convert(model)
        frozen = [call.layer for call in flatten_model(model.config, model.path).calls
                  if call.config.get("trainable", True) is False]
        compile_config = model.compile_config
    return CompiledModel(passes.prepare(graph), passes.prepare(graph, training=True),
                         compile_config=compile_config, loss=loss, optimizer=optimizer,
                         metrics=metrics, learning_rate=learning_rate, train_algo=train_algo,
                         loss_weights=loss_weights,
                         frozen=frozen, source=graph.source)
