"""A layer's activity_regularizer. For every output tensor of a layer that has one, Keras adds
regularizer(output) / batch size to the loss, which is what an ActivityRegularization layer
after it adds: the layer's outputs are renamed "<output>/unregularized" and that layer's node
writes each original output, so no handler needs to know, and consumers are unchanged."""
from __future__ import annotations

from ..ops.noise import ActivityRegularization
from .context import LayerContext


def regularize_outputs(ctx: LayerContext, nodes: list) -> list:
    """`nodes` (the handler's nodes for the call) with the layer's activity penalty, if any,
    after each of its outputs."""
    if _wraps_a_penalty({k: v for k, v in ctx.config.items() if k != "activity_regularizer"}):
        ctx.reject("activity_regularizer", "on a layer it wraps",
                   "None there (a wrapped layer's penalty would see the wrapper's rows)")
    penalty = dict(ctx.activity_regularizer())
    if not penalty:
        return nodes
    attrs = ActivityRegularization(penalty.get("l1", 0.0), penalty.get("l2", 0.0))
    outputs = [t for node in nodes for t in node.outputs if _output_of_call(ctx, t)]
    renamed = {t: f"{t}/unregularized" for t in outputs}

    def rename(tensors: tuple) -> tuple:
        return tuple(renamed.get(t, t) for t in tensors)
    nodes = [node.replace(inputs=rename(node.inputs), outputs=rename(node.outputs))
             for node in nodes]
    return nodes + [ctx.node("activity_regularization", attrs, name=f"{t}/activity_regularizer",
                             inputs=(renamed[t],), outputs=(t,)) for t in outputs]


def _output_of_call(ctx: LayerContext, tensor: str) -> bool:
    """The call's outputs are its name and "<name>#k" for the k-th of several."""
    return tensor == ctx.name or tensor.startswith(f"{ctx.name}#")


def _wraps_a_penalty(value) -> bool:
    """Whether a layer config inside `value` (TimeDistributed's or Bidirectional's layer, a
    wrapped model's layers) has an activity_regularizer."""
    if isinstance(value, list):
        return any(_wraps_a_penalty(item) for item in value)
    if not isinstance(value, dict):
        return False
    return value.get("activity_regularizer") is not None or \
        any(_wraps_a_penalty(item) for item in value.values())
