"""Merging a ZeroPadding2D into the convolution that alone reads it (prediction only).

Keras models pad explicitly before strided or "valid" convolutions (ResNet's and MobileNet's
ZeroPadding2D); a convolution pads with zeros itself, so the two add up to one convolution
with the sum of the paddings: one copy of the images less, and when the sum is symmetric, no
zero_pad2d at all (the convolution's builtin padding). The padded images are the same, and so
are the sums over them. Training scripts keep the layers as Keras has them.
"""
from __future__ import annotations

import dataclasses

from .. import ir
from ..opdef import definition


def merge_zero_padding(graph: ir.Graph) -> ir.Graph:
    """The graph with every zero_pad2d read only by one op that takes zero padding (its
    definition's takes_zero_padding) folded into that op's padding."""
    readers: dict = {}
    for node in graph.nodes:
        for tensor in node.inputs:
            readers.setdefault(tensor, []).append(node)
    merged: dict = {}                  # zero_pad2d node name -> its input tensor and padding
    for node in graph.nodes:
        users = readers.get(node.output, [])
        if node.op == "zero_pad2d" and node.output not in graph.outputs and len(users) == 1 \
                and definition(users[0].op).takes_zero_padding:
            merged[node.output] = (node.name, node.inputs[0], node.attrs.padding)
    if not merged:
        return graph
    nodes = []
    dropped = {name for name, _, _ in merged.values()}
    for node in graph.nodes:
        if node.name in dropped:
            continue
        if node.inputs and node.inputs[0] in merged:
            _, source, extra = merged[node.inputs[0]]
            padding = _added(node.attrs.padding, extra)
            node = node.replace(inputs=(source,) + node.inputs[1:],
                                attrs=dataclasses.replace(node.attrs, padding=padding))
        nodes.append(node)
    return graph.with_nodes(nodes)


def _added(a: ir.Pad2D, b: ir.Pad2D) -> ir.Pad2D:
    return ir.Pad2D(a.top + b.top, a.bottom + b.bottom, a.left + b.left, a.right + b.right)
