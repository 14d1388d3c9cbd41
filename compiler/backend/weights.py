"""The weights in DML layout, and weights.h5: one 2-D float64 dataset per DML parameter, which
both this project's runtime and SystemDS read with read(path, format="hdf5", dataset=...)."""
from __future__ import annotations

import numpy as np

from .. import ir
from ..passes import layout
from .ops.core import needs_reorder


def dml_weights(graph: ir.Graph, params: dict) -> dict:
    """{variable: 2-D float64 array in DML layout} in node order.

    A Dense after a Flatten whose rows the script reorders into Keras' order reads its kernel
    unpermuted; every other conversion is `passes.layout`'s."""
    values = layout.dml_parameters(graph)
    for node in graph.nodes:
        if node.op == "flatten" and needs_reorder(graph, node):
            for dense in _denses_after(graph, node.output):
                values[(dense.name, "kernel")] = np.ascontiguousarray(
                    dense.param("kernel").value, dtype=np.float64)
    return {params[key]: values[key] for key in params}


def _denses_after(graph: ir.Graph, tensor: str):
    for user in graph.consumers(tensor):
        if user.op == "dense":
            yield user
        elif user.op in ("activation", "dropout"):
            yield from _denses_after(graph, user.output)


def write_weights(path: str, weights: dict) -> None:
    from kerasdml.runtime.matrix_io import write_hdf5
    write_hdf5(path, weights)
