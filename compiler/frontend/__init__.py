"""Reading Keras models (.keras, legacy .h5, or an in-memory keras.Model) into the IR.

    graph = read_graph("model.keras")         # the model as written: fused activations, no shapes
    graph = load("model.keras")               # ready for the backend (passes.prepare applied)

Nothing here imports TensorFlow or Keras, and no code stored in a model file is ever run.
"""
from __future__ import annotations

from .. import ir
from .convert import convert
from .registry import supported_classes, supported_table
from .sources import open_model


def read_graph(source) -> ir.Graph:
    """The IR graph of a model file path or a keras.Model, before any pass."""
    with open_model(source) as model:
        return convert(model)


def load(source, training: bool = False) -> ir.Graph:
    """read_graph followed by passes.prepare: shapes inferred, activations split, and (unless
    compiling for training) inference no-ops removed."""
    from .. import passes
    return passes.prepare(read_graph(source), training=training)


__all__ = ["read_graph", "load", "supported_classes", "supported_table", "open_model"]
