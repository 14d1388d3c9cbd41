"""Keras layout -> DML layout, for the backend to apply when it writes the weights.

DML holds a batch as an N x (values per sample) matrix. Images are channels-first and flattened
row-major, (C*H*W) per row, as DML's conv2d/pool builtins expect; Keras holds them (H, W, C).
Vectors (D,) and sequences (T, D) keep Keras' row-major order (time-major: T*D per row).

Parameter layouts produced here (all 2-D float64):
  dense             kernel (D, units)           bias (1, units)
  conv2d            kernel (F, C*kh*kw)         bias (F, 1)     from Keras (kh, kw, C, F)
  conv1d            kernel (F, C*1*k)           bias (F, 1)     from Keras (k, C, F): a conv2d with
                                                                Hf=1, Wf=k on (C, 1, T) images
  depthwise_conv2d  kernel (C*M, kh*kw)         bias (C*M, 1)   from Keras (kh, kw, C, M); row
                                                                c*M + m is output channel c*M + m,
                                                                as in Keras and dml_lib
  conv2d_transpose  kernel (C, F*kh*kw)         bias (F, 1)     from Keras (kh, kw, F, C), C = the
                                                                input channels
  batch_norm        gamma/beta/moving_* (C, 1) on images (per channel), (1, D) otherwise
  layer_norm        gamma/beta (1, D)
  embedding         embeddings (V, D)
  simple_rnn/lstm/gru kernel (D, G*U), recurrent_kernel (U, G*U), bias (1, G*U) or, for a GRU
                    with reset_after, (2, 3*U); gates stay in Keras' order (lstm i, f, c, o;
                    gru z, r, h), which dml_lib follows.

A Flatten of a channels-first tensor produces its values in (c, h, w) order, while Keras' Dense
after it was trained on (h, w, c) order: `dense_kernel_after_flatten` permutes that Dense's kernel
rows so no data is ever permuted. A flattened image used by anything but a Dense (through
elementwise ops) is not covered: the backend must permute that data (`channels_first_permutation`).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .. import ir

_PASS_THROUGH = ("activation", "dropout")  # elementwise ops that keep the order of values


def conv2d_kernel(kernel: np.ndarray) -> np.ndarray:
    """(kh, kw, C, F) -> (F, C*kh*kw): row f is filter f, flattened channels-first."""
    return _f64(np.transpose(kernel, (3, 2, 0, 1)).reshape(kernel.shape[3], -1))


def conv1d_kernel(kernel: np.ndarray) -> np.ndarray:
    """(k, C, F) -> (F, C*1*k), the kernel of the equivalent conv2d with Hf=1, Wf=k."""
    return _f64(np.transpose(kernel, (2, 1, 0)).reshape(kernel.shape[2], -1))


def depthwise_kernel(kernel: np.ndarray) -> np.ndarray:
    """(kh, kw, C, M) -> (C*M, kh*kw): row c*M + m is the filter of output channel c*M + m
    (conv2d_depthwise.dml's layout)."""
    kh, kw, c, m = kernel.shape
    return _f64(np.transpose(kernel, (2, 3, 0, 1)).reshape(c * m, kh * kw))


def conv2d_transpose_kernel(kernel: np.ndarray) -> np.ndarray:
    """(kh, kw, F, C) -> (C, F*kh*kw): row c spreads input channel c onto the F output channels."""
    return _f64(np.transpose(kernel, (3, 2, 0, 1)).reshape(kernel.shape[3], -1))


def channels_first_permutation(shape: tuple) -> np.ndarray:
    """Index p with x_channels_first = x_keras[..., p] for one flattened (..., C) sample."""
    index = np.arange(int(np.prod(shape))).reshape(shape)
    return np.moveaxis(index, -1, 0).reshape(-1)


def dense_kernel_after_flatten(kernel: np.ndarray, shape: tuple) -> np.ndarray:
    """The Dense kernel (prod(shape), U) for input flattened channels-first from a Keras tensor
    of per-sample `shape` (..., C): x_cf @ result == x_keras @ kernel."""
    return _f64(kernel[channels_first_permutation(shape)])


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
    value, op = param.value, node.op
    if param.name == "kernel":
        if op == "dense":
            shape = flattened.get(node.name)
            return _f64(value) if shape is None else dense_kernel_after_flatten(value, shape)
        converters = {"conv2d": conv2d_kernel, "conv1d": conv1d_kernel,
                      "depthwise_conv2d": depthwise_kernel,
                      "conv2d_transpose": conv2d_transpose_kernel}
        if op in converters:
            return converters[op](value)
    if value.ndim == 1:
        column = op in ("conv2d", "conv1d", "depthwise_conv2d", "conv2d_transpose") or (
            op == "batch_norm" and channels_first(graph, node.inputs[0]))
        return _f64(value.reshape(-1, 1) if column else value.reshape(1, -1))
    return _f64(value)


def _f64(value: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(value, dtype=np.float64)
