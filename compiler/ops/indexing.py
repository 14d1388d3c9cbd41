"""keras.ops calls that pick and stack channels, as caffe-style preprocess_input writes them
(ResNet50's and VGG's flip RGB to BGR with x[..., 2], x[..., 1], x[..., 0] and ops.stack):

- GetItem x[..., k]: the last axis moved to the front (move_axis), the index kept by a crop of
  that axis, and the unit axis dropped (reshape);
- Stack(axis=-1): every input given a unit last axis (reshape), then concatenated on it.

The sizes come from the input shapes the file records.
"""
from __future__ import annotations

from ..frontend.context import LayerContext
from ..frontend.registry import handles
from .cropping import Crop
from .merge import Concatenate
from .reordering import MoveAxis
from .reshaping import Reshape


def _shapes(ctx: LayerContext) -> list:
    shapes = ctx.recorded_input_shapes()
    if shapes is None or any(None in shape[1:] for shape in shapes):
        ctx.reject("input shape", None, "recorded in the file, with known sizes")
    return [tuple(shape[1:]) for shape in shapes]


@handles("ops.GetItem")
def get_item(ctx: LayerContext) -> list:
    """keras.ops x[..., k]: one index of the last axis of a sequence or an image."""
    index = list(ctx.call.args)[1] if len(ctx.call.args) == 2 else None
    ellipsis = isinstance(index, list) and len(index) == 2 and isinstance(index[0], dict) and \
        index[0].get("class_name") == "__ellipsis__" and isinstance(index[1], int)
    (shape,) = _shapes(ctx)
    if not ellipsis or len(shape) not in (2, 3):
        ctx.reject("index", index, "[..., k] of a sequence or an image")
    size = shape[-1]
    k = index[1] % size
    front, picked = f"{ctx.name}/last_axis_first", f"{ctx.name}/picked"
    crop = ((k, size - 1 - k),) + ((0, 0),) * (len(shape) - 2)
    return [ctx.node("move_axis", MoveAxis(0, False), name=front, outputs=(front,)),
            ctx.node("crop", Crop(crop), name=picked, inputs=(front,), outputs=(picked,)),
            ctx.node("reshape", Reshape(shape[:-1]), inputs=(picked,))]


@handles("ops.Stack")
def stack(ctx: LayerContext) -> list:
    """keras.ops.stack([...], axis=-1): tensors of one shape stacked on a new last axis."""
    shapes = _shapes(ctx)
    axis = ctx.get("axis", 0)
    if axis not in (-1, len(shapes[0]) + 1) or len(set(shapes)) != 1:
        ctx.reject("axis", axis, "-1, over tensors of one shape")
    nodes = [ctx.node("reshape", Reshape((*shape, 1)), name=f"{ctx.name}/{i}",
                      inputs=(tensor,), outputs=(f"{ctx.name}/{i}",))
             for i, (shape, tensor) in enumerate(zip(shapes, ctx.call.inputs))]
    return nodes + [ctx.node("concatenate", Concatenate(-1),
                             inputs=tuple(n.output for n in nodes))]
