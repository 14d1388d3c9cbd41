"""Splitting fused activations (Dense(activation="relu")) into activation nodes of their own."""
from __future__ import annotations

from .. import ir


def split_activations(graph: ir.Graph) -> ir.Graph:
    """A node with a fused activation becomes two: the node, writing "<output>/preact", then an
    activation node "<name>/<kind>" writing the original output, so consumers are unchanged."""
    taken = {n.name for n in graph.nodes} | {t for n in graph.nodes for t in n.outputs}
    nodes = []
    for node in graph.nodes:
        if node.activation is None:
            nodes.append(node)
            continue
        preact = _fresh(f"{node.output}/preact", taken)
        nodes.append(node.replace(outputs=(preact,), activation=None))
        nodes.append(ir.Node(_fresh(f"{node.name}/{node.activation.kind}", taken), "activation",
                             node.activation, (preact,), node.outputs, node.shapes,
                             layer=node.layer, keras_class=node.keras_class))
    return graph.with_nodes(nodes)


def _fresh(name: str, taken: set) -> str:
    candidate, count = name, 1
    while candidate in taken:
        candidate, count = f"{name}_{count}", count + 1
    taken.add(candidate)
    return candidate
