"""Shape inference in Keras layout, with each op's rule from its definition (`compiler.ops`).
The rules also resolve what needs the input shape: "same"/"valid"/"causal" padding into explicit
amounts per side, negative axes into non-negative ones, and the -1 of a reshape.
"""
from __future__ import annotations

from .. import ir, ops  # noqa: F401  (ops registers the definitions)
from ..opdef import definition


def infer_shapes(graph: ir.Graph) -> ir.Graph:
    """Every node gets its output shape; attributes that depend on shapes are resolved."""
    nodes, shapes = [], {}
    for node in graph.nodes:
        if node.op != "input":
            ins = tuple(shapes[t] for t in node.inputs)
            attrs, shape = definition(node.op).shape(node, node.attrs, ins)
            node = node.replace(attrs=attrs, shapes=(shape,))
        shapes.update(zip(node.outputs, node.shapes))
        nodes.append(node)
    return graph.with_nodes(nodes)
