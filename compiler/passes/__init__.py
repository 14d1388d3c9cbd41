"""Passes over the IR graph, run between the frontend and the backend.

    prepare(graph)   drop_unread_masks -> drop_unread_nodes -> split_activations ->
                     infer_shapes ->
                     drop_inference_noops and merge_zero_padding (prediction only) ->
                     drop_inverse_pairs -> validate

`folds(graph)` finds the layers a prediction script folds into the weights of the layer before
them (a BatchNormalization after a convolution); the backend writes the folded weights.

`layout` holds the Keras -> DML conversions of parameters (kernels to DML's channels-first
layout, the Dense after a Flatten permuted); the backend applies them when it writes the weights.
"""
from __future__ import annotations

from .. import ir
from . import layout
from .activations import split_activations
from .cleanup import (drop_inference_noops, drop_inverse_pairs, drop_unread_masks,
                      drop_unread_nodes, is_inference_noop)
from .folding import folds
from .padding import merge_zero_padding
from .shapes import infer_shapes


def prepare(graph: ir.Graph, training: bool = False) -> ir.Graph:
    """The graph the backend takes: one activation per node, shapes known and padding explicit,
    and, when compiling for prediction, without dropout or linear activations."""
    graph = infer_shapes(split_activations(drop_unread_nodes(drop_unread_masks(graph))))
    if not training:
        graph = infer_shapes(merge_zero_padding(drop_inference_noops(graph)))
    return drop_inverse_pairs(graph).validate()


__all__ = ["prepare", "split_activations", "infer_shapes", "drop_inference_noops", "merge_zero_padding",
           "is_inference_noop", "folds", "layout"]
