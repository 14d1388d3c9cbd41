"""Layers given another axis than the last one they act on: channels_first convolutions, pooling,
padding and cropping (data_format), and BatchNormalization, LayerNormalization and Softmax with
one axis that is not the last. The layer's own handler builds it on the last axis, between two
"move_axis" nodes (reordering.py) that move the axis to the end and back, so every op keeps its
one layout and its gradients.
"""
from __future__ import annotations

import dataclasses
import functools

from ..frontend.context import LayerContext
from .reordering import MoveAxis


def channels_first(handler):
    """The handler of a layer with data_format, taking channels_first as channels_last moved."""
    @functools.wraps(handler)
    def wrapped(ctx: LayerContext) -> list:
        if ctx.get("data_format", None) != "channels_first":
            return handler(ctx)
        return _around(ctx, handler, 0, {"data_format": "channels_last"})
    wrapped.__doc__ = f"{handler.__doc__.rstrip()} Also data_format='channels_first'."
    return wrapped


def any_axis(handler):
    """The handler of a layer with one `axis`, taking another axis than the last one moved."""
    @functools.wraps(handler)
    def wrapped(ctx: LayerContext) -> list:
        value = ctx.get("axis", -1)
        axis = value[0] if isinstance(value, list) and len(value) == 1 else value
        if not isinstance(axis, int) or axis in (0, -1) or axis == _last_axis(ctx):
            return handler(ctx)
        return _around(ctx, handler, axis - 1 if axis > 0 else axis, {"axis": -1})
    wrapped.__doc__ = f"{handler.__doc__.rstrip()} Any one axis."
    return wrapped


def _last_axis(ctx: LayerContext) -> int | None:
    """The last axis as Keras counts it (BatchNormalization(axis=3) on images), when the file
    records the input's shape; otherwise a positive last axis becomes a move_axis that the
    shapes resolve to a copy."""
    shapes = ctx.recorded_input_shapes()
    return len(shapes[0]) - 1 if shapes else None


def _around(ctx: LayerContext, handler, axis: int, config: dict) -> list:
    moved, inner = f"{ctx.name}/axis_last_input", f"{ctx.name}/axis_last"
    entry = dict(ctx.call.entry, config=dict(ctx.config, **config))
    call = dataclasses.replace(ctx.call, name=inner, inputs=(moved,) + ctx.call.inputs[1:],
                               entry=entry)
    return [ctx.node("move_axis", MoveAxis(axis, True), name=moved, inputs=ctx.call.inputs[:1],
                     outputs=(moved,)),
            *handler(LayerContext(call, ctx.source)),
            ctx.node("move_axis", MoveAxis(axis, False), inputs=(inner,))]
