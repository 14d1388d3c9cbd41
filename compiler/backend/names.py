"""DML variable names for the tensors and parameters of an IR graph.

A tensor is named after the Keras layer that produced it ("conv2d_1", "block1/add" becomes
"block1_add"); a parameter after its node and role ("conv2d_1_W", "conv2d_1_b"), which is also the
name of its dataset in weights.h5. Names never collide with each other, with DML keywords, or with
the variables every generated script uses itself.
"""
from __future__ import annotations

import re

import numpy as np

from .. import ir
from ..opdef import definition

_RESERVED = {
    "if", "else", "for", "while", "parfor", "function", "return", "in", "source", "as",
    "externalFunction", "implemented", "TRUE", "FALSE", "setwd", "ifdef", "matrix", "frame",
    "double", "int", "integer", "boolean", "string", "list",
    # variables of the script skeletons
    "X", "Y", "y", "N", "i", "beg", "end", "batches", "batch_size", "epoch", "epochs", "loss",
    "losses", "epoch_loss", "learning_rate", "weights", "Hout", "Wout", "Tout", "Hp", "Wp",
    "Hc", "Wc",
}


def identifier(text: str) -> str:
    """A DML identifier close to `text`: other characters become "_", a leading digit gets "t"."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text).strip("_") or "t"
    return "t" + name if name[0].isdigit() else name


class Names:
    """Hands out unique DML names; the same key always gets the same name."""

    def __init__(self):
        self._taken = set(_RESERVED)
        self._given: dict = {}

    def get(self, key, wanted: str) -> str:
        if key not in self._given:
            name, count = identifier(wanted), 1
            candidate = name
            while candidate in self._taken:
                count += 1
                candidate = f"{name}_{count}"
            self._taken.add(candidate)
            self._given[key] = candidate
        return self._given[key]


def _keras_weight(param: ir.Param) -> tuple | None:
    """Which weight of the model file a parameter is, where the file says (None otherwise)."""
    return ("weight", param.name, param.location) if param.location else None


def graph_names(graph: ir.Graph) -> tuple:
    """({tensor: variable}, {(node name, param name): variable}) for every tensor and parameter,
    in node order so that names are stable. Nodes holding the same weight of the model file (a
    layer called twice, as a siamese network's shared encoder, or an RNN whose final states a
    second node computes) share its variable: training updates it once, with the sum of their
    gradients (emitter.py)."""
    names = Names()
    tensors, params = {}, {}
    held: dict = {}         # Keras weight -> the first Param read from it
    # parameters first: their names then depend only on the nodes that hold parameters, which
    # the prediction and the training graph share
    for node in graph.nodes:
        base = identifier(node.name)
        for param in node.params:
            role = definition(node.op).weight(param.name).dml
            key = _keras_weight(param)
            first = held.setdefault(key, param) if key else None
            if first is not None and first is not param and not np.array_equal(first.value,
                                                                                param.value):
                key = None      # one file entry read into different arrays: not one weight
            params[(node.name, param.name)] = names.get(key or ("param", node.name, param.name),
                                                        f"{base}_{role}")
    for node in graph.nodes:
        for tensor in node.outputs:
            tensors[tensor] = names.get(("tensor", tensor), tensor)
    return tensors, params
