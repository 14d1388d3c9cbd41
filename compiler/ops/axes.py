"""Layers given another axis than the last one they act on: channels_first convolutions, pooling,
padding and cropping (data_format), and BatchNormalization, LayerNormalization and Softmax with
one axis that is not the last. The layer's own handler builds it on the last axis, between two
"move_axis" nodes (reordering.py) that move the axis to the end and back, so every op keeps its
one layout and its gradients. A LayerNormalization over the input's last several axes runs on
them flattened into one, between two reshapes, its parameters flattened the same way.
"""
from __future__ import annotations

import dataclasses
import functools
import math

from ..frontend.context import LayerContext
from .reordering import MoveAxis
from .reshaping import Reshape


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
        if not isinstance(axis, int) or axis in (0, -1) or axis == last_axis(ctx):
            return handler(ctx)
        return _around(ctx, handler, axis - 1 if axis > 0 else axis, {"axis": -1})
    wrapped.__doc__ = f"{handler.__doc__.rstrip()} Any one axis."
    return wrapped


def last_axis(ctx: LayerContext) -> int | None:
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


def trailing_axes(handler):
    """The handler of a layer with an `axis` list, taking the input's last several axes as one:
    a reshape flattens them, the layer acts on the last axis with its parameters flattened
    alike (Keras' (H, W, C) gamma row-major is the flattened axis' order), a reshape restores
    the shape."""
    @functools.wraps(handler)
    def wrapped(ctx: LayerContext) -> list:
        value = ctx.get("axis", -1)
        if not isinstance(value, list) or len(value) < 2:
            return handler(ctx)
        shapes = ctx.recorded_input_shapes()
        sample = tuple(shapes[0][1:]) if shapes else ()
        rank = len(sample) + 1
        axes = sorted(a % rank for a in value if isinstance(a, int)) if shapes else []
        if len(axes) != len(value) or axes != list(range(rank - len(axes), rank)) or \
                0 in axes or None in sample:
            ctx.reject("axis", value, "one axis, or the last axes of an input of known shape")
        kept = sample[:len(sample) - len(axes)]
        flat, inner = f"{ctx.name}/flat_axes_input", f"{ctx.name}/flat_axes"
        entry = dict(ctx.call.entry, config=dict(ctx.config, axis=-1))
        call = dataclasses.replace(ctx.call, name=inner, inputs=(flat,) + ctx.call.inputs[1:],
                                   entry=entry)
        nodes = handler(LayerContext(call, ctx.source))
        nodes = [node.replace(params=tuple(dataclasses.replace(p, value=p.value.reshape(-1))
                                           for p in node.params)) for node in nodes]
        return [ctx.node("reshape", Reshape(kept + (math.prod(sample[len(kept):]),)),
                         name=flat, inputs=ctx.call.inputs[:1], outputs=(flat,)),
                *nodes, ctx.node("reshape", Reshape(sample), inputs=(inner,))]
    wrapped.__doc__ = f"{handler.__doc__.rstrip()} Or the last several axes."
    return wrapped
