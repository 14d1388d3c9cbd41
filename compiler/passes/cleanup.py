"""Removing nodes that do nothing at inference (dropout, the noise, activity-regularization and
augmentation layers, linear activations: each op's definition says), masks and other outputs
nobody reads, and pairs of nodes that undo each other (the regroupings between two
TimeDistributed layers).

A model output keeps its name (Keras' output name, which losses, metrics and the history are
keyed by) when the node writing it goes: the tensor that takes its place is renamed after it."""
from __future__ import annotations

from .. import ir
from ..opdef import definition


def is_inference_noop(node: ir.Node) -> bool:
    """As the op's definition says (opdef.OpDef.noop_at_inference)."""
    return definition(node.op).noop_at_inference(node.attrs)


def drop_inference_noops(graph: ir.Graph) -> ir.Graph:
    """Consumers of a no-op read its input instead; a model output a no-op writes is written by
    the node before it (its tensor renamed after the output). A no-op whose input is a model
    input or output, or already the tensor of another output, is kept, so no output is also an
    input and no two outputs are one tensor."""
    alias: dict[str, str] = {}
    renamed: dict[str, str] = {}  # a tensor -> the model output it becomes
    nodes = []
    for node in graph.nodes:
        node = node.replace(inputs=tuple(alias.get(t, t) for t in node.inputs))
        if not is_inference_noop(node) or not _may_replace(graph, node.output, node.inputs[0],
                                                           renamed):
            nodes.append(node)
        else:
            alias[node.output] = node.inputs[0]
    return graph.with_nodes(nodes).with_tensors_renamed(renamed)


def _may_replace(graph: ir.Graph, tensor: str, source: str, renamed: dict) -> bool:
    """Whether `source` may stand for `tensor` once the node between them goes: always unless
    `tensor` is a model output, which `source` then becomes (noted in `renamed`)."""
    if tensor not in graph.outputs:
        return True
    if source in graph.inputs or source in graph.outputs or source in renamed:
        return False
    renamed[source] = tensor
    return True


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
    nothing else reads it. A pair writing a model output is kept where _may_replace says."""
    alias: dict[str, str] = {}
    renamed: dict[str, str] = {}  # a tensor -> the model output it becomes
    produced: dict[str, ir.Node] = {}
    nodes, undone = [], set()
    for node in graph.nodes:
        node = node.replace(inputs=tuple(alias.get(t, t) for t in node.inputs))
        source = produced.get(node.inputs[0]) if node.inputs else None
        if (source is not None and source.op == definition(node.op).undoes
                and definition(node.op).inverts(source.attrs, node.attrs)
                and _may_replace(graph, node.output, source.inputs[0], renamed)):
            alias[node.output] = source.inputs[0]
            undone.add(source.name)
            continue
        produced.update(dict.fromkeys(node.outputs, node))
        nodes.append(node)
    read = {t for node in nodes for t in node.inputs} | set(graph.outputs)
    return graph.with_nodes(n for n in nodes if n.name not in undone or n.output in read
                            ).with_tensors_renamed(renamed)
