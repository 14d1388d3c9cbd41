"""Finding the per-channel scale-and-shift layers a prediction script folds into the weights of
the layer before them (a BatchNormalization after a convolution or a Dense: each op's definition
says, opdef.OpDef.folds_at_inference and output_channels).

The graph is not rewritten: the weights file keeps the Keras values (a caller may bind trained
ones), and the script computes the folded weights once, before its batch loop.
"""
from __future__ import annotations

from .. import ir
from ..opdef import definition


def folds(graph: ir.Graph) -> dict:
    """{folded node name: the node whose weights absorb it} for every node that scales and shifts
    its input's channels at inference, when that input is a layer's output read by nothing else
    and that layer's weights hold the channels (its definition's output_channels)."""
    readers: dict = {}
    for node in graph.nodes:
        for tensor in node.inputs:
            readers[tensor] = readers.get(tensor, 0) + 1
    found = {}
    for node in graph.nodes:
        if not definition(node.op).folds_at_inference(node.attrs):
            continue
        tensor = node.inputs[0]
        producer = graph.producer(tensor)
        if (producer.op != "input" and readers[tensor] == 1 and tensor not in graph.outputs
                and definition(producer.op).output_channels(producer.attrs) is not None):
            found[node.name] = producer.name
    return found
