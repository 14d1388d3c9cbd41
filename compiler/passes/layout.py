"""Keras layout -> DML layout, for the backend to apply when it writes the weights.

DML holds a batch as an N x (values per sample) matrix. Images are channels-first and flattened
row-major, (C*H*W) per row, as DML's conv2d/pool builtins expect; Keras holds them (H, W, C).
Vectors (D,) and sequences (T, D) keep Keras' row-major order (time-major: T*D per row).

Each op declares its parameters' DML layouts (all 2-D float64) in its definition (`Weight.layout`
in `compiler/ops/`): kernels of convolutions become (F, C*kh*kw)-style matrices, vectors become
rows or, per channel of an image, columns.

A Flatten of a channels-first tensor produces its values in (c, h, w) order, while Keras' Dense
after it was trained on (h, w, c) order: `dense_kernel_after_flatten` permutes that Dense's kernel
rows so no data is ever permuted. A flattened image used by anything but a Dense (through
elementwise ops) is not covered: the backend must permute that data (`channels_first_permutation`).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .. import ir
from ..opdef import Site, definition, f64

_PASS_THROUGH = ("activation", "dropout")  # elementwise ops that keep the order of values


def channels_first_permutation(shape: tuple) -> np.ndarray:
    """Index p with x_channels_first = x_keras[..., p] for one flattened (..., C) sample."""
    index = np.arange(int(np.prod(shape))).reshape(shape)
    return np.moveaxis(index, -1, 0).reshape(-1)


def dense_kernel_after_flatten(kernel: np.ndarray, shape: tuple) -> np.ndarray:
    """The Dense kernel (prod(shape), U) for input flattened channels-first from a Keras tensor
    of per-sample `shape` (..., C): x_cf @ result == x_keras @ kernel."""
    return f64(kernel[channels_first_permutation(shape)])


def images_are_channels_first(graph: ir.Graph, tensor: str) -> bool:
    """The default rule: 3-D samples (H, W, C) are held channels-first in DML."""
    shape = graph.shape(tensor)
    return shape is not None and len(shape) == 3


def flatten_dense_pairs(graph: ir.Graph, channels_first: Callable = images_are_channels_first
                        ) -> dict:
    """{dense node name: per-sample shape flattened before it} for every Dense that reads a
    Flatten of a channels-first tensor, directly or through elementwise ops."""
    pairs = {}
    for node in graph.nodes:
        if node.op != "dense":
            continue
        source = graph.producer(node.inputs[0])
        while source.op in _PASS_THROUGH:
            source = graph.producer(source.inputs[0])
        if source.op == "flatten" and channels_first(graph, source.inputs[0]):
            pairs[node.name] = graph.shape(source.inputs[0])
    return pairs


def dml_parameters(graph: ir.Graph, channels_first: Callable = images_are_channels_first) -> dict:
    """{(node name, param name): 2-D float64 array in DML layout} for every parameter; the graph
    must have shapes (passes.prepare). `channels_first(graph, tensor)` says which tensors DML
    holds channels-first (default: images)."""
    flattened = flatten_dense_pairs(graph, channels_first)
    out = {}
    for node in graph.nodes:
        for param in node.params:
            out[(node.name, param.name)] = _convert(graph, node, param, flattened, channels_first)
    return out


def _convert(graph, node, param, flattened, channels_first) -> np.ndarray:
    site = Site(flattened.get(node.name),
                bool(node.inputs) and channels_first(graph, node.inputs[0]))
    return definition(node.op).weight(param.name).layout(param.value, site)
