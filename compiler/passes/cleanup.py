"""Removing nodes that do nothing at inference (dropout, the noise, activity-regularization and
augmentation layers, linear activations: each op's definition says), and masks nobody reads."""
from __future__ import annotations

from .. import ir
from ..opdef import definition


def is_inference_noop(node: ir.Node) -> bool:
    """As the op's definition says (opdef.OpDef.noop_at_inference)."""
    return definition(node.op).noop_at_inference(node.attrs)


def drop_inference_noops(graph: ir.Graph) -> ir.Graph:
    """Consumers of a no-op read its input instead. A no-op that returns a model input unchanged is
    kept, so the graph never has an output that is also an input."""
    alias: dict[str, str] = {}
    nodes = []
    for node in graph.nodes:
        node = node.replace(inputs=tuple(alias.get(t, t) for t in node.inputs))
        if is_inference_noop(node) and not (node.inputs[0] in graph.inputs and
                                            node.output in graph.outputs):
            alias[node.output] = node.inputs[0]
        else:
            nodes.append(node)
    return graph.with_nodes(nodes, outputs=tuple(alias.get(t, t) for t in graph.outputs))


def drop_unread_masks(graph: ir.Graph) -> ir.Graph:
    """Without the masks an Embedding(mask_zero=True) computes where no layer reads them: a
    functional model file records how Keras computed the mask, and its layers read that one."""
    read = {t for node in graph.nodes for t in node.inputs} | set(graph.outputs)
    return graph.with_nodes(n for n in graph.nodes if n.op != "step_mask" or n.output in read)
