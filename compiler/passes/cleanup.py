"""Removing nodes that do nothing at inference (dropout, the noise, activity-regularization and
augmentation layers, linear activations: each op's definition says), masks and other outputs
nobody reads, and pairs of nodes that undo each other (the regroupings between two
TimeDistributed layers)."""
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


def drop_unread_nodes(graph: ir.Graph) -> ir.Graph:
    """Nodes whose outputs nothing reads (an RNN's sequence when only its final state is used,
    Keras computing it for nothing): training would need their output's gradient, which no
    layer gives. Later nodes go first, so a chain that only they read goes too."""
    read = set(graph.outputs)
    kept = []
    for node in reversed(graph.nodes):
        if node.op == "input" or any(t in read for t in node.outputs):
            kept.append(node)
            read.update(node.inputs)
    return graph.with_nodes(reversed(kept))


def drop_inverse_pairs(graph: ir.Graph) -> ir.Graph:
    """A node that undoes the node it reads (its definition's `undoes` and `inverts`) gives back
    that node's input: its consumers read that instead, and the undone node goes too when
    nothing else reads it. A pair that returns a model input unchanged is kept."""
    alias: dict[str, str] = {}
    produced: dict[str, ir.Node] = {}
    nodes, undone = [], set()
    for node in graph.nodes:
        node = node.replace(inputs=tuple(alias.get(t, t) for t in node.inputs))
        source = produced.get(node.inputs[0]) if node.inputs else None
        if (source is not None and source.op == definition(node.op).undoes
                and definition(node.op).inverts(source.attrs, node.attrs)
                and not (source.inputs[0] in graph.inputs and node.output in graph.outputs)):
            alias[node.output] = source.inputs[0]
            undone.add(source.name)
            continue
        produced.update(dict.fromkeys(node.outputs, node))
        nodes.append(node)
    outputs = tuple(alias.get(t, t) for t in graph.outputs)
    read = {t for node in nodes for t in node.inputs} | set(outputs)
    return graph.with_nodes((n for n in nodes if n.name not in undone or n.output in read),
                            outputs=outputs)
